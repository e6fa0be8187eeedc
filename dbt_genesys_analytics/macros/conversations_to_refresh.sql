{#- The conversations an incremental model rebuilds: every one it does not hold yet, every one
    that started within genesys_incremental_lookback_days of the newest it holds (the tap
    re-reads lookback_days, and nightly reprocessing and late wrap-ups change them), and every
    one it holds as still open (the tap fetches open conversations again until they end).
    delete+insert on the conversation then replaces all of its rows. -#}
{% macro conversations_to_refresh(existing) -%}
    select c.organization, c.conversation_id
    from {{ ref('stg_genesys__conversations') }} as c
    left join (
        select distinct organization, conversation_id, is_ended
        from {{ existing }}
    ) as e
        on e.organization = c.organization and e.conversation_id = c.conversation_id
    where e.conversation_id is null
        or not e.is_ended
        or c.conversation_start >= (
            select {{ dbt.dateadd('day', -1 * var('genesys_incremental_lookback_days'), 'max(conversation_start)') }}
            from {{ existing }}
        )
{%- endmacro %}

{#- The CTE ``conversations`` of an incremental model keyed by conversation: every staged one
    on a full build, only those ``conversations_to_refresh`` names on an incremental one. Ends
    with a comma: the model's own CTEs follow. -#}
{% macro conversations_to_build() -%}
{% if is_incremental() %}
refresh as (
    {{ genesys_analytics.conversations_to_refresh(this) }}
),
{% endif %}

conversations as (
    select c.*
    from {{ ref('stg_genesys__conversations') }} as c
    {% if is_incremental() %}
    inner join refresh as r
        on r.organization = c.organization and r.conversation_id = c.conversation_id
    {% endif %}
),
{%- endmacro %}
