{#- Status time cut at interval boundaries (UTC, genesys_interval_minutes): one row per user,
    status type, status and interval, with the milliseconds spent in it. -#}
{% set minutes = var('genesys_interval_minutes') %}
with statuses as (
    select * from {{ ref('int_genesys__user_statuses') }}
),

bounds as (
    select min(start_time) as lo, max(end_time) as hi from statuses
),

spine as (
    select {{ genesys_analytics.timestamp_series(genesys_analytics.time_bucket('lo'), 'hi', minutes ~ ' minutes') }} as bucket_start
    from bounds
),

buckets as (
    select bucket_start, {{ dbt.dateadd('minute', minutes, 'bucket_start') }} as bucket_end
    from spine
)

select
    s.organization,
    s.user_id,
    s.status_type,
    s.status,
    b.bucket_start as interval_start,
    sum({{ genesys_analytics.ms_between(
        'case when s.start_time > b.bucket_start then s.start_time else b.bucket_start end',
        'case when s.end_time < b.bucket_end then s.end_time else b.bucket_end end') }}) as status_ms
from statuses as s
inner join buckets as b
    on b.bucket_start < s.end_time and b.bucket_end > s.start_time
group by 1, 2, 3, 4, 5
