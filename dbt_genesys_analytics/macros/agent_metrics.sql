{#- An agent mart at one time grain: metric facts and routing-status time per agent, joined on
    (organization, grain, user_id). The interval and daily marts differ only in the grain column
    and the status model that cuts status time at that grain. -#}
{% macro agent_metrics(grain, status_model) -%}
with metrics as (
    select
        organization,
        {{ grain }},
        user_id,
        {{ genesys_analytics.agent_metric_columns() }}
    from {{ ref('int_genesys__metric_facts') }}
    where user_id is not null
    group by organization, {{ grain }}, user_id
),

statuses as (
    select
        organization,
        {{ grain }},
        user_id,
        {{ genesys_analytics.status_columns() }}
    from {{ ref(status_model) }}
    group by organization, {{ grain }}, user_id
),

joined as (
    select
        coalesce(m.organization, s.organization) as organization,
        coalesce(m.{{ grain }}, s.{{ grain }}) as {{ grain }},
        coalesce(m.user_id, s.user_id) as user_id,
        {%- for c in ['answered', 'handled', 'transferred', 'not_responding', 't_answered_sum', 't_handle_sum', 't_talk_sum', 't_held_sum', 't_acw_sum', 't_alert_sum', 't_not_responding_sum'] %}
        coalesce(m.{{ c }}, 0) as {{ c }},
        {%- endfor %}
        {%- for c in ['interacting_s', 'communicating_s', 'idle_s', 'not_responding_s', 'off_queue_s', 'logged_in_s', 'on_queue_s'] %}
        coalesce(s.{{ c }}, 0) as {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from metrics as m
    full outer join statuses as s
        on s.organization = m.organization and s.{{ grain }} = m.{{ grain }}
        and s.user_id = m.user_id
)

select
    j.*,
    {{ genesys_analytics.agent_kpi_columns() }},
    u.user_name
from joined as j
left join {{ ref('stg_genesys__users') }} as u
    on u.organization = j.organization and u.user_id = j.user_id
{%- endmacro %}
