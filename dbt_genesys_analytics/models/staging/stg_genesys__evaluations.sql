{#- One row per row of the tap's `evaluations` table: the latest version of each evaluation under
    a keyed loader. A deleted evaluation is a row `{id, conversationId, deleted: true}` with every
    other column empty; the quality mart leaves it out. -#}
with source as (
    {{ genesys_analytics.genesys_source('evaluations', [
        ['id', 'string'], ['conversationId', 'string'], ['agentId', 'string'],
        ['queueId', 'string'], ['evaluatorId', 'string'], ['formId', 'string'],
        ['formContextId', 'string'], ['status', 'string'], ['createdDate', 'timestamp'],
        ['submittedDate', 'timestamp'], ['releaseDate', 'timestamp'], ['changedDate', 'timestamp'],
        ['version', 'bigint'], ['deleted', 'boolean'], ['rescore', 'boolean'],
        ['systemSubmitted', 'boolean'], ['neverRelease', 'boolean'],
        ['anyFailedKillQuestions', 'boolean'], ['totalScore', 'numeric'],
        ['totalCriticalScore', 'numeric'], ['totalNonCriticalScore', 'numeric']]) }}
)

select
    organization,
    {{ genesys_analytics.col('id') }} as evaluation_id,
    {{ genesys_analytics.col('conversationId') }} as conversation_id,
    {{ genesys_analytics.col('agentId') }} as user_id,
    {{ genesys_analytics.col('queueId') }} as queue_id,
    {{ genesys_analytics.col('evaluatorId') }} as evaluator_id,
    {{ genesys_analytics.col('formId') }} as form_id,
    {{ genesys_analytics.col('formContextId') }} as form_context_id,
    {{ genesys_analytics.col('status') }} as evaluation_status,
    {{ genesys_analytics.col('createdDate') }} as created_at,
    {{ genesys_analytics.col('submittedDate') }} as submitted_at,
    {{ genesys_analytics.col('releaseDate') }} as released_at,
    {{ genesys_analytics.col('changedDate') }} as changed_at,
    {{ genesys_analytics.col('version') }} as evaluation_version,
    coalesce({{ genesys_analytics.col('deleted') }}, false) as is_deleted,
    {{ genesys_analytics.col('rescore') }} as is_rescore,
    {{ genesys_analytics.col('systemSubmitted') }} as is_system_submitted,
    {{ genesys_analytics.col('neverRelease') }} as is_never_release,
    {{ genesys_analytics.col('anyFailedKillQuestions') }} as any_failed_kill_questions,
    {{ genesys_analytics.col('totalScore') }} as total_score,
    {{ genesys_analytics.col('totalCriticalScore') }} as total_critical_score,
    {{ genesys_analytics.col('totalNonCriticalScore') }} as total_non_critical_score
from source
