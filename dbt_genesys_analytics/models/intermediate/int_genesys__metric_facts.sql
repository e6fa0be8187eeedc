{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['organization', 'conversation_id'],
    on_schema_change='append_new_columns'
) }}

{#- One row per metric emission, attributed to the queue of the session that emitted it (the
    latest queue segment of that session begun by the emission, else the session's first queue)
    and bucketed by its emitDate. Every KPI is a sum or count over these rows, as Genesys's own
    views and aggregates are. -#}
with
{{ genesys_analytics.conversations_to_build() }}

metrics as (
    select m.*
    from {{ ref('stg_genesys__metrics') }} as m
    inner join conversations as c
        on c.organization = m.organization and c.conversation_id = m.conversation_id
),

queue_segments as (
    select organization, conversation_id, participant_id, session_id, segment_start, queue_id
    from {{ ref('stg_genesys__segments') }}
    where queue_id is not null
),

attributed as (
    select
        m.organization,
        m.conversation_id,
        m.participant_id,
        m.session_id,
        m.metric_name,
        m.emit_date,
        m.metric_value,
        qs.queue_id as segment_queue_id,
        row_number() over (
            partition by m.organization, m.conversation_id, m.participant_id, m.session_id,
                m.metric_name, m.emit_date
            order by qs.segment_start desc
        ) as rn
    from metrics as m
    left join queue_segments as qs
        on qs.organization = m.organization and qs.conversation_id = m.conversation_id
        and qs.participant_id = m.participant_id and qs.session_id = m.session_id
        and qs.segment_start <= m.emit_date
)

select
    a.organization,
    a.conversation_id,
    a.participant_id,
    a.session_id,
    a.metric_name,
    a.emit_date,
    a.metric_value,
    substr(a.metric_name, 1, 1) as metric_kind,
    coalesce(a.segment_queue_id, sc.session_queue_id) as queue_id,
    sc.user_id,
    sc.purpose,
    sc.media_type,
    sc.direction,
    sc.wrap_up_code,
    c.conversation_start,
    c.is_ended,
    {{ genesys_analytics.time_bucket('a.emit_date') }} as interval_start,
    {{ genesys_analytics.to_local('a.emit_date') }} as emit_date_local,
    cast({{ genesys_analytics.to_local('a.emit_date') }} as date) as report_date_local
from attributed as a
inner join conversations as c
    on c.organization = a.organization and c.conversation_id = a.conversation_id
left join {{ ref('int_genesys__session_context') }} as sc
    on sc.organization = a.organization and sc.conversation_id = a.conversation_id
    and sc.participant_id = a.participant_id and sc.session_id = a.session_id
where a.rn = 1
