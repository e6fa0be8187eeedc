"""Summarise the demo's DuckDB table and compare it with the simulator's truth."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import duckdb

TABLE = "conversation_details"

COUNTS_SQL = "SELECT count(*), count(DISTINCT conversationId) FROM <table>"
PER_DAY_SQL = (
    "SELECT CAST(conversationStart AS DATE) AS day, count(*) FROM <table> GROUP BY day ORDER BY day"
)
#: Nested columns are stored as DuckDB JSON: one row per participant session, counted per media.
BY_MEDIA_SQL = (
    "SELECT s.value ->> 'mediaType' AS media, count(DISTINCT t.conversationId) AS n "
    "FROM <table> AS t, json_each(t.participants) AS p, json_each(p.value -> 'sessions') AS s "
    "GROUP BY media ORDER BY n DESC, media"
)
IDS_SQL = "SELECT conversationId FROM <table>"


def _on(template: str, table: str) -> str:
    """Put the quoted table name into a query template."""
    return template.replace("<table>", table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="DuckDB file written by the run")
    parser.add_argument("--schema", default="tap_genesys_analytics")
    parser.add_argument("--sim-url", default="http://127.0.0.1:8765")
    parser.add_argument("--start", default="2024-01-01T00:00:00Z")
    parser.add_argument("--end", default="2024-01-31T00:00:00Z")
    parser.add_argument("--days", type=int, default=5, help="days shown in the per-day list")
    return parser.parse_args(argv)


def truth_ids(sim_url: str, start: str, end: str) -> set[str]:
    """Conversation ids the simulator says started in ``[start, end)``."""
    if not sim_url.startswith(("http://", "https://")):
        raise ValueError(f"--sim-url must be http(s): {sim_url}")
    query = urllib.parse.urlencode({"start": start, "end": end})
    with urllib.request.urlopen(f"{sim_url}/_sim/truth?{query}", timeout=60) as resp:  # noqa: S310
        body: bytes = resp.read()
    return {line for line in body.decode().splitlines() if line.strip()}


def main(argv: list[str] | None = None) -> int:
    """Print the summary; exit 1 when the table and the truth disagree."""
    args = parse_args(argv)
    if not args.schema.isidentifier():
        raise SystemExit(f"--schema must be a plain identifier: {args.schema!r}")
    table = f'"{args.schema}"."{TABLE}"'
    try:
        con = duckdb.connect(str(args.db), read_only=True)
    except duckdb.Error as exc:
        # A file written by a newer DuckDB than this one does not open (README, Loaders).
        raise SystemExit(
            f"DuckDB {duckdb.__version__} cannot open {args.db}: {exc}; "
            "run scripts/setup.sh so .venv has the loader's DuckDB version"
        ) from exc
    try:
        total, distinct = con.execute(_on(COUNTS_SQL, table)).fetchall()[0]
        per_day = con.execute(_on(PER_DAY_SQL, table)).fetchall()
        by_media = con.execute(_on(BY_MEDIA_SQL, table)).fetchall()
        loaded = {row[0] for row in con.execute(_on(IDS_SQL, table)).fetchall()}
    finally:
        con.close()

    truth = truth_ids(args.sim_url, args.start, args.end)

    print(f"\nDuckDB {args.db} table {args.schema}.{TABLE}")
    print(f"  conversations (rows):      {total}")
    print(f"  distinct conversationId:   {distinct}")
    print(f"  simulator truth [{args.start}, {args.end}): {len(truth)}")
    print(f"\nConversations per day (first {args.days} of {len(per_day)}):")
    for day, count in per_day[: args.days]:
        print(f"  {day}  {count}")
    print("\nConversations by media type (a conversation may have several):")
    for media, count in by_media:
        print(f"  {media or '(none)':<10} {count}")

    missing = truth - loaded
    extra = loaded - truth
    if total == distinct == len(truth) and not missing and not extra:
        print(f"\nOK: {distinct} distinct conversations loaded == {len(truth)} in the truth.")
        return 0
    print(
        f"\nMISMATCH: rows {total}, distinct {distinct}, truth {len(truth)}, "
        f"missing {len(missing)}, unexpected {len(extra)}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
