with source as (
    {{ genesys_analytics.genesys_source('user_presence', [
        ['userId', 'string'], ['startTime', 'timestamp'], ['endTime', 'timestamp'],
        ['systemPresence', 'string'], ['organizationPresenceId', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('userId') }} as user_id,
    {{ genesys_analytics.col('startTime') }} as start_time,
    {{ genesys_analytics.col('endTime') }} as end_time,
    {{ genesys_analytics.col('systemPresence') }} as system_presence,
    {{ genesys_analytics.col('organizationPresenceId') }} as organization_presence_id
from source
