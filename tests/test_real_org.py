"""What a real organisation serves that a well-behaved run never meets, through HTTP.

An envelope-only page after a cursor, purged conversations and capped or too-long by-id
requests, a just-renewed token refused once, by-id answers over 64 KiB, and errors of the
login host. Every test first shows that its simulator fault fired, then what survived it.

Each test marked "fails on 86a853e" was run against that commit (the tap code before these
fixes, with this simulator) and failed there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests

from genesys_simulator import Simulator
from tests.selection import catalog_selecting
from tests.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    TapRun,
    run_tap,
    run_tap_until,
    sim_config,
    truth,
)

#: The run reads 2024-01-25..31 (watermark 28th, lookback 3 days); open ids started earlier.
WATERMARK = "2024-01-28T00:00:00.000Z"
PURGED_START = "2024-01-10T08:00:00.000Z"
BY_IDS = "/api/v2/analytics/conversations/details"


def fired(sim: Simulator, name: str) -> int:
    """How often the simulator's fault ``name`` fired."""
    return int(sim.stats.faults[name])


def assert_exact(run: TapRun, sim: Simulator) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    ids = run.ids()
    assert len(ids) == len(set(ids)), "emitted twice in one run"
    assert set(ids) == truth(sim)


def ended_ids(sim: Simulator, count: int) -> list[str]:
    """``count`` conversations that started 2024-01-05..15 and have ended by the clock."""
    ids = sorted(truth(sim, "2024-01-05", "2024-01-15", final_only=True))
    assert len(ids) >= count
    return ids[:count]


def open_state(sim: Simulator, ids: list[str]) -> dict[str, Any]:
    """A STATE whose ``open`` list names ``ids``: a later run fetches them again by id."""
    ds = sim.dataset
    opened = {}
    for cid in ids:
        index = ds.index_of(cid)
        opened[cid] = PURGED_START if index is None else ds.conversation(index)["conversationStart"]
    return {"bookmarks": {"conversation_details": {"watermark": WATERMARK, "open": opened}}}


def refresh_config(sim: Simulator, **overrides: Any) -> dict[str, Any]:
    return sim_config(sim, lookback_days=3, max_retries=2, **overrides)


def assert_refreshed(run: TapRun, sim: Simulator, ids: list[str]) -> None:
    """Each of ``ids`` emitted once, as it is now.

    An ended conversation is emitted as the job filtered on its id reads it, with participant
    attributes; one still live as the by-id endpoints serve it, without them.
    """
    assert run.returncode == 0, run.stderr[-3000:]
    emitted = {r["conversationId"]: r for r in run.records()}
    assert len(run.ids()) == len(emitted), "emitted twice in one run"
    ds = sim.dataset
    for cid in ids:
        now = ds.conversation(ds.index_of(cid), now=sim.now)
        ended = "conversationEnd" in now
        expected = (
            now if ended else ds.conversation(ds.index_of(cid), now=sim.now, attributes=False)
        )
        assert emitted.get(cid) == expected, cid
    assert set(emitted) == set(ids) | truth(sim, "2024-01-25", "2024-01-31")


def final_open(run: TapRun) -> dict[str, str]:
    assert run.last_state is not None
    return dict(run.last_state["bookmarks"]["conversation_details"].get("open") or {})


def purged_ids(count: int) -> list[str]:
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]


# -- item 4: an envelope-only page after a cursor ------------------------------------------------


def test_a_cursor_to_an_envelope_only_page_ends_the_job(tmp_path: Path, make_sim) -> None:
    """Fails on 86a853e: the empty page was retried until max_retries, and the run stopped."""
    sim = make_sim(conversations=1000, empty_page_after_cursor=True)
    run = run_tap(tmp_path, sim_config(sim, page_size=100, max_retries=2))
    assert fired(sim, "empty_page") >= 1, "a cursor led to an envelope-only page"
    assert_exact(run, sim)
    assert "array nor its envelope" not in run.stderr
    assert "Retrying" not in run.stderr


def test_a_users_job_cursor_to_an_envelope_only_page_ends_the_job(tmp_path: Path, make_sim) -> None:
    """Fails on 86a853e, as for conversations: users jobs share the results reader."""
    sim = make_sim(conversations=200, empty_page_after_cursor=True)
    config = sim_config(sim, page_size=25, max_retries=2)
    catalog = catalog_selecting(tmp_path, config, ["user_details"])
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert fired(sim, "empty_page") >= 1, "a cursor led to an envelope-only page"
    assert run.returncode == 0, run.stderr[-3000:]
    assert {r["userId"] for r in run.records("user_details")} == {
        u["id"] for u in sim.dataset.pools.users
    }
    assert "Retrying" not in run.stderr


