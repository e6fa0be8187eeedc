{#- Routing-status and presence intervals of each user, open ones (no endTime yet) closed at the
    latest instant the extracted user data reaches, so an agent still Idle is counted up to there
    and no further. -#}
with routing as (
    select organization, user_id, 'routing' as status_type, routing_status as status,
        start_time, end_time
    from {{ ref('stg_genesys__user_routing_status') }}
),

presence as (
    select organization, user_id, 'presence' as status_type, upper(system_presence) as status,
        start_time, end_time
    from {{ ref('stg_genesys__user_presence') }}
),

statuses as (
    select * from routing
    union all
    select * from presence
),

horizon as (
    select organization, max(coalesce(end_time, start_time)) as horizon_end
    from statuses
    group by organization
)

select
    s.organization,
    s.user_id,
    s.status_type,
    s.status,
    s.start_time,
    coalesce(s.end_time, h.horizon_end) as end_time,
    s.end_time is null as is_open
from statuses as s
inner join horizon as h on h.organization = s.organization
where coalesce(s.end_time, h.horizon_end) > s.start_time
