"""Millisecond timestamps and Genesys-style ISO-8601 formatting and parsing."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

UTC = timezone.utc

DAY_MS = 86_400_000


def to_ms(value: datetime) -> int:
    """Convert an aware (or UTC-naive) datetime to epoch milliseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """Convert epoch milliseconds to an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def iso(ms: int) -> str:
    """Format epoch milliseconds the way Genesys does: ``2024-01-03T10:15:02.123Z``."""
    secs, frac = divmod(ms, 1000)
    t = time.gmtime(secs)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{frac:03d}Z"
    )


def parse_iso(text: str) -> int:
    """Parse an ISO-8601 timestamp to epoch milliseconds; naive values count as UTC."""
    value = text.strip()
    if not value or value[0] not in "0123456789":
        raise ValueError(f"Invalid timestamp: {text!r}")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return to_ms(parsed)


def parse_interval(text: object) -> tuple[int, int]:
    """Parse an ISO ``start/end`` interval; raises ``ValueError`` when malformed or empty."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError("interval must be an ISO-8601 'start/end' string")
    start_text, end_text = text.split("/")
    start, end = parse_iso(start_text), parse_iso(end_text)
    if end <= start:
        raise ValueError("interval end must be after its start")
    return start, end


def day_floor(ms: int) -> int:
    """Start of the UTC day containing ``ms``."""
    return ms - ms % DAY_MS


def day_ceil(ms: int) -> int:
    """End of the last UTC day an interval ending (exclusively) at ``ms`` touches."""
    rem = ms % DAY_MS
    return ms if rem == 0 else ms - rem + DAY_MS
