{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['organization', 'conversation_id'],
    on_schema_change='append_new_columns'
) }}

{#- One row per conversation, keyed on conversationStart (never joined to interval marts for a
    KPI): which queues it visited, how it ended, who answered first, its totals and its final
    wrap-up. -#}
with
{{ genesys_analytics.conversations_to_build() }}

facts as (
    select f.*
    from {{ ref('int_genesys__metric_facts') }} as f
    inner join conversations as c
        on c.organization = f.organization and c.conversation_id = f.conversation_id
),

offers as (
    select organization, conversation_id, queue_id, emit_date,
        row_number() over (partition by organization, conversation_id order by emit_date, session_id) as first_rn,
        row_number() over (partition by organization, conversation_id order by emit_date desc, session_id desc) as last_rn
    from facts
    where metric_name = 'nOffered'
),

answers as (
    select organization, conversation_id, user_id,
        row_number() over (partition by organization, conversation_id order by emit_date, session_id) as rn
    from facts
    where metric_name = 'tAnswered'
),

totals as (
    select
        organization,
        conversation_id,
        {{ genesys_analytics.metric_sum('nOffered') }} as queues_offered,
        {{ genesys_analytics.metric_count('tAnswered') }} as answered_count,
        {{ genesys_analytics.metric_count('tAbandon') }} as abandoned_count,
        {{ genesys_analytics.metric_count('tShortAbandon') }} as short_abandoned_count,
        {{ genesys_analytics.metric_count('tFlowOut') }} as flowout_count,
        {{ genesys_analytics.metric_sum('nTransferred') }} as transfers,
        {{ genesys_analytics.metric_count('tNotResponding') }} as not_responding_count,
        {{ genesys_analytics.metric_sum('tAnswered') }} as t_answered_ms,
        {{ genesys_analytics.metric_sum('tTalk') }} as t_talk_ms,
        {{ genesys_analytics.metric_sum('tHeld') }} as t_held_ms,
        {{ genesys_analytics.metric_sum('tAcw') }} as t_acw_ms,
        {{ genesys_analytics.metric_sum('tHandle') }} as t_handle_ms,
        {{ genesys_analytics.metric_sum('tIvr') }} as t_ivr_ms
    from facts
    group by organization, conversation_id
),

customer_media as (
    select organization, conversation_id, media_type,
        row_number() over (partition by organization, conversation_id order by session_start, session_id) as rn
    from {{ ref('int_genesys__session_context') }}
    where purpose = 'customer'
),

final_wrapup as (
    select organization, conversation_id, wrap_up_code,
        row_number() over (partition by organization, conversation_id order by segment_start desc, session_id desc) as rn
    from {{ ref('stg_genesys__segments') }}
    where wrap_up_code is not null
)

select
    c.organization,
    c.conversation_id,
    c.conversation_start,
    c.conversation_end,
    {{ genesys_analytics.ms_between('c.conversation_start', 'c.conversation_end') }} / 1000.0 as duration_s,
    c.is_ended,
    c.originating_direction,
    cm.media_type,
    fo.queue_id as first_queue_id,
    lo.queue_id as last_queue_id,
    coalesce(t.queues_offered, 0) as queues_offered,
    coalesce(t.answered_count, 0) > 0 as was_answered,
    coalesce(t.abandoned_count, 0) > 0 as was_abandoned,
    coalesce(t.short_abandoned_count, 0) > 0 as was_short_abandoned,
    coalesce(t.flowout_count, 0) > 0 as was_flowout,
    coalesce(t.not_responding_count, 0) as not_responding_count,
    fa.user_id as first_answered_by_user_id,
    coalesce(t.transfers, 0) as transfers,
    coalesce(t.t_answered_ms, 0) as t_answered_ms,
    coalesce(t.t_talk_ms, 0) as t_talk_ms,
    coalesce(t.t_held_ms, 0) as t_held_ms,
    coalesce(t.t_acw_ms, 0) as t_acw_ms,
    coalesce(t.t_handle_ms, 0) as t_handle_ms,
    coalesce(t.t_ivr_ms, 0) as t_ivr_ms,
    fw.wrap_up_code as final_wrap_up_code,
    w.wrap_up_name as final_wrap_up_name
from conversations as c
left join totals as t
    on t.organization = c.organization and t.conversation_id = c.conversation_id
left join offers as fo
    on fo.organization = c.organization and fo.conversation_id = c.conversation_id and fo.first_rn = 1
left join offers as lo
    on lo.organization = c.organization and lo.conversation_id = c.conversation_id and lo.last_rn = 1
left join answers as fa
    on fa.organization = c.organization and fa.conversation_id = c.conversation_id and fa.rn = 1
left join customer_media as cm
    on cm.organization = c.organization and cm.conversation_id = c.conversation_id and cm.rn = 1
left join final_wrapup as fw
    on fw.organization = c.organization and fw.conversation_id = c.conversation_id and fw.rn = 1
left join {{ ref('stg_genesys__wrapup_codes') }} as w
    on w.organization = c.organization and w.wrap_up_code = fw.wrap_up_code
