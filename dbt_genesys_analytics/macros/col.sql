{#- A column of a loader's table. target-postgres keeps the tap's camelCase names (quoted),
    target-duckdb lower-cases them, and DuckDB matches quoted names case-insensitively, so a
    quoted camelCase name reads both. Snowflake folds unquoted names to upper case. -#}
{% macro col(name) -%}
  {{ return(adapter.dispatch('col', 'genesys_analytics')(name)) }}
{%- endmacro %}

{% macro default__col(name) -%}
  {{ adapter.quote(name) }}
{%- endmacro %}

{% macro snowflake__col(name) -%}
  {{ name | lower }}
{%- endmacro %}
