"""What the algorithm needs to know about one kind of record: how to read it and key it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from tap_genesys_analytics.genesys.jobs import JobsAPI
from tap_genesys_analytics.windows import DateWindow

Record = dict[str, Any]


@dataclasses.dataclass
class ExtractSpec:
    """One kind of record: its jobs, key, start, job body and the API's count of it."""

    jobs: JobsAPI
    key: Callable[[Record], str]
    start_of: Callable[[Record], str | None]
    job_body: Callable[[DateWindow, bool], dict[str, Any]]
    expected_count: Callable[[DateWindow], int] | None
    label: str
    #: False for a record that is not final yet (a conversation still live): it is emitted as
    #: it is, and its key is kept in STATE so that later runs fetch it again by id.
    is_final: Callable[[Record], bool] = lambda _record: True
    #: Fetches records again by key (the details endpoint by id); needed when ``is_final``
    #: can be False, so that a record emitted live is emitted again once it is final.
    refresh: Callable[[list[str]], Iterator[Record]] | None = None
    #: A job body that selects only the given keys over a window of their start days. Set when
    #: ``refresh`` serves less than jobs do (the by-id endpoint leaves out participant
    #: ``attributes``): a refreshed record that is final is then read again by such a job, and
    #: that version, the complete one, is emitted.
    keys_job_body: Callable[[DateWindow, list[str]], dict[str, Any]] | None = None
    #: Applied to each record first, with the window its job covered: for records that carry
    #: no interval of their own (user details summarise the window they were asked for).
    transform: Callable[[Record, DateWindow], Record] | None = None
    #: False when a record summarises its whole window: records of smaller windows are other
    #: records, so a short count is only warned about instead of re-reading it in pieces.
    splittable: bool = True
    #: How the job part of a run is cut into chunks; None cuts ``chunk_days`` from the run's start.
    plan: Callable[[dt.datetime, dt.datetime], list[DateWindow]] | None = None
