"""The floor: an independent client doing only the HTTP and parsing, no Singer work at all.

Written without the tap's code (nothing from ``tap_genesys_analytics`` is imported): plain
``requests`` with ``stream=True`` and ``ijson.items(body, "conversations.item")`` over the raw
socket stream, gzip inflated with the standard ``zlib`` as the bytes arrive. The same jobs
(7-day chunks, ``startOfDayIntervalMatching``) and the same pages (``pageSize`` 1000, by
cursor) as the tap.
The cursor is taken from the last bytes of each page (the API writes it after the array).
It prints ``{"records": N, "bytes": B}``, B being the JSON bytes after decompression.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
import zlib
from typing import Any

import ijson
import requests

BASE = "/api/v2/analytics/conversations/details/jobs"
CURSOR = re.compile(rb'"cursor"\s*:\s*"([^"]*)"')


class Body:
    """``response.raw`` for ijson: inflated when gzipped; remembers its size and last bytes."""

    def __init__(self, raw: Any, gzipped: bool) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(zlib.MAX_WBITS | 16) if gzipped else None
        self.size = 0
        self.last = b""

    def read(self, n: int) -> bytes:
        """What ijson asks for: at most ``n`` bytes, off the wire and inflated.

        Inflated output is capped at ``n`` (the rest waits in ``unconsumed_tail``): handing
        ijson pieces several times larger than it asked for measured about 1.5x its parsing
        cost here, which would make the floor a poor client rather than a plain one.
        """
        if n == 0:
            return b""
        while True:
            if self.inflate is None:
                data = self.raw.read(n, decode_content=False)
                break
            tail = self.inflate.unconsumed_tail
            chunk = tail or self.raw.read(n, decode_content=False)
            if not chunk:
                data = self.inflate.flush()
                break
            data = self.inflate.decompress(chunk, n)
            if data:  # a piece of gzip header inflates to nothing: that is not the end
                break
        self.size += len(data)
        self.last = (self.last + data)[-4096:]
        return data


def main(path: str) -> int:
    """Extract every chunk of the config's range and count what was parsed."""
    with open(path) as handle:
        config = json.load(handle)
    api = config["api_url"]
    session = requests.Session()
    token = session.post(
        f"{config['login_url']}/oauth/token",
        auth=(config["client_id"], config["client_secret"]),
        data={"grant_type": "client_credentials"},
        timeout=30,
    ).json()["access_token"]
    session.headers.update({"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
    start = dt.datetime.fromisoformat(config["start_date"]).replace(tzinfo=dt.timezone.utc)
    end = dt.datetime.fromisoformat(config["end_date"]).replace(tzinfo=dt.timezone.utc)
    records = 0
    size = 0
    while start < end:
        stop = min(start + dt.timedelta(days=7), end)
        # Ending at the last millisecond, as the tap does, so both read the very same jobs.
        last = stop - dt.timedelta(milliseconds=1)
        interval = f"{start:%Y-%m-%dT%H:%M:%S}.000Z/{last:%Y-%m-%dT%H:%M:%S}.999Z"
        body = {"interval": interval, "order": "asc", "orderBy": "conversationStart",
                "startOfDayIntervalMatching": True}  # fmt: skip
        job = session.post(f"{api}{BASE}", json=body, timeout=30).json()["jobId"]
        while session.get(f"{api}{BASE}/{job}", timeout=30).json()["state"] != "FULFILLED":
            time.sleep(0.05)
        cursor = None
        while True:
            params = {"pageSize": 1000, **({"cursor": cursor} if cursor else {})}
            resp = session.get(f"{api}{BASE}/{job}/results", params=params, stream=True, timeout=60)
            resp.raise_for_status()
            source = Body(resp.raw, resp.headers.get("Content-Encoding") == "gzip")
            for _record in ijson.items(source, "conversations.item"):
                records += 1
            size += source.size
            found = CURSOR.findall(source.last)
            cursor = found[-1].decode() if found else None
            if not cursor:
                break
        session.delete(f"{api}{BASE}/{job}", timeout=30)
        start = stop
    print(json.dumps({"records": records, "bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
