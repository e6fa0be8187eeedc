{{ config(tags=['genesys_integrity'], enabled=var('genesys_reporting_time_zone') == 'UTC') }}
{#- In UTC the daily mart equals the sum of the 30-minute mart: both group the same emissions.
    (In any other zone they must not be compared: local days do not align with UTC intervals.) -#}
{% set columns = ['offered', 'answered', 'abandoned', 'short_abandoned', 'flowouts', 'transferred', 'over_sla', 't_answered_sum', 't_handle_sum', 't_handle_count', 't_talk_sum', 't_held_sum', 't_acw_sum'] %}
with rolled as (
    select organization, cast(interval_start as date) as report_date_local, queue_id, media_type,
        {%- for c in columns %}
        sum({{ c }}) as {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('genesys__queue_interval_metrics') }}
    group by 1, 2, 3, 4
),

daily as (
    select organization, report_date_local, queue_id, media_type,
        {%- for c in columns %}
        {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('genesys__queue_daily_metrics') }}
),

differences as (
    (select * from rolled except select * from daily)
    union all
    (select * from daily except select * from rolled)
)

select * from differences
