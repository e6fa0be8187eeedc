"""The base of every stream: schema from the package, settings and client from the tap."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_genesys_analytics.streams.sdk import AdaptedStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_genesys_analytics.tap import TapGenesysAnalytics


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped in ``schemas/<name>.json``."""
    text = resources.files("tap_genesys_analytics.schemas").joinpath(f"{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


class GenesysStream(AdaptedStream):
    """Base for every stream: schema from the package, settings and client from the tap."""

    #: Records are emitted as parsed from the API (JSON in, JSON out); the schemas are complete,
    #: so per-record conformance would only cost time (see README, implementation notes).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Without a catalog only conversation_details runs: every other stream needs its own
    #: permissions (users, aggregates, directory) or multiplies the output (child tables), so
    #: it is chosen on purpose (``meltano select``).
    selected_by_default = False

    def __init__(self, tap: TapGenesysAnalytics) -> None:
        super().__init__(tap, schema=load_schema(self.name))
        self.genesys_tap = tap

    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No per-record child syncs: children are filled from this stream's own pass.

        The SDK would run a child's whole sync (SCHEMA, STATE, logs) once per parent record;
        :meth:`with_children` writes the child rows directly instead.
        """
        return ()

    def with_children(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Emit each record's rows for the selected child streams, then pass the record on."""
        children = [c for c in self.child_streams if isinstance(c, ChildStream) and c.selected]
        if not children:
            yield from records
            return
        for child in children:
            child.start()
        for record in records:
            for child in children:
                child.emit_rows(record)
            yield record
        for child in children:
            child.finish()


RowBuilder = Callable[[dict[str, Any]], Iterable[dict[str, Any]]]


class ChildStream(GenesysStream):
    """A table filled from its parent's records: it never downloads anything itself.

    Selecting only child streams still runs the parent's extraction (the SDK syncs a parent
    with selected descendants) but writes none of the parent's records.
    """

    rows: ClassVar[Callable[[dict[str, Any]], Iterable[dict[str, Any]]]]
    #: Builds a fresh row builder for each run, for tables whose rows depend on what the run
    #: already wrote (a status served whole to two cells); None: ``rows`` is stateless.
    rows_per_run: ClassVar[Callable[[], RowBuilder] | None] = None
    state_partitioning_keys: ClassVar[list[str]] = []

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Nothing: the parent writes this stream's rows as it reads its own pages."""
        return ()

    def start(self) -> None:
        """Write the SCHEMA before the first row."""
        self.emitted = 0
        factory = type(self).rows_per_run
        self._rows: RowBuilder = factory() if factory is not None else type(self).rows
        self.write_schema()

    def emit_rows(self, parent: dict[str, Any]) -> None:
        """Write this table's rows for one parent record."""
        for row in self._rows(parent):
            self.write_record(row)
            self.emitted += 1

    def finish(self) -> None:
        """Log the count; the parent's STATE covers these rows."""
        self.logger.info("%s: %d rows written", self.name, self.emitted)


StreamT = TypeVar("StreamT", bound=GenesysStream)


def stream_class(base: type[StreamT], name: str, doc: str, **attributes: Any) -> type[StreamT]:
    """A subclass of ``base`` for one stream, named after it (user_presence: UserPresenceStream)."""
    class_name = "".join(part.title() for part in name.split("_")) + "Stream"
    return type(class_name, (base,), {"__doc__": doc, "name": name, **attributes})


def child_stream(
    name: str,
    keys: list[str],
    parent: type[GenesysStream],
    builder: RowBuilder,
    per_run: Callable[[], RowBuilder] | None = None,
) -> type[ChildStream]:
    """A table filled from each ``parent`` record by ``builder`` (or one ``per_run()`` makes)."""
    return stream_class(
        ChildStream,
        name,
        f"``{name}``: rows from each {parent.__name__} record.",
        primary_keys=keys,
        parent_stream_type=parent,
        rows=staticmethod(builder),
        rows_per_run=None if per_run is None else staticmethod(per_run),
    )
