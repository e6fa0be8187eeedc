with source as (
    {{ genesys_analytics.genesys_source('conversation_aggregates', [
        ['query_name', 'string'], ['group_key', 'string'], ['interval_start', 'timestamp'],
        ['interval_end', 'timestamp'], ['metric', 'string'], ['qualifier', 'string'],
        ['group', 'json'], ['count', 'numeric'], ['sum', 'numeric'], ['min', 'numeric'],
        ['max', 'numeric'], ['numerator', 'numeric'], ['denominator', 'numeric'],
        ['ratio', 'numeric'], ['target', 'numeric']]) }}
)

select
    organization,
    {{ genesys_analytics.col('query_name') }} as query_name,
    {{ genesys_analytics.col('group_key') }} as group_key,
    {{ genesys_analytics.col('interval_start') }} as interval_start,
    {{ genesys_analytics.col('interval_end') }} as interval_end,
    {{ genesys_analytics.col('metric') }} as metric_name,
    {{ genesys_analytics.col('qualifier') }} as qualifier,
    {{ genesys_analytics.json_text(genesys_analytics.col('group'), ['queueId']) }} as queue_id,
    {{ genesys_analytics.json_text(genesys_analytics.col('group'), ['userId']) }} as user_id,
    {{ genesys_analytics.json_text(genesys_analytics.col('group'), ['mediaType']) }} as media_type,
    {{ genesys_analytics.json_text(genesys_analytics.col('group'), ['direction']) }} as direction,
    {{ genesys_analytics.col('count') }} as stat_count,
    {{ genesys_analytics.col('sum') }} as stat_sum,
    {{ genesys_analytics.col('min') }} as stat_min,
    {{ genesys_analytics.col('max') }} as stat_max,
    {{ genesys_analytics.col('numerator') }} as stat_numerator,
    {{ genesys_analytics.col('denominator') }} as stat_denominator,
    {{ genesys_analytics.col('ratio') }} as stat_ratio,
    {{ genesys_analytics.col('target') }} as stat_target
from source
