"""What every step of one stream's run shares, handed to each step as one object."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.extract.bookmark import Bookmark
from tap_genesys_analytics.extract.progress import Progress, RunCounters
from tap_genesys_analytics.extract.records import RecordFilter
from tap_genesys_analytics.extract.spec import ExtractSpec


@dataclasses.dataclass
class RunContext:
    """The run's spec, settings, bookmark, record filter, counters, progress and STATE writer."""

    spec: ExtractSpec
    settings: Settings
    bookmark: Bookmark
    records: RecordFilter
    counters: RunCounters
    progress: Progress
    #: Writes the bookmark into the stream's state and a STATE message.
    save: Callable[[], None]
