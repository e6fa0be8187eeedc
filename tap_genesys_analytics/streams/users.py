"""User detail streams: the users details jobs through the same chunk runner as conversations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.extract.runner import ChunkRunner
from tap_genesys_analytics.extract.spec import ExtractSpec
from tap_genesys_analytics.genesys import users
from tap_genesys_analytics.genesys.jobs import USER_JOBS, JobsAPI
from tap_genesys_analytics.streams.base import GenesysStream, child_stream
from tap_genesys_analytics.windows import DateWindow, floor_day, parse_iso, plan_grid

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class UserDetailsStream(GenesysStream):
    """Each user's presence and routing-status timeline per chunk, from the users details jobs.

    Whole UTC days only, and only days before the users jobs' ``dataAvailabilityDate``. A user
    detail summarises its window, so the windows are cells of a fixed grid (``chunk_days`` long,
    counted from :data:`~tap_genesys_analytics.windows.GRID_EPOCH`) and each detail is keyed by
    its whole cell: the row of a cell cut short by the end of one run is replaced by the next
    run's row for the same cell, never left beside it.
    """

    name = "user_details"
    primary_keys: ClassVar[list[str]] = ["userId", "intervalStart", "intervalEnd"]
    replication_key = None

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the chunk runner over whole days of ``[start_date, end_date)``."""
        settings = self.genesys_tap.settings
        client = self.genesys_tap.client
        jobs = JobsAPI(client, USER_JOBS)
        count = users.UsersQuery(client)
        start = floor_day(settings.start_date)

        def plan(first: dt.datetime, end: dt.datetime) -> list[DateWindow]:
            return plan_grid(first, end, settings.chunk_days, not_before=start)

        spec = ExtractSpec(
            jobs=jobs,
            key=lambda r: str(r.get("userId")),
            start_of=users.filed_at,
            job_body=users.job_body,
            expected_count=count.unique_users,
            label=self.name,
            transform=users.CellKeys(settings.chunk_days),
            splittable=False,
            plan=plan,
        )
        runner = ChunkRunner(spec, settings, self.stream_state, self.save_state)
        end = settings.run_end()
        available = jobs.availability()
        if available:
            end = min(end, parse_iso(available))
        self.logger.info("%s: jobs hold data up to %s", self.name, available or "(not reported)")
        end = max(floor_day(end), start)
        yield from self.with_children(runner.run(start, end))
        self.logger.info(
            "%s: %d records emitted, %d repeats dropped, %d users query requests for counts; "
            "%s so far",
            self.name,
            runner.emitted,
            runner.dedup.dropped,
            count.requests,
            client.pages.summary(),
        )


UserPresenceStream = child_stream(
    "user_presence",
    ["userId", "startTime", "systemPresence"],
    UserDetailsStream,
    users.presence_rows,
    per_run=lambda: users.StatusRows("primaryPresence", "systemPresence"),
)
UserRoutingStatusStream = child_stream(
    "user_routing_status",
    ["userId", "startTime", "routingStatus"],
    UserDetailsStream,
    users.routing_status_rows,
    per_run=lambda: users.StatusRows("routingStatus", "routingStatus"),
)

USER_STREAMS: list[type[GenesysStream]] = [
    UserDetailsStream,
    UserPresenceStream,
    UserRoutingStatusStream,
]
