with source as (
    {{ genesys_analytics.genesys_source('user_routing_status', [
        ['userId', 'string'], ['startTime', 'timestamp'], ['endTime', 'timestamp'],
        ['routingStatus', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('userId') }} as user_id,
    {{ genesys_analytics.col('startTime') }} as start_time,
    {{ genesys_analytics.col('endTime') }} as end_time,
    {{ genesys_analytics.col('routingStatus') }} as routing_status
from source
