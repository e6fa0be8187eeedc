with source as (
    {{ genesys_analytics.genesys_source('conversation_participants', [
        ['conversationId', 'string'], ['participantId', 'string'], ['purpose', 'string'],
        ['userId', 'string'], ['participantName', 'string'], ['teamId', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('participantId') }} as participant_id,
    {{ genesys_analytics.col('purpose') }} as purpose,
    {{ genesys_analytics.col('userId') }} as user_id,
    {{ genesys_analytics.col('participantName') }} as participant_name,
    {{ genesys_analytics.col('teamId') }} as team_id
from source
