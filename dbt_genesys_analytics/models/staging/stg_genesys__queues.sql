with source as (
    {{ genesys_analytics.genesys_source('queues', [
        ['id', 'string'], ['name', 'string'], ['division', 'json'], ['memberCount', 'bigint'],
        ['mediaSettings', 'json']]) }}
)

select
    organization,
    {{ genesys_analytics.col('id') }} as queue_id,
    {{ genesys_analytics.col('name') }} as queue_name,
    {{ genesys_analytics.json_text(genesys_analytics.col('division'), ['id']) }} as division_id,
    {{ genesys_analytics.col('memberCount') }} as member_count,
    {{ genesys_analytics.col('mediaSettings') }} as media_settings
from source
