"""Unit tests for config validation: every bad value fails once, naming the setting."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tap_genesys_analytics.config.settings import REGIONS, ConfigError, Settings

UTC = dt.timezone.utc
SECRET = "secret-value"
BASE: dict[str, Any] = {
    "client_id": "cid",
    "client_secret": SECRET,
    "start_date": "2024-01-01",
}

#: Typed out independently of the module, from the Genesys SDK's region hosts.
EXPECTED_REGIONS = {
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


def build(**overrides: Any) -> Settings:
    return Settings.from_config({**BASE, **overrides})


def config_error(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        build(**overrides)
    return str(info.value)


# -- defaults -------------------------------------------------------------------------------


def test_minimal_config_takes_the_defaults() -> None:
    settings = build()
    assert settings.client_id == "cid"
    assert settings.client_secret == SECRET
    assert settings.api_url == "https://api.mypurecloud.com"
    assert settings.login_url == "https://login.mypurecloud.com"
    assert settings.token_url == settings.login_url + "/oauth/token"
    assert settings.start_date == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert settings.end_date is None
    assert settings.chunk_days == 7
    assert settings.page_size == 1000
    assert settings.max_requests_per_minute == 240
    assert settings.conversation_filters == []
    assert settings.segment_filters == []
    assert settings.has_filters is False


def test_empty_strings_fall_back_to_defaults() -> None:
    settings = build(chunk_days="", region="", page_size=None, conversation_filters="")
    assert settings.chunk_days == 7
    assert settings.page_size == 1000
    assert settings.api_url == "https://api.mypurecloud.com"
    assert settings.conversation_filters == []


def test_values_are_stripped() -> None:
    settings = build(client_id="  cid  ", start_date=" 2024-01-01 ")
    assert settings.client_id == "cid"
    assert settings.start_date == dt.datetime(2024, 1, 1, tzinfo=UTC)


# -- required settings ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["client_id", "client_secret", "start_date"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_settings(name: str, value: str | None) -> None:
    message = config_error(**{name: value})
    assert message.startswith(f"{name} is required")
    assert f"TAP_GENESYS_ANALYTICS_{name.upper()}" in message


def test_missing_key_is_required_too() -> None:
    config = {k: v for k, v in BASE.items() if k != "client_secret"}
    with pytest.raises(ConfigError, match=r"^client_secret is required"):
        Settings.from_config(config)


def test_error_never_echoes_the_secret() -> None:
    other = SECRET + "-s3cr3t"
    message = config_error(client_secret=other, chunk_days=0)
    assert other not in message


# -- regions --------------------------------------------------------------------------------


def test_there_are_eighteen_regions() -> None:
    assert REGIONS == EXPECTED_REGIONS
    assert len(REGIONS) == 18


@pytest.mark.parametrize(("region", "domain"), sorted(EXPECTED_REGIONS.items()))
def test_region_names_resolve_to_hosts(region: str, domain: str) -> None:
    for spelling in (region, region.upper(), region.replace("_", "-"), f" {region} "):
        settings = build(region=spelling)
        assert settings.api_url == f"https://api.{domain}", spelling
        assert settings.login_url == f"https://login.{domain}", spelling
    by_domain = build(region=domain.upper())
    assert by_domain.api_url == f"https://api.{domain}"
    assert by_domain.token_url == f"https://login.{domain}/oauth/token"


@pytest.mark.parametrize(
    "region",
    [
        "us_east_3",
        "eu-west",
        "mypurecloud.org",
        "api.mypurecloud.com",
        "https://mypurecloud.ie",
        " ",
    ],
)
def test_unknown_region(region: str) -> None:
    message = config_error(region=region)
    assert message.startswith(f"region {region!r} is not a Genesys Cloud region")
    assert "eu_west_1" in message
    assert "ap_northeast_3" in message


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api_url", "login_url"])
@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://api.example.com/", "https://api.example.com"),
        ("https://proxy.internal:8443/genesys", "https://proxy.internal:8443/genesys"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://LOCALHOST:8080/", "http://LOCALHOST:8080"),
        ("http://127.0.0.1:51234/", "http://127.0.0.1:51234"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("  https://api.example.com  ", "https://api.example.com"),
    ],
)
def test_accepted_urls(name: str, url: str, stored: str) -> None:
    assert getattr(build(**{name: url}), name) == stored


@pytest.mark.parametrize("name", ["api_url", "login_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://api.mypurecloud.com",
        "http://10.0.0.5:8080",
        "http://192.168.1.1",
        "http://[::2]:80",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0:8080",
    ],
)
def test_plain_http_only_on_loopback(name: str, url: str) -> None:
    message = config_error(**{name: url})
    assert message.startswith(f"{name} uses http:// on a non-loopback host")


@pytest.mark.parametrize("name", ["api_url", "login_url"])
@pytest.mark.parametrize(
    "url", ["ftp://api.example.com", "api.example.com", "https://", "file:///etc/passwd", "//x"]
)
def test_not_a_url(name: str, url: str) -> None:
    message = config_error(**{name: url})
    assert message.startswith(f"{name} must be an https:// URL")


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31", dt.datetime(2024, 1, 31, tzinfo=UTC)),
        ("2024-02-29", dt.datetime(2024, 2, 29, tzinfo=UTC)),
        ("2024-01-31T10:20:30Z", dt.datetime(2024, 1, 31, 10, 20, 30, tzinfo=UTC)),
        ("2024-01-31T10:20:30z", dt.datetime(2024, 1, 31, 10, 20, 30, tzinfo=UTC)),
        ("2024-01-31T10:20:30.123Z", dt.datetime(2024, 1, 31, 10, 20, 30, 123000, tzinfo=UTC)),
        ("2024-01-31T01:00:00+02:00", dt.datetime(2024, 1, 30, 23, tzinfo=UTC)),
        ("2024-01-31 06:00:00", dt.datetime(2024, 1, 31, 6, tzinfo=UTC)),
    ],
)
def test_dates_parse_to_aware_utc(text: str, expected: dt.datetime) -> None:
    settings = build(start_date=text, end_date="2030-01-01")
    assert settings.start_date == expected
    assert settings.start_date.utcoffset() == dt.timedelta(0)
    assert build(start_date="2020-01-01", end_date=text).end_date == expected


@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize(
    "text",
    [
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "yesterday",
        "31/01/2024",
        "01-31-2024",
        "2024-01-31T25:00:00Z",
        "2024-01-31T10:00:00+25:00",
        "2024/01/31",
    ],
)
def test_malformed_dates(name: str, text: str) -> None:
    overrides = {name: text} if name == "start_date" else {"end_date": text}
    message = config_error(**overrides)
    assert message.startswith(f"{name} must be an ISO-8601 date")
    assert repr(text) in message


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-02-01", "2024-01-31"),
        ("2024-02-01", "2024-02-01"),
        ("2024-02-01T12:00:00Z", "2024-02-01T11:59:59Z"),
        ("2024-02-01T00:00:00Z", "2024-02-01T01:00:00+02:00"),  # 2024-01-31T23:00Z
    ],
)
def test_end_date_must_be_after_start_date(start: str, end: str) -> None:
    message = config_error(start_date=start, end_date=end)
    assert message.startswith("end_date (")
    assert "must be after start_date (" in message


def test_end_date_after_start_date_is_kept() -> None:
    settings = build(start_date="2024-02-28", end_date="2024-03-01T00:00:01Z")
    assert settings.end_date == dt.datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC)


# -- integers and numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), (31, 31), ("7", 7), (" 14 ", 14), (7.0, 7), ("3", 3)]
)
def test_chunk_days_accepted(value: Any, expected: int) -> None:
    assert build(chunk_days=value).chunk_days == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (0, "from 1 to 31, got 0"),
        (-1, "from 1 to 31, got -1"),
        (-7, "from 1 to 31, got -7"),
        ("0", "from 1 to 31, got 0"),
        ("-3", "from 1 to 31, got -3"),
        (32, "from 1 to 31, got 32"),
        (1.5, "whole number, got 1.5"),
        ("1.5", "whole number, got '1.5'"),
        ("seven", "whole number, got 'seven'"),
        ([7], "whole number, got [7]"),
        (float("nan"), "whole number"),
    ],
)
def test_chunk_days_rejected(value: Any, fragment: str) -> None:
    message = config_error(chunk_days=value)
    assert message.startswith("chunk_days must be")
    assert fragment in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page_size", 0),
        ("page_size", 10001),
        ("max_requests_per_minute", 0),
        ("max_retries", -1),
        ("max_retries", 101),
        ("max_retries", "many"),
        ("job_max_attempts", 0),
        ("job_max_attempts", 51),
        ("lookback_days", -1),
        ("safety_lag_minutes", -5),
        ("max_jobs_in_flight", 0),
        ("max_jobs_in_flight", 21),
        ("query_page_size", 0),
        ("query_page_size", 101),
        ("max_backoff_seconds", -0.5),
        ("max_backoff_seconds", "slow"),
        ("connect_timeout", 0),
        ("connect_timeout", 0.01),
        ("read_timeout", -1),
        ("job_poll_max_seconds", 0.01),
        ("job_timeout_minutes", 0),
        ("count_tolerance", -0.01),
        ("count_tolerance", 0.51),
        ("count_tolerance", [0.1]),
    ],
)
def test_other_bounds_name_the_setting(name: str, value: Any) -> None:
    message = config_error(**{name: value})
    assert message.startswith(f"{name} must be")
    assert repr(value) in message or str(float(value)) in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("page_size", "10000", 10000),
        ("max_retries", 0, 0),
        ("lookback_days", "0", 0),
        ("count_tolerance", "0.5", 0.5),
        ("count_tolerance", 0, 0.0),
        ("max_backoff_seconds", "2.5", 2.5),
        ("connect_timeout", 0.1, 0.1),
        ("query_page_size", 100, 100),
    ],
)
def test_other_values_accepted(name: str, value: Any, expected: float) -> None:
    assert getattr(build(**{name: value}), name) == expected


def test_infinite_integer_setting_is_a_config_error() -> None:
    message = config_error(chunk_days=float("inf"))
    assert message.startswith("chunk_days must be")


@pytest.mark.parametrize("name", ["count_tolerance", "max_backoff_seconds", "read_timeout"])
def test_nan_number_setting_is_a_config_error(name: str) -> None:
    message = config_error(**{name: "nan"})
    assert message.startswith(f"{name} must be")


# -- filters --------------------------------------------------------------------------------

VOICE = {"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]}
QUEUE = {"type": "or", "predicates": [{"dimension": "queueId", "value": "q1"}]}


@pytest.mark.parametrize("name", ["conversation_filters", "segment_filters"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([VOICE], [VOICE]),
        ([VOICE, QUEUE], [VOICE, QUEUE]),
        (VOICE, [VOICE]),
        ('[{"type": "and", "predicates": []}]', [{"type": "and", "predicates": []}]),
        ('{"type": "or", "predicates": []}', [{"type": "or", "predicates": []}]),
        ("[]", []),
        ([], []),
    ],
)
def test_filters_accepted(name: str, value: Any, expected: list[dict[str, Any]]) -> None:
    settings = build(**{name: value})
    assert getattr(settings, name) == expected
    assert settings.has_filters is bool(expected)


@pytest.mark.parametrize("name", ["conversation_filters", "segment_filters"])
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("not json", "must be a JSON array"),
        ('[{"type": "and"', "must be a JSON array"),
        ('"voice"', "must be a list of Genesys filter objects"),
        ("[1, 2]", "must be a list of Genesys filter objects"),
        ("42", "must be a list of Genesys filter objects"),
        ([VOICE, "voice"], "must be a list of Genesys filter objects"),
        ([[VOICE]], "must be a list of Genesys filter objects"),
        (5, "must be a list of Genesys filter objects"),
        (True, "must be a list of Genesys filter objects"),
    ],
)
def test_filters_rejected(name: str, value: Any, fragment: str) -> None:
    message = config_error(**{name: value})
    assert message.startswith(f"{name} {fragment}")


def test_has_filters_from_either_kind() -> None:
    assert build(segment_filters=[QUEUE]).has_filters
    assert build(conversation_filters=[VOICE]).has_filters
