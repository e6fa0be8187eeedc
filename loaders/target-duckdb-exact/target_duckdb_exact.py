r"""target-duckdb 0.8.0 with three defects of that release fixed, until a release carries the fixes.

1. ``DbSync.load_rows`` loads each batch with ``COPY … FROM '<file>' WITH (new_line '\r\n')``,
   leaving header detection to DuckDB's CSV sniffer: when a batch's first row looks like a header,
   the sniffer takes it for one and the row is silently dropped (exit 0). It
   also ignores the loader's own ``delimiter``/``quotechar`` settings, and writes an empty string
   as NULL, which a key column refuses. Upstream's fix (``HEADER false``) is merged but
   unreleased; this applies it with the dialect spelled out, the sniffer off and ``""`` kept.
2. ``persist_lines`` ends by passing on the STATE of its last flush: when the records end exactly
   on a full batch, the STATE messages the tap wrote after the last record are never passed on, so
   the next run re-reads from an older bookmark. Here, once every row is committed, the last STATE
   received is passed on.

Nothing else changes: ``target-duckdb-exact`` applies the fixes, then runs target-duckdb's ``main``.
Drop this package (back to ``pip_url: target-duckdb`` and its own executable) once a target-duckdb
release fixes them; ``main`` refuses any release other than the one it was written against.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Iterable, Iterator
from importlib.metadata import version
from typing import Any

import target_duckdb
from target_duckdb.db_sync import DbSync, flatten_record

PATCHED_RELEASE = "0.8.0"


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def copy_statement(table: str, path: str, delimiter: str, quotechar: str) -> str:
    """COPY a header-less CSV written by ``csv_line``.

    The dialect is stated in full and ``AUTO_DETECT false`` keeps the sniffer from guessing any
    of it. Every value is quoted and NULL is an unquoted empty field, so an empty string stays an
    empty string (``ALLOW_QUOTED_NULLS false``).
    """
    options = ", ".join(
        (
            "FORMAT csv",
            "HEADER false",
            f"DELIMITER {_literal(delimiter)}",
            f"QUOTE {_literal(quotechar)}",
            f"ESCAPE {_literal(quotechar)}",
            "NEW_LINE '\\r\\n'",
            "AUTO_DETECT false",
            "ALLOW_QUOTED_NULLS false",
        )
    )
    return f"COPY {table} FROM {_literal(path)} ({options})"


def csv_line(values: Iterable[Any], delimiter: str, quotechar: str) -> str:
    """One CSV line: NULL as an empty field, anything else quoted, quotes inside doubled."""
    doubled = quotechar * 2
    return (
        delimiter.join(
            "" if value is None else quotechar + str(value).replace(quotechar, doubled) + quotechar
            for value in values
        )
        + "\r\n"
    )


def load_rows(self: DbSync, records: Iterable[dict[str, Any]], count: int, temp_dir: str) -> None:
    """target-duckdb 0.8.0's ``DbSync.load_rows`` with its CSV file and COPY statement replaced.

    The release writes ``""`` as NULL (``record_to_flattened`` turns every falsy value but 0
    into None), so a key column holding an empty string (``conversation_aggregates.qualifier``)
    fails its NOT NULL constraint; here only None is NULL.
    """
    stream = self.stream_schema_message["stream"]
    self.logger.info("Loading %d rows into '%s'", count, self.table_name(stream, False))
    temp_table = self.table_name(stream, is_temporary=True)
    temp_file_csv = os.path.join(temp_dir, f"{temp_table}.csv")
    self.conn.execute(self.create_table_query(table_name=temp_table, is_temporary=True))
    columns = list(self.flatten_schema)
    with open(temp_file_csv, "w", newline="") as handle:
        for record in records:
            flat = flatten_record(
                record, self.flatten_schema, max_level=self.data_flattening_max_level
            )
            values = [flat.get(name) for name in columns]
            handle.write(csv_line(values, self.delimiter, self.quotechar))
    self.conn.execute(copy_statement(temp_table, temp_file_csv, self.delimiter, self.quotechar))
    if len(self.stream_schema_message["key_properties"]) > 0:
        self.conn.execute(self.update_from_temp_table(temp_table))
    self.conn.execute(self.insert_from_temp_table(temp_table))
    self.conn.execute(f"DROP TABLE {temp_table}")
    os.unlink(temp_file_csv)


class _StateTracker:
    """The last STATE received from the tap and the last one passed on."""

    def __init__(self) -> None:
        self.received: Any = None
        self.emitted: Any = None

    def watch(self, lines: Iterable[str]) -> Iterator[str]:
        """Pass the lines through, remembering the value of the last STATE among them."""
        for line in lines:
            # Only lines that may be a STATE are parsed a second time (records are large).
            if '"STATE"' in line:
                message = json.loads(line)
                if message.get("type") == "STATE":
                    self.received = message.get("value")
            yield line


def run(connection: Any, config: dict[str, Any], lines: Iterable[str]) -> None:
    """target-duckdb's ``persist_lines``, then the last STATE once every row is committed.

    ``persist_lines`` returns only after its final flush, and DuckDB commits each statement, so
    every record read is in the database by then: the last STATE received is safe to pass on.
    """
    tracker = _StateTracker()
    upstream_emit = target_duckdb.emit_state

    def emit_state(state: Any) -> None:
        tracker.emitted = copy.deepcopy(state)
        upstream_emit(state)

    target_duckdb.emit_state = emit_state
    try:
        _upstream_persist_lines(connection, config, tracker.watch(lines))
    finally:
        target_duckdb.emit_state = upstream_emit
    if tracker.received is not None and tracker.received != tracker.emitted:
        upstream_emit(tracker.received)


_upstream_persist_lines = target_duckdb.persist_lines


def main() -> None:
    """Apply the fixes and run target-duckdb's own ``main``."""
    installed = version("target-duckdb")
    if installed != PATCHED_RELEASE:
        sys.exit(
            f"target-duckdb-exact patches target-duckdb {PATCHED_RELEASE}, found {installed}: "
            "check whether that release fixes the header and STATE defects, then drop the patch"
        )
    DbSync.load_rows = load_rows
    target_duckdb.persist_lines = run
    target_duckdb.main()


if __name__ == "__main__":
    main()
