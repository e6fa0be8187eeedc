"""Typed, validated settings: the one place that reads the raw config mapping.

Every other module gets a :class:`Settings` instance, so a bad value fails once, at start-up,
with one sentence that says what to fix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from tap_genesys_analytics.config import aggregates as agg

UTC = dt.timezone.utc
_N = TypeVar("_N", int, float)

#: Genesys Cloud regions and their domains (Python SDK ``PureCloudRegionHosts``).
REGIONS: dict[str, str] = {
    "us_east_1": "mypurecloud.com",
    "us_east_2": "use2.us-gov-pure.cloud",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "eu_west_1": "mypurecloud.ie",
    "eu_west_2": "euw2.pure.cloud",
    "eu_central_1": "mypurecloud.de",
    "eu_central_2": "euc2.pure.cloud",
    "eusc_de_east_1": "edee1.eusc-pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "ap_southeast_2": "mypurecloud.com.au",
    "ap_northeast_1": "mypurecloud.jp",
    "ap_northeast_2": "apne2.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
}

#: Defaults shared by the config schema, meltano.yml and the README.
DEFAULTS: dict[str, Any] = {
    "region": "us_east_1",
    "chunk_days": 7,
    "page_size": 1000,
    "max_requests_per_minute": 240,
    "max_retries": 8,
    "max_backoff_seconds": 120.0,
    "connect_timeout": 10.0,
    "read_timeout": 120.0,
    "job_poll_max_seconds": 30.0,
    "job_timeout_minutes": 120.0,
    "job_max_attempts": 4,
    "count_tolerance": 0.0,
    "lookback_days": 3,
    "safety_lag_minutes": 15,
    "max_jobs_in_flight": 3,
    "query_page_size": 100,
    "max_open_conversations": 1000,
    "open_conversations_per_request": 50,
    "user_aggregates_batch_size": 100,
    "aggregates_granularity": agg.DEFAULT_GRANULARITY,
    "aggregates_time_zone": "UTC",
}


class Bounds(NamedTuple):
    """The range of a numeric setting; ``maximum`` is None when only the minimum matters."""

    minimum: float
    maximum: float | None = None


#: The range of every numeric setting, in the setting's own type (int or float). Validation
#: below and the tap's config schema (``--about``, Meltano) both read it: a bound is written once.
BOUNDS: dict[str, Bounds] = {
    "chunk_days": Bounds(1, 31),
    "page_size": Bounds(1, 10000),
    "query_page_size": Bounds(1, 100),
    "max_requests_per_minute": Bounds(1),
    "max_retries": Bounds(0, 100),
    "max_backoff_seconds": Bounds(0.0),
    "connect_timeout": Bounds(0.1),
    "read_timeout": Bounds(0.1),
    "job_poll_max_seconds": Bounds(0.05),
    "job_timeout_minutes": Bounds(0.1),
    "job_max_attempts": Bounds(1, 50),
    "count_tolerance": Bounds(0.0, 0.5),
    "lookback_days": Bounds(0),
    "safety_lag_minutes": Bounds(0),
    "max_open_conversations": Bounds(0, 100_000),
    "open_conversations_per_request": Bounds(1, 100),
    "max_jobs_in_flight": Bounds(1, 20),
    "user_aggregates_batch_size": Bounds(1, 100),
}


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which one and what to do."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Parsed settings, with hosts resolved and dates as aware UTC datetimes."""

    client_id: str
    client_secret: str
    api_url: str
    login_url: str
    start_date: dt.datetime
    end_date: dt.datetime | None
    chunk_days: int
    page_size: int
    conversation_filters: list[dict[str, Any]]
    segment_filters: list[dict[str, Any]]
    max_requests_per_minute: int
    max_retries: int
    max_backoff_seconds: float
    connect_timeout: float
    read_timeout: float
    job_poll_max_seconds: float
    job_timeout_minutes: float
    job_max_attempts: int
    count_tolerance: float
    lookback_days: int
    safety_lag_minutes: int
    max_jobs_in_flight: int
    query_page_size: int
    max_open_conversations: int
    open_conversations_per_request: int
    aggregates: tuple[agg.AggregateQuery, ...]
    user_aggregates_batch_size: int
    aggregates_granularity: str
    aggregates_time_zone: str

    @property
    def has_filters(self) -> bool:
        """Whether a filter is set: the details query then allows 31-day intervals, not 7."""
        return bool(self.conversation_filters or self.segment_filters)

    def run_end(self, now: dt.datetime | None = None) -> dt.datetime:
        """The end of this run's range: ``end_date``, or now less ``safety_lag_minutes``."""
        if self.end_date is not None:
            return self.end_date
        current = now or dt.datetime.now(UTC)
        return current - dt.timedelta(minutes=self.safety_lag_minutes)

    @property
    def token_url(self) -> str:
        """The OAuth client-credentials endpoint."""
        return f"{self.login_url}/oauth/token"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Validate ``config`` and build settings; raise :class:`ConfigError` on the first fault."""
        get = _Getter(config)
        client_id = get.text("client_id")
        client_secret = get.text("client_secret")
        domain = resolve_domain(str(config.get("region") or DEFAULTS["region"]))
        api_url = check_url("api_url", config.get("api_url") or f"https://api.{domain}")
        login_url = check_url("login_url", config.get("login_url") or f"https://login.{domain}")
        start = parse_datetime("start_date", get.text("start_date"))
        end_raw = config.get("end_date")
        end = parse_datetime("end_date", str(end_raw)) if end_raw else None
        if end is not None and end <= start:
            msg = (
                f"end_date ({_iso(end)}) must be after start_date ({_iso(start)}): "
                "the window [start_date, end_date) would be empty."
            )
            raise ConfigError(msg)
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            api_url=api_url,
            login_url=login_url,
            start_date=start,
            end_date=end,
            chunk_days=get.integer("chunk_days"),
            page_size=get.integer("page_size"),
            conversation_filters=get.filters("conversation_filters"),
            segment_filters=get.filters("segment_filters"),
            max_requests_per_minute=get.integer("max_requests_per_minute"),
            max_retries=get.integer("max_retries"),
            max_backoff_seconds=get.number("max_backoff_seconds"),
            connect_timeout=get.number("connect_timeout"),
            read_timeout=get.number("read_timeout"),
            job_poll_max_seconds=get.number("job_poll_max_seconds"),
            job_timeout_minutes=get.number("job_timeout_minutes"),
            job_max_attempts=get.integer("job_max_attempts"),
            count_tolerance=get.number("count_tolerance"),
            lookback_days=get.integer("lookback_days"),
            safety_lag_minutes=get.integer("safety_lag_minutes"),
            max_jobs_in_flight=get.integer("max_jobs_in_flight"),
            query_page_size=get.integer("query_page_size"),
            max_open_conversations=get.integer("max_open_conversations"),
            open_conversations_per_request=get.integer("open_conversations_per_request"),
            aggregates=get.aggregates("aggregates"),
            user_aggregates_batch_size=get.integer("user_aggregates_batch_size"),
            aggregates_granularity=get.checked("aggregates_granularity", agg.check_granularity),
            aggregates_time_zone=get.checked("aggregates_time_zone", agg.check_time_zone),
        )


class _Getter:
    """Reads one setting at a time, applying defaults and naming the setting in every error."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config

    def _value(self, name: str) -> Any:
        value = self._config.get(name)
        return DEFAULTS.get(name) if value is None or value == "" else value

    def text(self, name: str) -> str:
        value = self._value(name)
        if value is None or not str(value).strip():
            env = f"TAP_GENESYS_ANALYTICS_{name.upper()}"
            msg = f"{name} is required: set it in the config (or {env})."
            raise ConfigError(msg)
        return str(value).strip()

    def integer(self, name: str) -> int:
        value = self._value(name)
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None or (isinstance(value, float) and number != value):
            msg = f"{name} must be a whole number, got {value!r}."
            raise ConfigError(msg)
        return _bounded(name, number)

    def number(self, name: str) -> float:
        value = self._value(name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            msg = f"{name} must be a finite number, got {value!r}."
            raise ConfigError(msg)
        return _bounded(name, number)

    def filters(self, name: str) -> list[dict[str, Any]]:
        value = self._value(name)
        if value is None:
            return []
        if isinstance(value, str):
            import json  # noqa: PLC0415 - only for the env-var form of the setting

            try:
                value = json.loads(value)
            except ValueError:
                msg = f"{name} must be a JSON array of Genesys filter objects."
                raise ConfigError(msg) from None
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(f, dict) for f in value):
            msg = (
                f"{name} must be a list of Genesys filter objects such as "
                '{"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]}.'
            )
            raise ConfigError(msg)
        return value

    def checked(self, name: str, check: Callable[[str, str], None]) -> str:
        """A text setting that ``check(name, value)`` accepts (it raises ``ValueError``)."""
        value = self.text(name)
        try:
            check(name, value)
        except ValueError as exc:
            raise ConfigError(f"{exc}.") from None
        return value

    def aggregates(self, name: str) -> tuple[agg.AggregateQuery, ...]:
        """The named aggregate queries, validated once at start-up like every setting."""
        try:
            return agg.parse_aggregates(self._config.get(name))
        except ValueError as exc:
            raise ConfigError(f"{exc}.") from None


