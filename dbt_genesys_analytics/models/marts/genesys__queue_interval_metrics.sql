{#- Queue performance per UTC interval (genesys_interval_minutes, 30 by default) and media type,
    as the Queue Performance views show it: every metric in the interval of its emitDate, under
    the queue of the session that emitted it. -#}
with facts as (
    select * from {{ ref('int_genesys__metric_facts') }}
    where queue_id is not null
),

summed as (
    select
        organization,
        interval_start,
        {{ dbt.dateadd('minute', var('genesys_interval_minutes'), 'interval_start') }} as interval_end,
        queue_id,
        media_type,
        {{ genesys_analytics.queue_metric_columns() }}
    from facts
    group by organization, interval_start, queue_id, media_type
)

select
    s.*,
    {{ genesys_analytics.queue_kpi_columns() }},
    sl.sl_target_pct,
    sl.sl_target_ms,
    q.queue_name,
    q.division_id
from summed as s
left join {{ ref('stg_genesys__queue_service_levels') }} as sl
    on sl.organization = s.organization and sl.queue_id = s.queue_id and sl.media_type = s.media_type
left join {{ ref('stg_genesys__queues') }} as q
    on q.organization = s.organization and q.queue_id = s.queue_id
