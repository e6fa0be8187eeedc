with source as (
    {{ genesys_analytics.genesys_source('conversation_details', [
        ['conversationId', 'string'], ['conversationStart', 'timestamp'],
        ['conversationEnd', 'timestamp'], ['originatingDirection', 'string'],
        ['conversationInitiator', 'string'], ['externalTag', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('conversationStart') }} as conversation_start,
    {{ genesys_analytics.col('conversationEnd') }} as conversation_end,
    {{ genesys_analytics.col('conversationEnd') }} is not null as is_ended,
    {{ genesys_analytics.col('originatingDirection') }} as originating_direction,
    {{ genesys_analytics.col('conversationInitiator') }} as conversation_initiator,
    {{ genesys_analytics.col('externalTag') }} as external_tag
from source
