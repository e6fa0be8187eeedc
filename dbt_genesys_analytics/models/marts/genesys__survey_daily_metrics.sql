{#- CSAT/NPS per local day (genesys_reporting_time_zone) of the survey's completion, agent and
    queue: finished surveys with an NPS answer. Promoters answer 9-10, passives 7-8, detractors
    0-6; NPS = (promoters - detractors) / responses * 100, as Genesys's nSurveyNpsPromoters,
    nSurveyNpsDetractors and nSurveyNpsResponses. -#}
with responses as (
    select
        organization,
        cast({{ genesys_analytics.to_local('completed_at') }} as date) as report_date_local,
        user_id,
        queue_id,
        nps_score,
        total_score
    from {{ ref('stg_genesys__surveys') }}
    where survey_status = 'Finished'
        and not is_deleted
        and nps_score is not null
        and completed_at is not null
)

select
    organization,
    report_date_local,
    user_id,
    queue_id,
    count(*) as responses,
    sum(case when nps_score >= 9 then 1 else 0 end) as promoters,
    sum(case when nps_score between 7 and 8 then 1 else 0 end) as passives,
    sum(case when nps_score <= 6 then 1 else 0 end) as detractors,
    cast(100.0 * (sum(case when nps_score >= 9 then 1 else 0 end) - sum(case when nps_score <= 6 then 1 else 0 end)) / nullif(count(*), 0) as double precision) as nps,
    cast(sum(total_score) as double precision) as total_score_sum,
    cast(sum(total_score) / nullif(count(total_score), 0) as double precision) as avg_total_score
from responses
group by organization, report_date_local, user_id, queue_id
