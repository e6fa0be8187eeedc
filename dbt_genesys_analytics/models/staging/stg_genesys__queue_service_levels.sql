{#- The queue's current service-level target per media type (the API says `call` for voice).
    A snapshot: history is judged by nOverSla, emitted against the target in force then. -#}
{% set media = [['call', 'voice'], ['callback', 'callback'], ['chat', 'chat'], ['email', 'email'], ['message', 'message']] %}
with queues as (
    select * from {{ ref('stg_genesys__queues') }}
)
{% for key, media_type in media %}
select
    organization,
    queue_id,
    '{{ media_type }}' as media_type,
    cast({{ genesys_analytics.json_text('media_settings', [key, 'serviceLevel', 'percentage']) }} as {{ dbt.type_numeric() }}) as sl_target_pct,
    cast({{ genesys_analytics.json_text('media_settings', [key, 'serviceLevel', 'durationMs']) }} as {{ dbt.type_bigint() }}) as sl_target_ms,
    cast({{ genesys_analytics.json_text('media_settings', [key, 'alertingTimeoutSeconds']) }} as {{ dbt.type_bigint() }}) as alerting_timeout_s
from queues
where {{ genesys_analytics.json_text('media_settings', [key, 'serviceLevel', 'durationMs']) }} is not null
{% if not loop.last %}union all{% endif %}
{% endfor %}
