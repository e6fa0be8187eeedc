"""The bookmark: where one stream's extraction stands, typed, validated once, written as STATE.

Its shape in STATE is the one every earlier version wrote, so their bookmarks resume::

    {"watermark": ..., "data_availability": ...,
     "run": {"start", "end", "query_from", "refreshed"?},
     "chunk": {"interval", "phase", "pages", "job_id", "cursor", "counts"}   (read by a job)
            | {"interval", "source": "query", "page"},                       (by the query)
     "open": {conversationId: conversationStart}}

* ``watermark``: everything that started before it is extracted and verified.
* ``run``: the range of a run not finished yet, resumed as it was planned.
* ``chunk``: the chunk in progress, its job and the cursor of the next page; ``counts`` holds
  the unique records seen per UTC day, for the completeness check. ``phase`` is ``main`` while
  the job is paged, ``verify`` once its last page is read, ``split`` while it is read again.
* ``open``: conversations emitted while still live, fetched again by id on later runs.

Keys of the stream's state that are not listed here are the SDK's and are left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, MutableMapping
from typing import Any

from tap_genesys_analytics.errors import StateError
from tap_genesys_analytics.windows import parse_interval, parse_iso

QUERY_SOURCE = "query"


@dataclasses.dataclass
class RunRange:
    """The range of an unfinished run and where the details query takes over from jobs."""

    start: str
    end: str
    query_from: str
    #: Whether the open conversations were already fetched again in this run.
    refreshed: bool = False

    def to_state(self) -> dict[str, Any]:
        """The ``run`` entry of STATE."""
        saved: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "query_from": self.query_from,
        }
        if self.refreshed:
            saved["refreshed"] = True
        return saved


@dataclasses.dataclass
class ChunkPosition:
    """The chunk in progress: its job and next cursor, or its next query page."""

    interval: str
    by_query: bool = False
    #: Jobs: ``main`` → ``verify`` → ``split`` (see the module docstring).
    phase: str | None = None
    pages: int = 0
    job_id: str | None = None
    cursor: str | None = None
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Query: the last page read.
    page: int = 0

    def to_state(self) -> dict[str, Any]:
        """The ``chunk`` entry of STATE."""
        if self.by_query:
            return {"interval": self.interval, "source": QUERY_SOURCE, "page": self.page}
        saved: dict[str, Any] = {
            "interval": self.interval,
            "phase": self.phase,
            "pages": self.pages,
        }
        if self.job_id is not None:
            saved.update({"job_id": self.job_id, "cursor": self.cursor, "counts": self.counts})
        return saved

    @classmethod
    def from_state(cls, saved: Mapping[str, Any]) -> ChunkPosition:
        """Read a ``chunk`` entry (raises KeyError, TypeError or ValueError when unreadable)."""
        interval = str(saved["interval"])
        parse_interval(interval)
        if saved.get("source") == QUERY_SOURCE:
            return cls(interval, by_query=True, page=int(saved.get("page", 0)))
        job_id = saved.get("job_id")
        cursor = saved.get("cursor")
        counts = {str(day): int(n) for day, n in (saved.get("counts") or {}).items()}
        return cls(
            interval,
            phase=saved.get("phase"),
            pages=int(saved.get("pages", 0)),
            job_id=None if job_id is None else str(job_id),
            cursor=None if cursor is None else str(cursor),
            counts=counts,
        )


@dataclasses.dataclass
class Bookmark:
    """One stream's bookmark; the only object that reads or writes the tap's STATE keys."""

    watermark: str | None = None
    data_availability: str | None = None
    run: RunRange | None = None
    chunk: ChunkPosition | None = None
    open: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], label: str) -> Bookmark:
        """Read and check the tap's keys of ``state``; refuse a bookmark this tap cannot read.

        Called before anything is requested, so a bad bookmark costs no API call.
        """
        try:
            return cls._read(state)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = (
                str(exc)
                if isinstance(exc, _ShapeError)
                else (f"unreadable value ({type(exc).__name__}: {exc})")
            )
        msg = (
            f"the STATE for stream {label} is not one this tap wrote ({problem}); "
            "remove it (meltano state clear) or run with --full-refresh"
        )
        raise StateError(msg)

    @classmethod
    def _read(cls, state: Mapping[str, Any]) -> Bookmark:
        times = {key: _time(state.get(key)) for key in ("watermark", "data_availability")}
        run = state.get("run")
        chunk = state.get("chunk")
        opened = state.get("open")
        if opened is not None and not isinstance(opened, Mapping):
            raise _ShapeError("open must map conversation ids to start times")
        return cls(
            watermark=times["watermark"],
            data_availability=times["data_availability"],
            run=None
            if run is None
            else RunRange(
                start=_checked(run["start"]),
                end=_checked(run["end"]),
                query_from=_checked(run["query_from"]),
                refreshed=bool(run.get("refreshed")),
            ),
            chunk=None if chunk is None else ChunkPosition.from_state(chunk),
            open={str(key): _checked(started) for key, started in (opened or {}).items()},
        )

    def write_to(self, state: MutableMapping[str, Any]) -> None:
        """Write the tap's keys into the stream's state; absent ones are removed."""
        entries: dict[str, Any] = {
            "watermark": self.watermark,
            "data_availability": self.data_availability,
            "run": None if self.run is None else self.run.to_state(),
            "chunk": None if self.chunk is None else self.chunk.to_state(),
            "open": dict(self.open) or None,
        }
        for key, value in entries.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value


class _ShapeError(ValueError):
    """A bookmark entry of the wrong kind (its message is shown as it is)."""


def _checked(value: Any) -> str:
    text = str(value)
    parse_iso(text)
    return text


def _time(value: Any) -> str | None:
    return None if value is None else _checked(value)
