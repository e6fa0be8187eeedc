{#- Sums and counts of metric emissions, one pair per t-metric; n-metrics are summed (the API
    reports an n-metric's total as its count). Used inside a GROUP BY over int_genesys__metric_facts. -#}
{% macro metric_count(name) -%}
  cast(sum(case when metric_name = '{{ name }}' then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}
{% macro metric_sum(name) -%}
  cast(sum(case when metric_name = '{{ name }}' then metric_value else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro queue_metric_columns() -%}
    {{ genesys_analytics.metric_sum('nOffered') }} as offered,
    {{ genesys_analytics.metric_count('tAnswered') }} as answered,
    {{ genesys_analytics.metric_count('tAbandon') }} as abandoned,
    {{ genesys_analytics.metric_count('tShortAbandon') }} as short_abandoned,
    {{ genesys_analytics.metric_count('tFlowOut') }} as flowouts,
    {{ genesys_analytics.metric_sum('nTransferred') }} as transferred,
    {{ genesys_analytics.metric_sum('nOverSla') }} as over_sla,
    {%- for name in ['tAnswered', 'tAbandon', 'tShortAbandon', 'tFlowOut', 'tAcd', 'tAlert', 'tHandle', 'tTalk', 'tHeld', 'tAcw', 'tNotResponding'] %}
    {%- set col = 't_' ~ (name[1:] | replace('ShortAbandon', 'short_abandon') | replace('FlowOut', 'flowout') | replace('NotResponding', 'not_responding') | lower) %}
    {{ genesys_analytics.metric_sum(name) }} as {{ col }}_sum,
    {{ genesys_analytics.metric_count(name) }} as {{ col }}_count{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The service-level denominator per the org's Service Level Calculation options. -#}
{% macro sl_denominator() -%}
    answered
    {%- if var('genesys_sl_include_abandons') %}
      {%- if var('genesys_sl_include_short_abandons') %} + abandoned {%- else %} + (abandoned - short_abandoned) {%- endif %}
    {%- endif %}
    {%- if var('genesys_sl_include_flowouts') %} + flowouts {%- endif %}
{%- endmacro %}

{#- KPIs recomputed from summed numerators and denominators, never averaged across rows. -#}
{% macro queue_kpi_columns() -%}
    answered - over_sla as sl_numerator,
    {{ genesys_analytics.sl_denominator() }} as sl_denominator,
    {{ genesys_analytics.safe_ratio('t_handle_sum', 't_handle_count', divisor=1000) }} as aht_s,
    {{ genesys_analytics.safe_ratio('t_answered_sum', 't_answered_count', divisor=1000) }} as asa_s,
    {{ genesys_analytics.safe_ratio('answered - over_sla', genesys_analytics.sl_denominator(), 100) }} as service_level_pct,
    {{ genesys_analytics.safe_ratio('abandoned', 'offered') }} as abandon_rate,
    {{ genesys_analytics.safe_ratio('answered', 'offered') }} as answer_rate,
    {{ genesys_analytics.safe_ratio('transferred', 'answered') }} as transfer_rate,
    {{ genesys_analytics.safe_ratio('t_talk_sum', 't_talk_count', divisor=1000) }} as avg_talk_s,
    {{ genesys_analytics.safe_ratio('t_held_sum', 't_held_count', divisor=1000) }} as avg_hold_s,
    {{ genesys_analytics.safe_ratio('t_acw_sum', 't_acw_count', divisor=1000) }} as avg_acw_s
{%- endmacro %}

{% macro agent_metric_columns() -%}
    {{ genesys_analytics.metric_count('tAnswered') }} as answered,
    {{ genesys_analytics.metric_count('tHandle') }} as handled,
    {{ genesys_analytics.metric_sum('nTransferred') }} as transferred,
    {{ genesys_analytics.metric_count('tNotResponding') }} as not_responding,
    {{ genesys_analytics.metric_sum('tAnswered') }} as t_answered_sum,
    {{ genesys_analytics.metric_sum('tHandle') }} as t_handle_sum,
    {{ genesys_analytics.metric_sum('tTalk') }} as t_talk_sum,
    {{ genesys_analytics.metric_sum('tHeld') }} as t_held_sum,
    {{ genesys_analytics.metric_sum('tAcw') }} as t_acw_sum,
    {{ genesys_analytics.metric_sum('tAlert') }} as t_alert_sum,
    {{ genesys_analytics.metric_sum('tNotResponding') }} as t_not_responding_sum
{%- endmacro %}

{#- Status milliseconds pivoted to seconds. Occupancy (Genesys PS definition) is Interacting
    over on-queue time (Interacting + Communicating + Idle); utilisation is this package's own:
    (Interacting + Communicating) over logged-in time (presence other than Offline). -#}
{% macro status_columns() -%}
    {%- for status in ['INTERACTING', 'COMMUNICATING', 'IDLE', 'NOT_RESPONDING', 'OFF_QUEUE'] %}
    cast(coalesce(sum(case when status_type = 'routing' and status = '{{ status }}' then status_ms end), 0) as {{ dbt.type_float() }}) / 1000 as {{ status | lower }}_s,
    {%- endfor %}
    cast(coalesce(sum(case when status_type = 'presence' and status <> 'OFFLINE' then status_ms end), 0) as {{ dbt.type_float() }}) / 1000 as logged_in_s,
    cast(coalesce(sum(case when status_type = 'presence' and status = 'ON_QUEUE' then status_ms end), 0) as {{ dbt.type_float() }}) / 1000 as on_queue_s
{%- endmacro %}

{% macro agent_kpi_columns() -%}
    {{ genesys_analytics.safe_ratio('t_handle_sum', 'handled', divisor=1000) }} as aht_s,
    {{ genesys_analytics.safe_ratio('interacting_s', 'interacting_s + communicating_s + idle_s') }} as occupancy,
    {{ genesys_analytics.safe_ratio('interacting_s + communicating_s', 'logged_in_s') }} as utilisation
{%- endmacro %}
