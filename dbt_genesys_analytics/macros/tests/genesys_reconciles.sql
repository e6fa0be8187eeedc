{#- Fails on every audit row outside tolerance, on systematic drift over the whole window
    (total absolute difference above a fifth of the relative tolerance), and when the window
    holds no aggregates row although the conversation_aggregates table exists: a misconfigured
    `aggregates` setting must not pass silently. Severity: genesys_reconcile_severity. -#}
{% test genesys_reconciles(model) %}
{{ config(severity=var('genesys_reconcile_severity'), store_failures=true, tags=['genesys_reconciliation']) }}
{%- set src = source('genesys', 'conversation_aggregates') -%}
{%- set aggregates_loaded = execute and adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) is not none -%}
select
    'bucket' as failure,
    organization, bucket_start, queue_id, media_type, metric_name,
    d_count, a_count, d_sum, a_sum
from {{ model }}
where not within_tolerance

union all

select
    'drift over the window' as failure,
    organization, min(bucket_start), null, null, null,
    sum(abs(d_count - a_count)), sum(a_count), sum(abs(d_sum - a_sum)), sum(a_sum)
from {{ model }}
group by organization
having sum(abs(d_count - a_count)) > {{ var('genesys_reconcile_rel_tol') }} / 5.0 * sum(a_count)
    or sum(abs(d_sum - a_sum)) > {{ var('genesys_reconcile_rel_tol') }} / 5.0 * sum(a_sum)
{%- if aggregates_loaded %}

union all

select
    'no aggregates row in the reconciliation window: is the ' || '{{ var("genesys_reconcile_query_name") }}' || ' query in the tap''s aggregates setting?' as failure,
    null, null, null, null, null, null, null, null, null
from (select count(*) as n from {{ model }} where has_api_row) as counted
where counted.n = 0
{%- endif %}
{% endtest %}
