"""The adapter to singer-sdk: the one module that uses its private API (checked against 0.54.9).

Everything else in the package calls the public methods of :class:`AdaptedStream` and
:class:`AdaptedTap`; when singer-sdk changes, this module and ``tests/test_sdk_adapter.py`` (which
checks every name below exists with the signature used here, and that the fast path writes
what the SDK's own path writes) are the places to look. The private uses, and why:

* ``Stream._write_record_message`` (overridden): the SDK's per-record steps (pruning deselected
  properties, type conformance, stream maps) change nothing when every property is selected,
  conformance is off and no map or flattening is set; skipping them halves the per-record
  cost outside parsing. The fast path builds the RECORD message the SDK's
  ``_generate_record_messages`` would (``Stream._stream_version``, ``Stream._tap``, and
  ``singer_sdk.helpers._util.utc_now`` for ``time_extracted``), then marks the state unflushed
  as the SDK does.
* ``Stream._write_schema_message``: a child table fed from its parent's pass must write its
  SCHEMA before its first row, since the SDK never syncs that child itself.
* ``Stream._write_state_message`` and ``state_manager.is_flushed``: a STATE after every results
  page (the SDK writes one only every 10,000 records or at a stream's end), which is what
  makes a killed run resume from its last page. The flag is cleared first because the SDK
  skips the write when it believes nothing changed, and the runner edits the state in place.
* ``Tap._handle_termination`` (overridden): the SDK exits 0 on SIGTERM/SIGINT, so a scheduler
  would take an interrupted run for a finished one; the tap exits 128 + the signal instead,
  after writing the STATE reached.

One public behaviour is worked around too: the config schema shows each setting's range
(``--about``, Meltano), but the SDK's own check of it would differ from the tap's. The SDK reads
a config file's numbers as ``Decimal``, and ``Decimal("0.1") < 0.1`` holds (the float is a
hair above 0.1), so a value given exactly at a fractional bound would be refused; and its
message would replace the tap's sentence that names the setting and its range. The SDK
validates against the instance's ``config_jsonschema``, so each tap validates with a copy
without ``minimum``/``maximum``; ``config.settings`` checks the ranges, from the same table.
"""

from __future__ import annotations

import copy
import sys
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream, Tap
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage

if TYPE_CHECKING:
    from types import FrameType

#: The singer-sdk release every private use above was read in and tested against.
CHECKED_AGAINST = "0.54.9"


class AdaptedStream(Stream):
    """A Stream with a fast RECORD path and public calls to write SCHEMA, RECORD and STATE now."""

    def _write_record_message(self, record: dict[str, Any]) -> None:
        """Write a RECORD straight to the writer when the SDK's own steps would not change it.

        For each record the SDK prunes deselected properties, conforms types and runs the
        stream maps. With every property selected, conformance off and no map or flattening,
        all three return the record unchanged, and skipping them halves the per-record cost
        outside parsing (README, implementation notes). Anything else takes the SDK's path.
        """
        if not record.keys() <= self._declared():
            record = self._without_undeclared(record)
        if not self._plain_records():
            super()._write_record_message(record)
            return
        self._tap.write_message(
            RecordMessage(
                stream=self.name,
                record=record,
                version=self._stream_version,
                time_extracted=utc_now(),
            )
        )
        self.state_manager.is_flushed = False

    def _declared(self) -> frozenset[str]:
        """The schema's top-level properties (read once: the schema is fixed for the run)."""
        declared: frozenset[str] | None = getattr(self, "_declared_names", None)
        if declared is None:
            declared = frozenset(self.schema.get("properties", {}))
            self._declared_names = declared
        return declared

    def _without_undeclared(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record without the top-level fields its schema does not declare.

        A field the API adds later would reach the target as a column it was never told of,
        which a loader may refuse (target-csv's writer raises on it). It is left out, and named
        once per run; a field added inside a nested object or list stays in that JSON value.
        The check costs one key-set comparison per record; only a record with an unknown field
        is copied.
        """
        declared = self._declared()
        unknown = record.keys() - declared
        warned: set[str] = vars(self).setdefault("_warned_undeclared", set())
        for name in sorted(unknown - warned):
            self.logger.warning(
                "%s: the API serves a field %r the schema does not declare; it is not written "
                "(regenerate the schemas to keep it)",
                self.name,
                name,
            )
        warned |= unknown
        return {k: v for k, v in record.items() if k in declared}

    def _plain_records(self) -> bool:
        """Whether records go out exactly as parsed (decided once: catalog and maps are fixed)."""
        plain: bool | None = getattr(self, "_plain", None)
        if plain is None:
            maps = self.stream_maps
            plain = (
                self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
                and len(maps) == 1
                and type(maps[0]) is SameRecordTransform
                and not maps[0].flattening_enabled
                and maps[0].stream_alias == self.name
                and all(self.mask.values())
            )
            self._plain = plain
        return plain

    def write_record(self, record: dict[str, Any]) -> None:
        """Write one RECORD now, outside the SDK's sync loop (a child table's row)."""
        self._write_record_message(record)

    def write_schema(self) -> None:
        """Write this stream's SCHEMA now (a child table, before its first row)."""
        self._write_schema_message()

    def save_state(self) -> None:
        """Write a STATE message now: called by the runner after every page."""
        self.state_manager.is_flushed = False
        self._write_state_message()


class AdaptedTap(Tap):
    """A Tap that leaves range checks to its settings and exits non-zero on a signal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the SDK's __init__, which validates the config against this attribute.
        vars(self)["config_jsonschema"] = without_bounds(type(self).config_jsonschema)
        super().__init__(*args, **kwargs)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """On SIGTERM/SIGINT: write the STATE reached, then exit non-zero (128 + signal).

        The SDK exits 0 here; a scheduler would then take an interrupted run for a finished one.
        """
        try:
            self.state_writer.write_state(self.state)
        finally:
            self.logger.warning("Interrupted by signal %d; resume from the STATE above", signum)
            sys.exit(128 + signum)


def without_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config schema without its settings' ``minimum`` and ``maximum``."""
    plain = copy.deepcopy(schema)
    for prop in plain.get("properties", {}).values():
        prop.pop("minimum", None)
        prop.pop("maximum", None)
    return plain
