with source as (
    {{ genesys_analytics.genesys_source('conversation_sessions', [
        ['conversationId', 'string'], ['participantId', 'string'], ['sessionId', 'string'],
        ['mediaType', 'string'], ['direction', 'string'], ['messageType', 'string'],
        ['provider', 'string'], ['usedRouting', 'string'], ['selectedAgentId', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('participantId') }} as participant_id,
    {{ genesys_analytics.col('sessionId') }} as session_id,
    {{ genesys_analytics.col('mediaType') }} as media_type,
    {{ genesys_analytics.col('direction') }} as direction,
    {{ genesys_analytics.col('messageType') }} as message_type,
    {{ genesys_analytics.col('provider') }} as provider,
    {{ genesys_analytics.col('usedRouting') }} as used_routing,
    {{ genesys_analytics.col('selectedAgentId') }} as selected_agent_id
from source