def test_a_page_with_an_error_body_instead_of_its_envelope_is_still_bad(
    tmp_path: Path, make_sim
) -> None:
    """The bad_json fault alternates HTML with an error body that has ``dataAvailabilityDate``
    but no records array: retried, never taken for the last page. (On 86a853e the run survives
    too; only the log line differs.)"""
    sim = make_sim(conversations=600, bad_json_rate=0.3)
    run = run_tap(tmp_path, sim_config(sim, page_size=50, max_retries=12))
    assert fired(sim, "bad_json") >= 2, "both kinds of bad body were served"
    assert_exact(run, sim)
    assert "array nor its envelope" in run.stderr


# -- item 5: purged ids, capped and too-long by-id requests --------------------------------------


def test_purged_ids_are_skipped_in_one_line_and_forgotten(tmp_path: Path, make_sim) -> None:
    """Fails on 86a853e: the 404 of the batch ended the run before its first chunk."""
    sim = make_sim(conversations=600, by_id_unknown_404=True)
    known = ended_ids(sim, 30)
    purged = purged_ids(2)
    state = open_state(sim, [*known[:15], purged[0], *known[15:], purged[1]])
    run = run_tap(tmp_path, refresh_config(sim), state=state)
    assert fired(sim, "by_id_unknown") >= 1, "the batch naming a purged id answered 404"
    assert_refreshed(run, sim, known)
    lines = [ln for ln in run.stderr.splitlines() if "no longer served by" in ln]
    assert len(lines) == 1, lines
    assert purged[0] in lines[0]
    assert purged[1] in lines[0]
    assert sim.stats.requests["details_one"] >= 2, "each purged id was asked for alone"
    assert not set(final_open(run)) & set(purged), "purged ids are forgotten"


def test_ids_no_longer_served_are_left_out_and_forgotten(tmp_path: Path, make_sim) -> None:
    """The API's other way: the batch answers 200 without the ids it no longer serves (passed
    on 86a853e already: a test for behaviour that had none)."""
    sim = make_sim(conversations=600)
    known = ended_ids(sim, 10)
    purged = purged_ids(3)
    run = run_tap(tmp_path, refresh_config(sim), state=open_state(sim, [*known, *purged]))
    assert sim.stats.requests["details_multi"] == 1, "one batch"
    assert_refreshed(run, sim, known)
    assert "3 are no longer served (forgotten)" in run.stderr
    assert final_open(run) == {}


def test_by_id_in_several_batches_under_the_apis_cap(tmp_path: Path, make_sim) -> None:
    """Fails on 86a853e: a batch over the cap answered 400 and the run stopped."""
    sim = make_sim(conversations=600, by_id_max_ids=20)
    known = ended_ids(sim, 70)
    config = refresh_config(sim, open_conversations_per_request=50)
    run = run_tap(tmp_path, config, state=open_state(sim, known))
    assert fired(sim, "by_id_too_many") >= 1, "a batch over the cap was refused"
    assert_refreshed(run, sim, known)
    # 50 refused, 25 refused, then batches of 13 for the rest of the run: two refusals only.
    assert fired(sim, "by_id_too_many") == 2
    assert sim.stats.requests["details_multi"] == 2 + 6
    assert final_open(run) == {}


def test_a_too_long_by_id_url_is_split(tmp_path: Path, make_sim) -> None:
    """Fails on 86a853e: the 414 ended the run."""
    sim = make_sim(conversations=600, max_url_length=1500)
    known = ended_ids(sim, 60)
    config = refresh_config(sim, open_conversations_per_request=50)
    run = run_tap(tmp_path, config, state=open_state(sim, known))
    assert fired(sim, "url_too_long") >= 1, "a URL over the limit answered 414"
    assert_refreshed(run, sim, known)
    assert fired(sim, "url_too_long") == 1, "the smaller batch size is kept for the run"


# -- item 7: by-id answers over 64 KiB -----------------------------------------------------------


