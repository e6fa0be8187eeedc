"""TapGenesysAnalytics: the config schema, the streams, and the shared client."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_genesys_analytics.config.aggregates import DEFAULT_GRANULARITY, DEFAULT_SUBJECT, SUBJECTS
from tap_genesys_analytics.config.settings import BOUNDS, DEFAULTS, REGIONS, Settings
from tap_genesys_analytics.http.client import GenesysClient
from tap_genesys_analytics.streams.aggregates import AGGREGATE_STREAMS
from tap_genesys_analytics.streams.base import GenesysStream
from tap_genesys_analytics.streams.conversations import (
    CONVERSATION_CHILDREN,
    ConversationDetailsStream,
)
from tap_genesys_analytics.streams.directory import DIMENSION_STREAMS
from tap_genesys_analytics.streams.quality import QUALITY_STREAMS
from tap_genesys_analytics.streams.sdk import AdaptedTap
from tap_genesys_analytics.streams.users import USER_STREAMS
from tap_genesys_analytics.streams.writer import BufferedMsgSpecWriter

FILTER_HELP = (
    "List of Genesys filter objects in the API's own shape, passed into the job body as is, "
    'e.g. [{"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]}].'
)


def _setting(name: str, kind: Any, description: str, **extra: Any) -> th.Property[Any]:
    """A setting with its default and, for a number, its range (both from ``config.settings``)."""
    default = DEFAULTS.get(name)
    if name in BOUNDS:
        kind = kind(minimum=BOUNDS[name].minimum, maximum=BOUNDS[name].maximum)
    return th.Property(name, kind, description=description, default=default, **extra)


class TapGenesysAnalytics(AdaptedTap):
    """Singer tap for Genesys Cloud Analytics."""

    name = "tap-genesys-analytics"
    #: msgspec serialises RECORD messages several times faster than the default writer.
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "client_id",
            th.StringType,
            required=True,
            title="Client ID",
            description="OAuth client ID of a Genesys Cloud client-credentials grant.",
        ),
        th.Property(
            "client_secret",
            th.StringType,
            required=True,
            secret=True,
            title="Client secret",
            description="OAuth client secret of that grant.",
        ),
        _setting(
            "region",
            th.StringType,
            "Genesys Cloud region name (" + ", ".join(REGIONS) + ") or its domain, "
            "e.g. mypurecloud.ie.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            description="Override of https://api.<domain> (proxies, the simulator). "
            "http:// only on loopback.",
        ),
        th.Property(
            "login_url",
            th.StringType,
            description="Override of https://login.<domain>. http:// only on loopback.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            required=True,
            description="Extract conversations that started at or after this time (UTC).",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Extract conversations that started before this time (exclusive, UTC). "
            "Default: now.",
        ),
        _setting("chunk_days", th.IntegerType, "Days per chunk (one async job each), 1 to 31."),
        _setting("page_size", th.IntegerType, "Job results page size."),
        _setting(
            "query_page_size",
            th.IntegerType,
            "Page size of the synchronous details query (POST "
            "/api/v2/analytics/conversations/details/query), which reads the days newer than "
            "the job store holds; 100 is the API's maximum.",
        ),
        th.Property(
            "conversation_filters",
            th.ArrayType(th.ObjectType(additional_properties=True)),
            description="Conversation filters. " + FILTER_HELP,
        ),
        th.Property(
            "segment_filters",
            th.ArrayType(th.ObjectType(additional_properties=True)),
            description="Segment filters. " + FILTER_HELP,
        ),
        _setting(
            "max_requests_per_minute",
            th.IntegerType,
            "Client-side budget of API requests per minute, shared by all streams "
            "(the platform allows 300 per token).",
        ),
        _setting("max_retries", th.IntegerType, "Retries of one request before giving up."),
        _setting("max_backoff_seconds", th.NumberType, "Longest wait between two tries."),
        _setting("connect_timeout", th.NumberType, "Seconds to wait for a connection."),
        _setting("read_timeout", th.NumberType, "Seconds to wait for data on an open connection."),
        _setting("job_poll_max_seconds", th.NumberType, "Longest wait between two job polls."),
        _setting(
            "job_timeout_minutes",
            th.NumberType,
            "How long a job may stay queued or running before the run stops.",
        ),
        _setting(
            "job_max_attempts",
            th.IntegerType,
            "Submissions of one window when its job fails, expires or loses its cursor.",
        ),
        _setting(
            "count_tolerance",
            th.NumberType,
            "Fraction by which a chunk's unique records may fall short of the API's totalHits "
            "before the chunk is split and read again.",
        ),
        _setting("lookback_days", th.IntegerType, "Days re-read before the bookmark on each run."),
        _setting(
            "safety_lag_minutes",
            th.IntegerType,
            "With end_date unset, stop this many minutes before now.",
        ),
        _setting(
            "max_open_conversations",
            th.IntegerType,
            "Live conversations remembered in STATE and fetched again by id on later runs "
            "until they end; past it the oldest are dropped from the list with a warning.",
        ),
        _setting(
            "open_conversations_per_request",
            th.IntegerType,
            "Conversation ids per GET /api/v2/analytics/conversations/details request when "
            "live conversations are fetched again (the API's maximum is undocumented).",
        ),
        _setting(
            "max_jobs_in_flight",
            th.IntegerType,
            "Jobs submitted ahead, so the server prepares the next chunks while one is paged.",
        ),
        th.Property(
            "aggregates",
            th.ArrayType(
                th.ObjectType(
                    th.Property("name", th.StringType, required=True),
                    th.Property("group_by", th.ArrayType(th.StringType)),
                    th.Property("metrics", th.ArrayType(th.StringType), required=True),
                    th.Property("granularity", th.StringType, default=DEFAULT_GRANULARITY),
                    th.Property("filter", th.ObjectType(additional_properties=True)),
                    th.Property("time_zone", th.StringType),
                    th.Property(
                        "subject",
                        th.StringType(allowed_values=list(SUBJECTS)),
                        default=DEFAULT_SUBJECT,
                    ),
                    th.Property("alternate_time_dimension", th.StringType),
                )
            ),
            description="Named aggregate queries, each {name, subject (conversations, users, "
            "flows, evaluations or surveys; default conversations), group_by, metrics, "
            "granularity (default PT30M, must divide a day), filter, time_zone, "
            "alternate_time_dimension}; each subject's queries fill its stream "
            "(conversation_aggregates, user_aggregates, flow_aggregates, evaluation_aggregates, "
            "survey_aggregates) and are checked against the dimensions and metrics the API "
            'allows for it, e.g. [{"name": "queue_daily", "group_by": ["queueId"], "metrics": '
            '["nOffered", "tHandle"], "granularity": "P1D"}].',
        ),
        _setting(
            "aggregates_granularity",
            th.StringType,
            "Granularity (an ISO-8601 period that divides a day) of the built-in queries that "
            "user_aggregates and flow_aggregates run when the aggregates setting has none of "
            "their subject.",
        ),
        _setting(
            "aggregates_time_zone",
            th.StringType,
            "IANA time zone of those built-in queries: their windows are whole local days and "
            "their buckets local periods (a day that changes daylight saving time is 23 or 25 "
            "hours long).",
        ),
        _setting(
            "user_aggregates_batch_size",
            th.IntegerType,
            "userId predicates per users aggregates query: user_aggregates asks for every user "
            "of the users directory (inactive and deleted included) in batches of this many "
            "(the API allows at most 100).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._settings: Settings | None = None
        self._client: GenesysClient | None = None
        if kwargs.get("validate_config", True) and self.config.get("client_id"):
            self._settings = Settings.from_config(self.config)

    @property
    def settings(self) -> Settings:
        """Parsed settings (validated once)."""
        if self._settings is None:
            self._settings = Settings.from_config(self.config)
        return self._settings

    @property
    def client(self) -> GenesysClient:
        """The one HTTP client of this process: shared token and rate limiter."""
        if self._client is None:
            self._client = GenesysClient(self.settings)
            self._client.check_connection()
        return self._client

    def discover_streams(self) -> list[GenesysStream]:
        """The streams; no I/O here (it runs at test collection time)."""
        return [
            ConversationDetailsStream(self),
            *(cls(self) for cls in CONVERSATION_CHILDREN),
            *(cls(self) for cls in USER_STREAMS),
            *(cls(self) for cls in AGGREGATE_STREAMS),
            *(cls(self) for cls in DIMENSION_STREAMS),
            *(cls(self) for cls in QUALITY_STREAMS),
        ]
