"""Each fault switched on in the simulator: the emitted ids still equal the truth, each once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import run_tap, run_tap_until, sim_config, truth


def assert_exact(run: Any, sim: Any, **kw: Any) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    ids = run.ids()
    assert len(ids) == len(set(ids)), "duplicates emitted"
    assert set(ids) == truth(sim, **kw)


def fired(sim: Any, name: str) -> int:
    """How often the simulator's fault ``name`` fired (``stats.faults``)."""
    return int(sim.stats.faults[name])


#: Each fault switch and the simulator counter that shows it fired.
FAULTS = {
    "transient_errors": ({"error_rate": 0.25}, "error"),
    "cut_gzip_bodies": ({"cut_body_rate": 0.3}, "cut_gzip_body"),
    "cut_identity_bodies": ({"cut_body_rate": 0.3, "gzip": False}, "cut_identity_body"),
    "bad_json": ({"bad_json_rate": 0.3}, "bad_json"),
    "job_fails_once": ({"job_fail_once": True}, "job_failed"),
    "cursor_drift": ({"repeat_records": 7}, "repeated_records"),
}


@pytest.mark.parametrize(("faults", "counter"), FAULTS.values(), ids=FAULTS.keys())
def test_fault_is_survived_exactly(
    tmp_path: Path, make_sim, faults: dict[str, Any], counter: str
) -> None:
    sim = make_sim(conversations=3000, **faults)
    run = run_tap(tmp_path, sim_config(sim, page_size=200, max_retries=12))
    assert fired(sim, counter) > 0, f"the fault {counter} fired"
    assert_exact(run, sim)


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "identity"])
def test_both_body_encodings_are_read_exactly(tmp_path: Path, make_sim, gzip: bool) -> None:
    sim = make_sim(conversations=1500, gzip=gzip)
    run = run_tap(tmp_path, sim_config(sim, page_size=200))
    encodings = sim.stats.encodings
    assert encodings["gzip" if gzip else "identity"] > 0
    assert encodings["identity" if gzip else "gzip"] == 0
    assert_exact(run, sim)


def test_short_tokens_are_renewed(tmp_path: Path, make_sim) -> None:
    # Each token answers ten requests, then is refused as expired: the run meets several
    # expiries at points counted in requests, so a slow machine meets the same ones. (With
    # 1-second tokens a slow first request turned a fresh token into a fatal refusal.)
    sim = make_sim(conversations=3000, token_max_uses=10)
    run = run_tap(tmp_path, sim_config(sim, page_size=200, max_retries=12))
    assert fired(sim, "token_expired") >= 3, "tokens ran out during the run"
    assert sim.stats.statuses[401] == fired(sim, "token_expired")
    assert sim.stats.requests["token"] == 1 + fired(sim, "token_expired"), "one renewal each"
    assert_exact(run, sim)


def test_transient_errors_are_logged_and_retried(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500, error_rate=0.3)
    run = run_tap(tmp_path, sim_config(sim, page_size=200, max_retries=12))
    assert fired(sim, "error") > 0
    assert sum(n for status, n in sim.stats.statuses.items() if status >= 400) > 0
    assert_exact(run, sim)
    assert "Retrying" in run.stderr


def test_silent_truncation_is_detected_and_split(tmp_path: Path, make_sim) -> None:
    # 1500 over 15 days is ~100 a day, ~700 a 7-day chunk: a job over 60 loses records silently,
    # so chunks are read again in halves down to days, and days again in 12-hour jobs; every
    # level finds records the earlier reads missed, so the splitting goes on until it is exact.
    sim = make_sim(conversations=1500, days=15, truncate_jobs_over=60)
    run = run_tap(tmp_path, sim_config(sim, page_size=100, end_date="2024-01-16T00:00:00Z"))
    assert fired(sim, "truncated") > 0
    assert_exact(run, sim, end="2024-01-16")
    assert "reading it again as" in run.stderr
    assert "reading the day again in 12-hour jobs" in run.stderr
    assert "accepted below" not in run.stderr.replace("0 window(s) accepted below", "")


def test_truncation_below_one_hour_gives_a_clear_error(tmp_path: Path, make_sim) -> None:
    # ~100 conversations a day, ~4 an hour, and no job returns more than 3: every finer level
    # finds records the coarser ones missed, and even 1-hour jobs stay short.
    sim = make_sim(conversations=3000, truncate_jobs_over=3)
    run = run_tap(tmp_path, sim_config(sim, page_size=100, end_date="2024-01-02T00:00:00Z"))
    assert fired(sim, "truncated") > 0
    assert run.returncode == 1
    assert "down to 1-hour jobs, still found more or fewer" in run.error_line
    assert "reading the day again in 1-hour jobs" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_limiter_prevents_429s(tmp_path: Path, make_sim) -> None:
    # A strict 30-per-rolling-minute server, a tap paced at 27/min: ~36 requests, never a 429.
    sim = make_sim(conversations=2000, rate_limit_per_minute=30, job_latency_seconds=0.0)
    config = sim_config(sim, page_size=100, chunk_days=10, max_requests_per_minute=27)
    config["max_jobs_in_flight"] = 1
    run = run_tap(tmp_path, config)
    assert sum(sim.stats.requests.values()) - sim.stats.requests["token"] > 30
    assert_exact(run, sim)
    assert sim.stats.rate_limited == 0
    assert sim.stats.statuses[429] == 0


