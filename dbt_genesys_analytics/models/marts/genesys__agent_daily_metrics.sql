{#- Agent performance and status time per local day of genesys_reporting_time_zone (status time cut at local midnights). One row per agent and day, all
    media together: routing status has no media type, so a per-media grain would repeat it. -#}
{{ genesys_analytics.agent_metrics('report_date_local', 'int_genesys__user_status_days') }}
