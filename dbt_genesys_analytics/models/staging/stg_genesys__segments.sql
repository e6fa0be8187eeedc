with source as (
    {{ genesys_analytics.genesys_source('conversation_segments', [
        ['conversationId', 'string'], ['participantId', 'string'], ['sessionId', 'string'],
        ['segmentStart', 'timestamp'], ['segmentEnd', 'timestamp'], ['segmentType', 'string'],
        ['queueId', 'string'], ['groupId', 'string'], ['wrapUpCode', 'string'],
        ['disconnectType', 'string'], ['errorCode', 'string'], ['conference', 'boolean']]) }}
)

select
    organization,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('participantId') }} as participant_id,
    {{ genesys_analytics.col('sessionId') }} as session_id,
    {{ genesys_analytics.col('segmentStart') }} as segment_start,
    {{ genesys_analytics.col('segmentEnd') }} as segment_end,
    {{ genesys_analytics.col('segmentType') }} as segment_type,
    {{ genesys_analytics.ms_between(genesys_analytics.col('segmentStart'), genesys_analytics.col('segmentEnd')) }} as segment_duration_ms,
    {{ genesys_analytics.col('queueId') }} as queue_id,
    {{ genesys_analytics.col('groupId') }} as group_id,
    {{ genesys_analytics.col('wrapUpCode') }} as wrap_up_code,
    {{ genesys_analytics.col('disconnectType') }} as disconnect_type,
    {{ genesys_analytics.col('errorCode') }} as error_code,
    {{ genesys_analytics.col('conference') }} as conference
from source
