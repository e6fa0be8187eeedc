{#- The queue interval mart beside Genesys's own aggregates (the conversation_aggregates rows of
    the genesys_reconcile_query_name query: groupBy queueId and mediaType, PT30M, UTC), bucket by
    bucket (genesys_reconcile_grain: interval or day), queue, media type and metric. Only buckets
    that neither side can still change are compared: from the first conversation plus a warm-up,
    to the earliest of the aggregates' end, the first still-open conversation and the last
    extracted conversation start. -#}
{% set metrics = [
    ['nOffered', 'offered', none],
    ['tAnswered', 't_answered_count', 't_answered_sum'],
    ['tAbandon', 't_abandon_count', 't_abandon_sum'],
    ['tShortAbandon', 't_short_abandon_count', 't_short_abandon_sum'],
    ['tFlowOut', 't_flowout_count', 't_flowout_sum'],
    ['tAcd', 't_acd_count', 't_acd_sum'],
    ['tAlert', 't_alert_count', 't_alert_sum'],
    ['tHandle', 't_handle_count', 't_handle_sum'],
    ['tTalk', 't_talk_count', 't_talk_sum'],
    ['tHeld', 't_held_count', 't_held_sum'],
    ['tAcw', 't_acw_count', 't_acw_sum'],
    ['nTransferred', 'transferred', none],
    ['nOverSla', 'over_sla', none],
] %}
{% set day = var('genesys_reconcile_grain') == 'day' %}
{% set media_types = var('genesys_reconcile_media_types') %}

{% set bucket = ('cast(cast(interval_start as date) as ' ~ dbt.type_timestamp() ~ ')') if day else 'interval_start' %}

with mart as (
    select * from {{ ref('genesys__queue_interval_metrics') }}
    where media_type in ({% for m in media_types %}'{{ m }}'{{ "," if not loop.last }}{% endfor %})
),

details as (
    {%- for name, count_col, sum_col in metrics %}
    select organization, {{ bucket }} as bucket_start, queue_id, media_type,
        '{{ name }}' as metric_name,
        sum({{ count_col }}) as d_count,
        {% if sum_col %}sum({{ sum_col }}){% else %}cast(null as {{ dbt.type_numeric() }}){% endif %} as d_sum
    from mart
    group by 1, 2, 3, 4
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

api_rows as (
    select * from {{ ref('stg_genesys__conversation_aggregates') }}
    where query_name = '{{ var('genesys_reconcile_query_name') }}'
),

api as (
    select organization, {{ bucket }} as bucket_start,
        coalesce(queue_id, '<none>') as queue_id, media_type, metric_name,
        sum(stat_count) as a_count,
        sum(stat_sum) as a_sum
    from api_rows
    where media_type in ({% for m in media_types %}'{{ m }}'{{ "," if not loop.last }}{% endfor %})
        and metric_name in ({% for m in metrics %}'{{ m[0] }}'{{ "," if not loop.last }}{% endfor %})
    group by 1, 2, 3, 4, 5
),

conversations as (
    select * from {{ ref('stg_genesys__conversations') }}
),

window_bounds as (
    select
        c.organization,
        {{ dbt.dateadd('hour', var('genesys_reconcile_warmup_hours'), 'min(c.conversation_start)') }} as window_start,
        least(
            coalesce(max(a.api_end), min(c.conversation_start)),
            coalesce(min(case when not c.is_ended then c.conversation_start end), max(c.conversation_start)),
            max(c.conversation_start)
        ) as window_end
    from conversations as c
    left join (
        select organization, max(interval_end) as api_end from api_rows group by organization
    ) as a on a.organization = c.organization
    group by c.organization
),

compared as (
    select
        coalesce(d.organization, a.organization) as organization,
        coalesce(d.bucket_start, a.bucket_start) as bucket_start,
        coalesce(d.queue_id, a.queue_id) as queue_id,
        coalesce(d.media_type, a.media_type) as media_type,
        coalesce(d.metric_name, a.metric_name) as metric_name,
        coalesce(d.d_count, 0) as d_count,
        coalesce(d.d_sum, 0) as d_sum,
        coalesce(a.a_count, 0) as a_count,
        coalesce(a.a_sum, 0) as a_sum,
        a.metric_name is not null as has_api_row
    from details as d
    full outer join api as a
        on a.organization = d.organization and a.bucket_start = d.bucket_start
        and a.queue_id = d.queue_id and a.media_type = d.media_type
        and a.metric_name = d.metric_name
),

windowed as (
    select
        c.*,
        {% if day %}{{ dbt.dateadd('day', 1, 'c.bucket_start') }}{% else %}{{ dbt.dateadd('minute', var('genesys_interval_minutes'), 'c.bucket_start') }}{% endif %} as bucket_end,
        w.window_start,
        w.window_end
    from compared as c
    inner join window_bounds as w on w.organization = c.organization
)

select
    organization,
    bucket_start,
    bucket_end,
    queue_id,
    media_type,
    metric_name,
    d_count,
    a_count,
    d_sum,
    a_sum,
    d_count - a_count as count_diff,
    d_sum - a_sum as sum_diff,
    has_api_row,
    abs(d_count - a_count) <= greatest({{ var('genesys_reconcile_abs_tol_count') }}, {{ var('genesys_reconcile_rel_tol') }} * a_count) as count_ok,
    abs(d_sum - a_sum) <= greatest({{ var('genesys_reconcile_abs_tol_ms') }}, {{ var('genesys_reconcile_rel_tol') }} * a_sum) as sum_ok,
    abs(d_count - a_count) <= greatest({{ var('genesys_reconcile_abs_tol_count') }}, {{ var('genesys_reconcile_rel_tol') }} * a_count)
        and abs(d_sum - a_sum) <= greatest({{ var('genesys_reconcile_abs_tol_ms') }}, {{ var('genesys_reconcile_rel_tol') }} * a_sum) as within_tolerance,
    window_start,
    window_end
from windowed
where bucket_start >= window_start and bucket_end <= window_end
