{#- One row per survey (the tap's `surveys` table): status, NPS answer, total score, completed
    date, agent and queue. -#}
with source as (
    {{ genesys_analytics.genesys_source('surveys', [
        ['id', 'string'], ['conversationId', 'string'], ['agentId', 'string'],
        ['queueId', 'string'], ['formId', 'string'], ['formContextId', 'string'],
        ['status', 'string'], ['surveyType', 'string'], ['completedDate', 'timestamp'],
        ['npsScore', 'bigint'], ['totalScore', 'numeric'], ['deleted', 'boolean']]) }}
)

select
    organization,
    {{ genesys_analytics.col('id') }} as survey_id,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('agentId') }} as user_id,
    {{ genesys_analytics.col('queueId') }} as queue_id,
    {{ genesys_analytics.col('formId') }} as form_id,
    {{ genesys_analytics.col('formContextId') }} as form_context_id,
    {{ genesys_analytics.col('status') }} as survey_status,
    {{ genesys_analytics.col('surveyType') }} as survey_type,
    {{ genesys_analytics.col('completedDate') }} as completed_at,
    {{ genesys_analytics.col('npsScore') }} as nps_score,
    {{ genesys_analytics.col('totalScore') }} as total_score,
    coalesce({{ genesys_analytics.col('deleted') }}, false) as is_deleted
from source
