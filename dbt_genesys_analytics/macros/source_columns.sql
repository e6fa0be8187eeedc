{#- Select `columns` (a list of [name, type]) from a tap table, each aliased to its own name.
    A table the loader never created (a stream that is not selected) reads as an empty
    relation of the same columns, so `dbt build` works on any selection of streams. The
    organization column (multi-org stream maps) is added as `organization` when configured,
    else a constant so that every key has the same shape. -#}
{% macro genesys_source(table, columns) -%}
  {%- set src = source('genesys', table) -%}
  {%- set relation = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) if execute else none -%}
  {%- set org = var('genesys_organization_column') -%}
  {%- if relation is not none %}
  select
    {% if org -%} cast({{ genesys_analytics.col(org) }} as {{ dbt.type_string() }}) {%- else -%} cast('default' as {{ dbt.type_string() }}) {%- endif %} as organization,
    {%- for name, type in columns %}
    cast({{ genesys_analytics.col(name) }} as {{ genesys_analytics.type_of(type) }}) as {{ genesys_analytics.col(name) }}{{ "," if not loop.last }}
    {%- endfor %}
  from {{ relation }}
  {%- else %}
  select
    cast(null as {{ dbt.type_string() }}) as organization,
    {%- for name, type in columns %}
    cast(null as {{ genesys_analytics.type_of(type) }}) as {{ genesys_analytics.col(name) }}{{ "," if not loop.last }}
    {%- endfor %}
  where 1 = 0
  {%- endif %}
{%- endmacro %}

{% macro type_of(kind) -%}
  {%- if kind == 'string' -%} {{ dbt.type_string() }}
  {%- elif kind == 'timestamp' -%} {{ dbt.type_timestamp() }}
  {%- elif kind == 'bigint' -%} {{ dbt.type_bigint() }}
  {%- elif kind == 'numeric' -%} {{ dbt.type_numeric() }}
  {%- elif kind == 'boolean' -%} {{ dbt.type_boolean() }}
  {%- elif kind == 'json' -%} {{ genesys_analytics.type_json() }}
  {%- else -%} {{ kind }}
  {%- endif -%}
{%- endmacro %}

{% macro type_json() -%}
  {{ return(adapter.dispatch('type_json', 'genesys_analytics')()) }}
{%- endmacro %}
{% macro default__type_json() -%} json {%- endmacro %}
{% macro postgres__type_json() -%} jsonb {%- endmacro %}
{% macro snowflake__type_json() -%} variant {%- endmacro %}
