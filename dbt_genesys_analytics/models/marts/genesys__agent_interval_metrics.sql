{#- Agent performance and status time per UTC interval. One row per agent and interval, all
    media together: routing status has no media type, so a per-media grain would repeat it. -#}
{{ genesys_analytics.agent_metrics('interval_start', 'int_genesys__user_status_slices') }}
