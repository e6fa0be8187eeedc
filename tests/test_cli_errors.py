"""Every mistake a user can make ends in one line that says what to fix, and no secret leaks."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import CLIENT_ID, CLIENT_SECRET, ROOT, TAP, run_tap, sim_config

BAD_CONFIGS = {
    "missing client_id": ({"client_id": None}, "client_id"),
    "unknown region": ({"region": "mars_west_1", "api_url": None, "login_url": None}, "region"),
    "end before start": ({"end_date": "2023-12-01T00:00:00Z"}, "end_date"),
    "malformed date": ({"start_date": "2024-13-45"}, "start_date"),
    "chunk_days zero": ({"chunk_days": 0}, "chunk_days"),
    "chunk_days negative": ({"chunk_days": -3}, "chunk_days"),
    "http on a public host": ({"api_url": "http://api.mypurecloud.com"}, "https"),
}


@pytest.mark.parametrize(("change", "names"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_one_clear_line(tmp_path: Path, make_sim, change: dict, names: str) -> None:
    sim = make_sim(conversations=10)
    config = {k: v for k, v in {**sim_config(sim), **change}.items() if v is not None}
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [ln for ln in run.stderr.splitlines() if "ERROR" in ln or ln.startswith("tap-")]
    assert errors, run.stderr[-1000:]
    assert names in errors[0] or names in run.error_line
    assert sim.stats.requests["job_submit"] == 0, "nothing is extracted with a bad config"


def test_wrong_secret_fails_on_the_first_request(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=10)
    run = run_tap(tmp_path, sim_config(sim, client_secret="not-the-secret"))
    assert run.returncode == 1
    assert "OAuth login" in run.error_line
    assert "check client_id and client_secret" in run.error_line
    assert sum(sim.stats.requests.values()) == sim.stats.requests["token"] == 1
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "state_text",
    [
        "{not json",
        json.dumps({"bookmarks": {"conversation_details": {"watermark": "yesterday"}}}),
    ],
    ids=["not json", "an unreadable watermark"],
)
def test_a_foreign_or_broken_state_is_one_line(tmp_path: Path, make_sim, state_text: str) -> None:
    sim = make_sim(conversations=10)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(sim_config(sim)))
    state_path = tmp_path / "state.json"
    state_path.write_text(state_text)
    proc = subprocess.run(
        [*TAP, "--config", str(config_path), "--state", str(state_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-genesys-analytics: error:")
    assert "STATE" in last or "not valid JSON" in last
    assert "Traceback" not in proc.stderr
    assert sim.stats.requests["job_submit"] == 0


def test_no_secret_in_any_output_at_debug_level(tmp_path: Path, make_sim) -> None:
    # Tokens run out after five requests: 401s and renewals happen on any machine.
    sim = make_sim(conversations=400, token_max_uses=5, job_latency_seconds=0.3)
    run = run_tap(
        tmp_path,
        sim_config(sim, page_size=100, chunk_days=2, max_jobs_in_flight=1),
        env={"TAP_GENESYS_ANALYTICS_LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr, "the run really logged at debug level"
    output = run.stderr + json.dumps(run.messages)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert CLIENT_SECRET not in output
    assert basic not in output
    assert sim.stats.faults["token_expired"] >= 1, "a token was refused"
    assert "HTTP 401" in run.stderr, "the refusal was logged"
    tokens = sim.issued_tokens()
    assert len(tokens) >= 2, "several tokens were issued"
    for token in tokens:
        assert token not in output
    # A 401 line still says what happened, without the token.
    assert not re.search(r"Bearer\s+\S{8,}", output)
