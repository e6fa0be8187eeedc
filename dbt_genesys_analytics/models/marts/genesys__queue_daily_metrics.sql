{#- Queue performance per local day of genesys_reporting_time_zone, grouped from the emissions'
    local dates (not rolled up from UTC intervals, which a +05:45 zone does not align with). -#}
with facts as (
    select * from {{ ref('int_genesys__metric_facts') }}
    where queue_id is not null
),

summed as (
    select
        organization,
        report_date_local,
        queue_id,
        media_type,
        {{ genesys_analytics.queue_metric_columns() }}
    from facts
    group by organization, report_date_local, queue_id, media_type
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
