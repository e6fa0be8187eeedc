with source as (
    {{ genesys_analytics.genesys_source('users', [
        ['id', 'string'], ['name', 'string'], ['state', 'string'], ['division', 'json'],
        ['department', 'string'], ['title', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('id') }} as user_id,
    {{ genesys_analytics.col('name') }} as user_name,
    {{ genesys_analytics.col('state') }} as user_state,
    {{ genesys_analytics.json_text(genesys_analytics.col('division'), ['id']) }} as division_id,
    {{ genesys_analytics.col('department') }} as department,
    {{ genesys_analytics.col('title') }} as title
from source
