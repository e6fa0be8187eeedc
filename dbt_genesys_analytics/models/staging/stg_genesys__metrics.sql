with source as (
    {{ genesys_analytics.genesys_source('conversation_metrics', [
        ['conversationId', 'string'], ['participantId', 'string'], ['sessionId', 'string'],
        ['name', 'string'], ['emitDate', 'timestamp'], ['value', 'bigint'],
        ['conversationStart', 'timestamp']]) }}
)

select
    organization,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('participantId') }} as participant_id,
    {{ genesys_analytics.col('sessionId') }} as session_id,
    {{ genesys_analytics.col('name') }} as metric_name,
    {{ genesys_analytics.col('emitDate') }} as emit_date,
    {{ genesys_analytics.col('value') }} as metric_value,
    substr({{ genesys_analytics.col('name') }}, 1, 1) as metric_kind,
    {{ genesys_analytics.col('conversationStart') }} as conversation_start
from source
