{#- The text at `path` (a list of keys) inside a JSON column. -#}
{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text', 'genesys_analytics')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
  json_extract_string({{ column }}, '$.{{ path | join(".") }}')
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
  ({{ column }} #>> '{ {{- path | join(",") -}} }')
{%- endmacro %}

{% macro snowflake__json_text(column, path) -%}
  {{ column }}:{{ path | join(":") }}::string
{%- endmacro %}
