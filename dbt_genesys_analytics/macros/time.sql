{#- The start of the `minutes`-long bucket holding `ts` (UTC), aligned on UTC midnight. -#}
{% macro time_bucket(ts, minutes=none) -%}
  {%- set minutes = minutes or var('genesys_interval_minutes') -%}
  {{ return(adapter.dispatch('time_bucket', 'genesys_analytics')(ts, minutes)) }}
{%- endmacro %}

{% macro default__time_bucket(ts, minutes) -%}
  time_bucket(interval '{{ minutes }} minutes', {{ ts }}, timestamp '2000-01-03 00:00:00')
{%- endmacro %}

{% macro postgres__time_bucket(ts, minutes) -%}
  date_bin(interval '{{ minutes }} minutes', {{ ts }}, timestamp '2000-01-03 00:00:00')
{%- endmacro %}

{% macro snowflake__time_bucket(ts, minutes) -%}
  time_slice({{ ts }}, {{ minutes }}, 'MINUTE')
{%- endmacro %}

{#- A UTC wall-clock timestamp (no zone) as the wall clock of `tz`. -#}
{% macro to_local(ts, tz=none) -%}
  {%- set tz = tz or var('genesys_reporting_time_zone') -%}
  {{ return(adapter.dispatch('to_local', 'genesys_analytics')(ts, tz)) }}
{%- endmacro %}

{% macro default__to_local(ts, tz) -%}
  cast((({{ ts }}) at time zone 'UTC') at time zone '{{ tz }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro snowflake__to_local(ts, tz) -%}
  convert_timezone('UTC', '{{ tz }}', {{ ts }})
{%- endmacro %}

{#- Milliseconds from `a` to `b`. -#}
{% macro ms_between(a, b) -%}
  {{ return(adapter.dispatch('ms_between', 'genesys_analytics')(a, b)) }}
{%- endmacro %}

{% macro default__ms_between(a, b) -%}
  date_diff('millisecond', {{ a }}, {{ b }})
{%- endmacro %}

{% macro postgres__ms_between(a, b) -%}
  cast(round(extract(epoch from ({{ b }}) - ({{ a }})) * 1000) as bigint)
{%- endmacro %}

{% macro snowflake__ms_between(a, b) -%}
  datediff(millisecond, {{ a }}, {{ b }})
{%- endmacro %}

{#- One row per bucket start from `lo` to `hi` (timestamps), `step` an interval literal. -#}
{% macro timestamp_series(lo, hi, step) -%}
  {{ return(adapter.dispatch('timestamp_series', 'genesys_analytics')(lo, hi, step)) }}
{%- endmacro %}

{% macro default__timestamp_series(lo, hi, step) -%}
  unnest(generate_series({{ lo }}, {{ hi }}, interval '{{ step }}'))
{%- endmacro %}

{% macro postgres__timestamp_series(lo, hi, step) -%}
  generate_series({{ lo }}, {{ hi }}, interval '{{ step }}')
{%- endmacro %}

{#- A ratio that never truncates (Postgres integer division) and is null on a zero base, as a
    float: `scale` multiplies the numerator, `divisor` divides the result (ms to seconds). -#}
{% macro safe_ratio(num, den, scale=1, divisor=1) -%}
  cast({{ num }} as {{ dbt.type_float() }}) * {{ scale }} / nullif({{ den }}, 0) / {{ divisor }}
{%- endmacro %}
