{#- Status time cut at local midnights of genesys_reporting_time_zone (never summed from UTC
    half-hours: a +05:45 zone does not align with them). -#}
with statuses as (
    select
        organization, user_id, status_type, status,
        {{ genesys_analytics.to_local('start_time') }} as start_local,
        {{ genesys_analytics.to_local('end_time') }} as end_local
    from {{ ref('int_genesys__user_statuses') }}
),

bounds as (
    select min(start_local) as lo, max(end_local) as hi from statuses
),

spine as (
    select {{ genesys_analytics.timestamp_series('cast(cast(lo as date) as ' ~ dbt.type_timestamp() ~ ')', 'hi', '1 day') }} as day_start
    from bounds
),

days as (
    select day_start, {{ dbt.dateadd('day', 1, 'day_start') }} as day_end from spine
)

select
    s.organization,
    s.user_id,
    s.status_type,
    s.status,
    cast(d.day_start as date) as report_date_local,
    sum({{ genesys_analytics.ms_between(
        'case when s.start_local > d.day_start then s.start_local else d.day_start end',
        'case when s.end_local < d.day_end then s.end_local else d.day_end end') }}) as status_ms
from statuses as s
inner join days as d
    on d.day_start < s.end_local and d.day_end > s.start_local
group by 1, 2, 3, 4, 5