def test_by_id_answers_over_64_kib_are_read_once_and_pages_keep_streaming(
    tmp_path: Path, make_sim
) -> None:
    """Fails on 86a853e: an envelope error after the records, the batch asked for twice, and
    every later job page parsed in full."""
    sim = make_sim(conversations=600)
    known = ended_ids(sim, 40)
    session = requests.Session()
    token = session.post(
        sim.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    ).json()["access_token"]
    answer = session.get(
        sim.url + BY_IDS,
        params={"id": ",".join(known)},
        headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
        timeout=30,
    )
    assert len(answer.content) > 64 * 1024, "the by-id answer is over 64 KiB"
    sim.reset_stats()

    run = run_tap(tmp_path, refresh_config(sim), state=open_state(sim, known))
    assert_refreshed(run, sim, known)
    assert sim.stats.requests["details_multi"] == 1, "the batch was asked for once"
    assert "parsing pages in full" not in run.stderr
    job_pages = sum(sim.stats.result_pages.values())
    assert job_pages > 0
    summary = re.search(r"(\d+) page\(s\) parsed as they streamed, (\d+) in full", run.stderr)
    assert summary, run.stderr[-2000:]
    assert int(summary.group(2)) == 0, "no page parsed in full"
    assert int(summary.group(1)) >= job_pages + 1, "every job page and the by-id answer streamed"


# -- item 6: a just-renewed token refused once ---------------------------------------------------


def _revoke_after(sim: Simulator, records: int, revoked: list[int]) -> Any:
    def stop(messages: list[dict[str, Any]]) -> bool:
        if not revoked and sum(m["type"] == "RECORD" for m in messages) >= records:
            revoked.append(sim.revoke_tokens())
        return False

    return stop


def test_a_renewed_token_refused_once_is_renewed_again(tmp_path: Path, make_sim) -> None:
    """Fails on 86a853e: the 401 on the renewed token's first use was taken as final."""
    sim = make_sim(conversations=1500, renewed_token_refusals=1)
    config = sim_config(sim, page_size=100, max_jobs_in_flight=1)
    revoked: list[int] = []
    run = run_tap_until(tmp_path, config, _revoke_after(sim, 150, revoked))
    assert revoked == [1], "the token in use was revoked mid-run"
    assert fired(sim, "transient_401") == 1, "the renewed token was refused once"
    assert_exact(run, sim)
    assert sim.stats.statuses[401] == 2, "the revoked token, then the renewed one"
    assert sim.stats.requests["token"] == 3, "renewed twice"


def test_renewed_tokens_refused_for_good_stop_within_the_retry_budget(
    tmp_path: Path, make_sim
) -> None:
    """Fails on 86a853e, which stopped at the first refusal of a renewed token."""
    sim = make_sim(conversations=1500, renewed_token_refusals=1000)
    config = sim_config(sim, page_size=100, max_jobs_in_flight=1, max_retries=3)
    revoked: list[int] = []
    run = run_tap_until(tmp_path, config, _revoke_after(sim, 150, revoked))
    assert revoked == [1]
    assert fired(sim, "transient_401") >= 1
    assert run.returncode == 1
    assert "HTTP 401" in run.error_line
    assert "still failing after 4 tries" in run.error_line
    # Each request in flight renews at most once per try: bounded, not a loop.
    assert fired(sim, "transient_401") <= 2 * 4
    assert "Traceback" not in run.stderr


# -- the login host: 429 and 5xx; Retry-After on 503 ---------------------------------------------


def _waits(stderr: str, label: str) -> list[float]:
    pattern = rf"Retrying {re.escape(label)}.* in ([\d.]+) s"
    return [float(w) for w in re.findall(pattern, stderr)]


def test_login_host_429_and_5xx_are_retried_after_their_retry_after(
    tmp_path: Path, make_sim
) -> None:
    """Fails on 86a853e: the login's Retry-After was ignored (a 0.2 s backoff instead)."""
    sim = make_sim(conversations=100, login_errors=(429, 503, 500), retry_after_seconds=2)
    run = run_tap(tmp_path, sim_config(sim, max_retries=4))
    assert fired(sim, "login_error") == 3, "three token requests refused"
    assert_exact(run, sim)
    waits = _waits(run.stderr, "POST /oauth/token")
    assert len(waits) == 3, run.stderr[-2000:]
    assert waits[0] >= 2.0, "429: Retry-After honoured"
    assert waits[1] >= 2.0, "503: Retry-After honoured"
    assert waits[2] < 2.0, "500 without Retry-After: the capped backoff"
    assert sim.stats.requests["token"] == 4


def test_api_503_with_retry_after_waits_that_long(tmp_path: Path, make_sim) -> None:
    """Passed on 86a853e already: a test for behaviour that had none."""
    sim = make_sim(conversations=100, api_errors=(503,), retry_after_seconds=2)
    run = run_tap(tmp_path, sim_config(sim, max_retries=2))
    assert fired(sim, "scripted_error") == 1, "one analytics request answered 503"
    assert_exact(run, sim)
    waits = _waits(run.stderr, "")
    assert waits == [w for w in waits if w >= 2.0]
    assert len(waits) == 1, run.stderr[-2000:]