def test_429_retry_after_is_honoured(tmp_path: Path, make_sim) -> None:
    # Injected 429s carry Retry-After: 1; the configured backoff cap is 0.2 s, so every wait
    # after a 429 that is at least 1 s proves the header won over the local policy.
    sim = make_sim(conversations=800, error_rate=0.3, error_statuses=(429,))
    config = sim_config(sim, page_size=100, max_retries=12, max_backoff_seconds=0.2)
    run = run_tap(tmp_path, config)
    assert fired(sim, "error") > 0
    assert sim.stats.statuses[429] > 0
    assert_exact(run, sim)
    waits = [
        float(re.search(r" in ([0-9.]+) s ", line).group(1))
        for line in run.stderr.splitlines()
        if "Retrying" in line and "HTTP 429" in line
    ]
    assert waits, "some 429s were injected"
    assert min(waits) >= 1.0


def test_retries_run_out_with_one_clear_line(tmp_path: Path, make_sim) -> None:
    # One 30-day chunk of 30 pages: the outage starts after its third page, while the tap is
    # paging, so the request that runs out of tries is always a results page (no count query,
    # submit or poll can come first: the tap stays within a pipe's buffer of the reader).
    sim = make_sim(conversations=3000, job_latency_seconds=0.3)
    config = sim_config(sim, max_retries=2, page_size=100, chunk_days=30, max_jobs_in_flight=1)

    def break_mid_chunk(messages: list[dict]) -> bool:
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        chunk = (
            states[-1]["bookmarks"].get("conversation_details", {}).get("chunk") if states else None
        )
        if chunk and chunk.get("cursor") and chunk.get("pages", 0) >= 3:
            sim.set_faults(error_rate=1.0, error_statuses=(503,))
        return False

    run = run_tap_until(tmp_path, config, break_mid_chunk)
    assert sim.stats.statuses[503] >= 3, "the outage met a request and its two retries"
    assert run.returncode == 1
    line = run.error_line
    assert line.startswith(
        "tap-genesys-analytics: error: GET /api/v2/analytics/conversations/details/jobs/"
    )
    assert "/results" in line
    assert re.search(r"\d{4}-\d\d-\d\dT00:00:00.000Z/\d{4}-\d\d-\d\dT00:00:00.000Z", line)
    assert "HTTP 503" in line
    assert "code=" in line
    assert "still failing after 3 tries" in line
    assert "Traceback" not in run.stderr
    cursor_states = [
        s
        for s in run.states
        if s["bookmarks"].get("conversation_details", {}).get("chunk", {}).get("cursor")
    ]
    assert cursor_states, "the STATE reached is out before the error"


def test_a_403_names_the_missing_permission(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=500, error_rate=1.0, error_statuses=(403,))
    run = run_tap(tmp_path, sim_config(sim))
    assert sim.stats.statuses[403] == 1, "the API refused once, and the tap stopped"
    assert run.returncode == 1
    assert "analytics:conversationDetail:view" in run.error_line
    assert "Retrying" not in run.stderr, "a 403 is not retried"


def test_a_rejected_filter_shows_the_api_message(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=500)
    bad = [{"type": "xor", "predicates": [{"dimension": "mediaType", "value": "voice"}]}]
    run = run_tap(tmp_path, sim_config(sim, segment_filters=bad))
    assert run.returncode == 1
    assert "HTTP 400" in run.error_line
    assert "message=" in run.error_line
    assert "Retrying" not in run.stderr


def test_all_faults_at_once_over_50k(tmp_path: Path, make_sim) -> None:
    sim = make_sim(
        conversations=50_000,
        error_rate=0.03,
        # 5 % of ~100 results pages: each body fault fires (0.95**100 < 1 %), as asserted below.
        cut_body_rate=0.05,
        bad_json_rate=0.05,
        token_max_uses=40,
        job_fail_once=True,
        repeat_records=5,
        truncate_jobs_over=6000,
        rate_limit_per_minute=300,
    )
    run = run_tap(tmp_path, sim_config(sim, max_retries=15, max_requests_per_minute=240))
    for counter in ("error", "cut_gzip_body", "bad_json", "job_failed", "repeated_records"):
        assert fired(sim, counter) > 0, counter
    assert fired(sim, "truncated") > 0
    assert fired(sim, "token_expired") > 0, "tokens ran out and were renewed"
    assert_exact(run, sim)
    assert "reading it again as" in run.stderr


def test_a_refused_page_size_is_lowered(tmp_path: Path, make_sim) -> None:
    # The results endpoint's maximum pageSize is undocumented: a server capping it at 250
    # refuses 1000 with a 400; the tap halves its page size and completes.
    sim = make_sim(conversations=2000, max_results_page_size=250)
    run = run_tap(tmp_path, sim_config(sim, page_size=1000))
    assert fired(sim, "page_size_refused") > 0
    assert_exact(run, sim)
    assert "asking for pages of 250 from now on" in run.stderr
