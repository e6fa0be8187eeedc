"""Live conversations: emitted as they are, remembered in STATE, fetched again by id later.

A conversation still live when read (no ``conversationEnd``) is emitted, and its id kept in the
bookmark's ``open`` list while it started before the run's lookback horizon (later ones fall in
the next run's lookback and are read again anyway). A later run fetches the listed ones again
by id before its chunks, emits them, and forgets those that have ended or are no longer served.

The by-id endpoint serves conversations without participant ``attributes`` (jobs carry them),
and no later job reads a day before the lookback, so the ended version must not come from it
alone: the ended ones are read again by jobs filtered on their ids over their start days, and
that version is emitted. One a job does not serve ended yet (its data lags) is emitted as the
by-id version and stays listed, so the next run's job can.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.errors import GenesysError
from tap_genesys_analytics.extract.bookmark import RunRange
from tap_genesys_analytics.extract.progress import RunCounters
from tap_genesys_analytics.extract.spec import ExtractSpec, Record
from tap_genesys_analytics.windows import DateWindow, floor_day, parse_iso

LOGGER = logging.getLogger("tap-genesys-analytics")
#: Ids per job filter: one flat ``or`` of conversationId predicates (filters nest at most two
#: levels). The API documents no predicate count; 100 keeps a body near 10 KB, far below the
#: request size cap (fact sheet §5).
IDS_PER_JOB = 100
#: Start days one such job spans at most (the query's limit with a filter; jobs document none).
DAYS_PER_JOB = 31


class LiveConversations:
    """The bookmark's ``open`` list: noted while reading, refreshed by id, kept bounded."""

    def __init__(
        self,
        spec: ExtractSpec,
        settings: Settings,
        counters: RunCounters,
        open_ids: dict[str, str],
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.counters = counters
        #: conversationId → conversationStart; the bookmark's own dict.
        self.open = open_ids
        #: Live records that started before this are remembered for a later run.
        self.horizon = ""

    def note(self, record: Record, key: str, started: str) -> None:
        """Remember a live record for a later run; forget one that has ended."""
        if self.spec.is_final(record):
            self.open.pop(key, None)
            return
        self.counters.live_emitted += 1
        if started[:19] < self.horizon:
            self.open[key] = started
        else:
            self.open.pop(key, None)

    def refresh(
        self, before: str, run: RunRange | None, save: Callable[[], None]
    ) -> Iterator[Record]:
        """Fetch again, by id, the records earlier runs emitted live and this run won't read.

        Once per run: a resumed run that did it already (``run.refreshed``) does not again.
        """
        due = [key for key, started in self.open.items() if started[:19] < before]
        if self.spec.refresh is None or not due or (run is not None and run.refreshed):
            return
        LOGGER.info(
            "%s: fetching %d conversation(s) that were live at an earlier run again by id",
            self.spec.label,
            len(due),
        )
        ended = gone = 0
        #: Ended by id, waiting for a job's version: key → the by-id record.
        pending: dict[str, Record] = {}
        size = self.settings.open_conversations_per_request
        for offset in range(0, len(due), size):
            batch = due[offset : offset + size]
            found: set[str] = set()
            for record in self.spec.refresh(batch):
                key = self.spec.key(record)
                if key in found or key not in self.open:
                    continue
                found.add(key)
                self.counters.refreshed += 1
                if self.spec.is_final(record):
                    ended += 1
                    if self.spec.keys_job_body is not None:
                        pending[key] = record
                        continue
                    del self.open[key]
                self.counters.emitted += 1
                yield record
            for key in set(batch) - found:
                self.open.pop(key, None)
                gone += 1
            save()
        if pending:
            yield from self._final_by_job(pending)
            save()
        if run is not None:
            run.refreshed = True
        LOGGER.info(
            "%s: %d of them have ended, %d are still live, %d are no longer served (forgotten)",
            self.spec.label,
            ended,
            len(due) - ended - gone,
            gone,
        )

    def _final_by_job(self, pending: dict[str, Record]) -> Iterator[Record]:
        """Emit the job version of each ended record; the by-id one where no job served it."""
        assert self.spec.keys_job_body is not None  # noqa: S101 - checked by the caller
        served: set[str] = set()
        for window, keys in self._job_batches(pending):
            context = f"{self.spec.label} {len(keys)} ended conversation(s) in {window.interval}"
            try:
                for record in self.spec.jobs.run_through(
                    self.spec.keys_job_body(window, keys),
                    context=context,
                    page_size=self.settings.page_size,
                    poll_max=self.settings.job_poll_max_seconds,
                    timeout=self.settings.job_timeout_minutes * 60,
                ):
                    key = self.spec.key(record)
                    if key not in pending or key in served or not self.spec.is_final(record):
                        continue
                    served.add(key)
                    self.open.pop(key, None)
                    self.counters.final_by_job += 1
                    self.counters.emitted += 1
                    yield record
            except GenesysError as exc:
                LOGGER.warning("%s: %s; a later run reads them again", context, exc)
        waiting = [key for key in pending if key not in served]
        if waiting:
            LOGGER.warning(
                "%s: %d ended conversation(s) not served ended by a job yet (its data lags "
                "behind): emitted as the by-id endpoint serves them, without participant "
                "attributes, and kept in the open list for the next run's job",
                self.spec.label,
                len(waiting),
            )
        for key in waiting:
            self.counters.emitted += 1
            yield pending[key]

    def _job_batches(self, pending: dict[str, Record]) -> Iterator[tuple[DateWindow, list[str]]]:
        """Group keys by start: at most ``IDS_PER_JOB`` over at most ``DAYS_PER_JOB`` days."""
        ordered = sorted(pending, key=lambda key: self.open[key])
        keys: list[str] = []
        first = last = dt.datetime.min
        for key in ordered:
            day = floor_day(parse_iso(self.open[key]))
            if keys and (len(keys) >= IDS_PER_JOB or day - first >= dt.timedelta(DAYS_PER_JOB)):
                yield DateWindow(first, last + dt.timedelta(days=1)), keys
                keys = []
            if not keys:
                first = day
            keys.append(key)
            last = day
        if keys:
            yield DateWindow(first, last + dt.timedelta(days=1)), keys

    def bound(self) -> None:
        """Keep the list within ``max_open_conversations``, dropping the oldest."""
        excess = len(self.open) - self.settings.max_open_conversations
        if excess <= 0:
            return
        oldest = sorted(self.open.items(), key=lambda item: item[1])[:excess]
        for key, _ in oldest:
            del self.open[key]
        LOGGER.warning(
            "%s: %d conversations are still live, more than max_open_conversations (%d): the "
            "%d oldest (started %s to %s) are no longer fetched again; the loaded rows keep "
            "their live version unless a later run's lookback reaches their start day",
            self.spec.label,
            len(self.open) + excess,
            self.settings.max_open_conversations,
            excess,
            oldest[0][1],
            oldest[-1][1],
        )