def _bounded(name: str, number: _N) -> _N:
    minimum, maximum = BOUNDS[name]
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        msg = f"{name} must be {bounds}, got {number}."
        raise ConfigError(msg)
    return number


def resolve_domain(region: str) -> str:
    """Map a region name (``eu_west_1``) or a domain (``mypurecloud.ie``) to the domain."""
    key = region.strip().lower()
    if key in REGIONS:
        return REGIONS[key]
    if key.replace("-", "_") in REGIONS:
        return REGIONS[key.replace("-", "_")]
    if key in REGIONS.values():
        return key
    names = ", ".join(REGIONS)
    msg = f"region {region!r} is not a Genesys Cloud region; use one of: {names} (or its domain)."
    raise ConfigError(msg)


def check_url(name: str, url: str) -> str:
    """Accept https everywhere and plain http only on loopback (the simulator, local proxies)."""
    parts = urlsplit(str(url).strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = f"{name} must be an https:// URL, got {url!r}."
        raise ConfigError(msg)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        msg = f"{name} uses http:// on a non-loopback host; use https:// ({url!r})."
        raise ConfigError(msg)
    return str(url).strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_datetime(name: str, text: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time; naive values are taken as UTC."""
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        example = "2024-01-31 or 2024-01-31T00:00:00Z"
        msg = f"{name} must be an ISO-8601 date such as {example}, got {text!r}."
        raise ConfigError(msg) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
