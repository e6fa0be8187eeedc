{#- Evaluation scores per local day (genesys_reporting_time_zone) of the evaluation's creation,
    agent and queue. Only the latest version of an evaluation counts, a deleted one not at all,
    and only finished ones (a retracted or in-progress evaluation has no score that stands).
    Averages are double precision on every adapter: DuckDB's FLOAT (dbt's type_float) is 32-bit
    and would show 86.67 as 86.66999816; PostgreSQL's unconstrained numeric carries its division's
    scale (0E-20), which dbt's unit-test comparison does not take for 0.
    DECISIONLOG.md, "Quality by the evaluation's created date", says why created, not released. -#}
with evaluations as (
    select * from {{ ref('stg_genesys__evaluations') }}
),

deleted as (
    -- A deletion is final: under a loader that appends, any deleted row removes the evaluation.
    select distinct organization, evaluation_id
    from evaluations
    where is_deleted
),

latest as (
    select
        e.*,
        row_number() over (
            partition by e.organization, e.evaluation_id
            order by e.evaluation_version desc, e.changed_at desc
        ) as version_rank
    from evaluations as e
    where not e.is_deleted
),

scored as (
    select
        l.organization,
        cast({{ genesys_analytics.to_local('l.created_at') }} as date) as report_date_local,
        l.user_id,
        l.queue_id,
        l.total_score,
        l.total_critical_score,
        l.any_failed_kill_questions
    from latest as l
    left join deleted as d
        on d.organization = l.organization and d.evaluation_id = l.evaluation_id
    where l.version_rank = 1
        and d.evaluation_id is null
        and l.evaluation_status = 'FINISHED'
        and l.total_score is not null
)

select
    organization,
    report_date_local,
    user_id,
    queue_id,
    count(*) as evaluations,
    cast(sum(total_score) as double precision) as total_score_sum,
    cast(sum(total_score) / nullif(count(total_score), 0) as double precision) as avg_total_score,
    count(total_critical_score) as critical_scored,
    cast(sum(total_critical_score) as double precision) as critical_score_sum,
    cast(sum(total_critical_score) / nullif(count(total_critical_score), 0) as double precision) as avg_critical_score,
    sum(case when any_failed_kill_questions then 1 else 0 end) as failed_kill_evaluations
from scored
group by organization, report_date_local, user_id, queue_id
