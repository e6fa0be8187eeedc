{{ config(tags=['genesys_integrity']) }}
{#- Every metric emission of a staged conversation reaches int_genesys__metric_facts once:
    the joins that attribute queues and sessions drop and duplicate nothing. -#}
with staged as (
    select m.organization, count(*) as n
    from {{ ref('stg_genesys__metrics') }} as m
    inner join {{ ref('stg_genesys__conversations') }} as c
        on c.organization = m.organization and c.conversation_id = m.conversation_id
    group by m.organization
),

facts as (
    select organization, count(*) as n
    from {{ ref('int_genesys__metric_facts') }}
    group by organization
)

select coalesce(s.organization, f.organization) as organization, s.n as staged, f.n as facts
from staged as s
full outer join facts as f on f.organization = s.organization
where coalesce(s.n, 0) <> coalesce(f.n, 0)
