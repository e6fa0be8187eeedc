{#- One row per session: who (purpose, user), what (media, direction), which queue first, and
    the wrap-up code of its last wrap-up segment. -#}
with sessions as (
    select * from {{ ref('stg_genesys__sessions') }}
),

participants as (
    select * from {{ ref('stg_genesys__participants') }}
),

segments as (
    select * from {{ ref('stg_genesys__segments') }}
),

first_queue as (
    select organization, conversation_id, participant_id, session_id, queue_id,
        row_number() over (
            partition by organization, conversation_id, participant_id, session_id
            order by segment_start, segment_type
        ) as rn
    from segments
    where queue_id is not null
),

last_wrapup as (
    select organization, conversation_id, participant_id, session_id, wrap_up_code,
        row_number() over (
            partition by organization, conversation_id, participant_id, session_id
            order by segment_start desc
        ) as rn
    from segments
    where wrap_up_code is not null
),

bounds as (
    select organization, conversation_id, participant_id, session_id,
        min(segment_start) as session_start,
        max(segment_end) as session_end
    from segments
    group by 1, 2, 3, 4
)

select
    s.organization,
    s.conversation_id,
    s.participant_id,
    s.session_id,
    p.purpose,
    p.user_id,
    s.media_type,
    s.direction,
    b.session_start,
    b.session_end,
    fq.queue_id as session_queue_id,
    lw.wrap_up_code
from sessions as s
left join participants as p
    on p.organization = s.organization and p.conversation_id = s.conversation_id
    and p.participant_id = s.participant_id
left join bounds as b
    on b.organization = s.organization and b.conversation_id = s.conversation_id
    and b.participant_id = s.participant_id and b.session_id = s.session_id
left join first_queue as fq
    on fq.organization = s.organization and fq.conversation_id = s.conversation_id
    and fq.participant_id = s.participant_id and fq.session_id = s.session_id and fq.rn = 1
left join last_wrapup as lw
    on lw.organization = s.organization and lw.conversation_id = s.conversation_id
    and lw.participant_id = s.participant_id and lw.session_id = s.session_id and lw.rn = 1
