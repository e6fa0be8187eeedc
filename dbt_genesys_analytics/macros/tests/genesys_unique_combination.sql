{#- The combination of `columns` is unique (nulls compare equal), without dbt_utils. -#}
{% test genesys_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every row satisfies `expression`. -#}
{% test genesys_expression_is_true(model, expression, where_sql=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_sql %} and ({{ where_sql }}) {%- endif %}
{% endtest %}
