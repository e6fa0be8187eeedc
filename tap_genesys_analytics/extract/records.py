"""The one record filter of both readers (jobs and the query): window, dedup, day counts, live."""

from __future__ import annotations

import collections
from collections.abc import Hashable, Mapping

from tap_genesys_analytics.extract.dedup import Deduplicator, compact_key
from tap_genesys_analytics.extract.live import LiveConversations
from tap_genesys_analytics.extract.progress import RunCounters
from tap_genesys_analytics.extract.spec import ExtractSpec, Record
from tap_genesys_analytics.windows import DateWindow


class RecordFilter:
    """Decides, record by record, what is emitted, and counts unique records per UTC day."""

    def __init__(self, spec: ExtractSpec, counters: RunCounters, live: LiveConversations) -> None:
        self.spec = spec
        self.counters = counters
        self.live = live
        self.dedup = Deduplicator()
        #: Unique records per start day (``YYYY-MM-DD``) of the chunk in progress.
        self.counts: collections.Counter[str] = collections.Counter()
        #: The run's range: records outside it are read (and counted) but not emitted.
        self.range: DateWindow | None = None
        #: While a short window is read again: every key its pieces returned, new or not.
        self._returned: set[Hashable] | None = None

    def new_chunk(self, counts: Mapping[str, int] | None = None) -> None:
        """Start a chunk: nothing seen yet, or the day counts its saved pages had reached."""
        self.dedup.reset()
        self.counts = collections.Counter(counts or {})

    def admit(self, record: Record, window: DateWindow) -> bool:
        """True when ``record`` is to be emitted.

        It started in ``window`` (or carries no start), has not been read before in this
        chunk, and started in the run's range.
        """
        started = self.spec.start_of(record)
        if started is not None and not window.contains_text(started):
            return False
        key = self.spec.key(record)
        if self._returned is not None:
            self._returned.add(compact_key(key))
        if not self.dedup.first_time(key):
            return False
        if started is None:
            self.counters.emitted += 1
            return True
        self.counts[started[:10]] += 1
        assert self.range is not None  # noqa: S101 - set before the first chunk
        if not self.range.contains_text(started):
            return False
        if self.spec.refresh is not None:
            self.live.note(record, key, started)
        self.counters.emitted += 1
        return True

    def counted(self, window: DateWindow) -> int:
        """Unique records seen in this chunk that started in ``window``'s days."""
        return sum(self.counts[day.isoformat()] for day in window.days)

    def forget_days(self, window: DateWindow) -> None:
        """Drop the day counts of ``window`` (pages a lost job had served to an earlier run)."""
        for day in window.days:
            self.counts.pop(day.isoformat(), None)

    def collect_returned(self) -> None:
        """From now on, remember every key returned (a re-read's distinct count)."""
        self._returned = set()

    def stop_collecting(self) -> int:
        """How many distinct keys were returned since :meth:`collect_returned`."""
        returned = len(self._returned or ())
        self._returned = None
        return returned
