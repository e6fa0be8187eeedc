with source as (
    {{ genesys_analytics.genesys_source('wrapup_codes', [['id', 'string'], ['name', 'string']]) }}
)

select
    organization,
    {{ genesys_analytics.col('id') }} as wrap_up_code,
    {{ genesys_analytics.col('name') }} as wrap_up_name
from source
