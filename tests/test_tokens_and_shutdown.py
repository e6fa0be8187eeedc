"""Tokens, pacing and shutdown through HTTP: which 401 is final, and an exit that does not stall."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

from tests.support import run_tap, run_tap_until, sim_config, truth


def test_a_fresh_token_refused_stops_at_once_with_the_credentials_line(
    tmp_path: Path, make_sim
) -> None:
    # The login host of one region hands out tokens that the API host of another refuses:
    # every new token is refused the same way, so the first 401 of a fresh token is final.
    login = make_sim(conversations=100)
    api = make_sim(conversations=100)
    config = sim_config(api, login_url=login.url, max_retries=8)
    run = run_tap(tmp_path, config)
    assert api.stats.statuses[401] >= 1, "the API refused the token"
    assert run.returncode == 1
    assert api.stats.statuses[401] == 1, "one refusal, no retries"
    assert login.stats.requests["token"] == 1, "no new token for a refused login"
    line = run.error_line
    assert "HTTP 401" in line
    assert "check client_id, client_secret and region" in line
    assert "fresh token" in line
    assert "Retrying" not in run.stderr
    assert "Traceback" not in run.stderr


def test_an_old_token_refused_is_renewed_once(tmp_path: Path, make_sim) -> None:
    # Tokens revoked mid-run: the token the API accepted until now is renewed, and the run
    # completes exactly.
    sim = make_sim(conversations=1500)
    config = sim_config(sim, page_size=100, max_jobs_in_flight=1)
    revoked: list[int] = []

    def revoke_once(messages: list[dict[str, Any]]) -> bool:
        if not revoked and sum(m["type"] == "RECORD" for m in messages) >= 150:
            revoked.append(sim.revoke_tokens())
        return False

    run = run_tap_until(tmp_path, config, revoke_once)
    assert revoked == [1], "the token in use was revoked"
    assert sim.stats.statuses[401] == 1, "the revoked token was refused once"
    assert run.returncode == 0, run.stderr[-3000:]
    assert sim.stats.requests["token"] == 2, "one renewal"
    ids = run.ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == truth(sim)


def test_the_token_is_taken_after_the_limiters_wait(tmp_path: Path, make_sim) -> None:
    # Tokens are announced to live 1 s and the tap is paced at one request every 2 s (a burst
    # of 1): a token taken before the wait is a second past its life when the request leaves;
    # taken after it, it is fresh. The server reports the lifetime without refusing late
    # tokens and counts each late use instead, so the test meets no fatal "fresh token
    # refused" when a loaded machine is slow between taking a token and sending it.
    sim = make_sim(
        conversations=60,
        days=2,
        token_ttl_seconds=1,
        token_expiry_enforced=False,
        job_latency_seconds=0.0,
    )
    config = sim_config(
        sim,
        end_date="2024-01-02T00:00:00Z",
        max_requests_per_minute=30,
        max_jobs_in_flight=1,
    )
    run = run_tap(tmp_path, config)
    paced = sum(sim.stats.requests.values()) - sim.stats.requests["token"]
    assert paced >= 4, "several paced requests, each after a 2 s wait"
    assert run.returncode == 0, run.stderr[-3000:]
    assert sim.stats.faults["token_used_past_expiry"] == 0, "no request left with a dead token"
    assert sim.stats.requests["token"] >= paced, "each wait outlived the token before it"
    assert set(run.ids()) == truth(sim, end="2024-01-02")


def test_shutdown_deletes_each_job_ahead_with_one_short_try(tmp_path: Path, make_sim) -> None:
    # Three jobs run ahead of the chunk being read; SIGTERM lands while the API fails every
    # call. Each job ahead gets one DELETE, not a full set of retries.
    sim = make_sim(conversations=3000)
    config = sim_config(
        sim,
        chunk_days=1,
        page_size=10,
        max_jobs_in_flight=4,
        max_retries=8,
        end_date="2024-01-11T00:00:00Z",
    )

    def outage_then_sigterm(messages: list[dict[str, Any]]) -> bool:
        if any(m["type"] == "RECORD" for m in messages):
            assert sim.stats.requests["job_submit"] >= 4, "jobs were submitted ahead"
            sim.reset_stats()
            sim.set_faults(error_rate=1.0, error_statuses=(503,))
            return True
        return False

    run = run_tap_until(tmp_path, config, outage_then_sigterm, sig=signal.SIGTERM)
    assert run.returncode == 128 + signal.SIGTERM, run.stderr[-3000:]
    deletes = sim.stats.requests["job_delete"]
    assert deletes >= 3, "the jobs ahead were deleted on the way out"
    assert sim.stats.statuses[503] >= deletes, "and every delete met the outage"
    refused = re.findall(r"Could not delete job (\S+) \(ignored\)", run.stderr)
    assert len(refused) == deletes
    assert len(set(refused)) == deletes, "one try per job"
    assert deletes <= 4, "at most the three jobs ahead and the chunk just finished"
