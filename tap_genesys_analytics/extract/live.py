"""Live conversations: emitted as they are, remembered in STATE, fetched again by id later.

A conversation still live when read (no ``conversationEnd``) is emitted, and its id kept in the
bookmark's ``open`` list while it started before the run's lookback horizon (later ones fall in
the next run's lookback and are read again anyway). A later run fetches the listed ones again
by id before its chunks, emits them, and forgets those that have ended or are no longer served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.extract.bookmark import RunRange
from tap_genesys_analytics.extract.progress import RunCounters
from tap_genesys_analytics.extract.spec import ExtractSpec, Record

LOGGER = logging.getLogger("tap-genesys-analytics")


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
        size = self.settings.open_conversations_per_request
        for offset in range(0, len(due), size):
            batch = due[offset : offset + size]
            found: set[str] = set()
            for record in self.spec.refresh(batch):
                key = self.spec.key(record)
                if key in found or key not in self.open:
                    continue
                found.add(key)
                if self.spec.is_final(record):
                    del self.open[key]
                    ended += 1
                self.counters.refreshed += 1
                self.counters.emitted += 1
                yield record
            for key in set(batch) - found:
                self.open.pop(key, None)
                gone += 1
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
