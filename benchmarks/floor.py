"""The floor: the tap's HTTP and parsing work alone, with no Singer messages at all.

Same jobs, same cursor pages, same streamed gzip inflate and the tap's own one-pass ijson
parser (``PageParser``), and nothing else. It prints ``{"records": N, "bytes": B}``, B being
the JSON bytes after decompression.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import zlib

import requests

from tap_genesys_analytics.parsing import PageParser

BASE = "/api/v2/analytics/conversations/details/jobs"


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
        interval = f"{start:%Y-%m-%dT%H:%M:%S}.000Z/{stop:%Y-%m-%dT%H:%M:%S}.000Z"
        body = {"interval": interval, "order": "asc", "orderBy": "conversationStart",
                "startOfDayIntervalMatching": True}  # fmt: skip
        job = session.post(f"{api}{BASE}", json=body, timeout=30).json()["jobId"]
        while session.get(f"{api}{BASE}/{job}", timeout=30).json()["state"] != "FULFILLED":
            time.sleep(0.05)
        cursor = None
        while True:
            params = {"pageSize": 1000, **({"cursor": cursor} if cursor else {})}
            resp = session.get(f"{api}{BASE}/{job}/results", params=params, stream=True, timeout=60)
            parser = PageParser("conversations", ("cursor", "dataAvailabilityDate"))
            inflate = (
                zlib.decompressobj(zlib.MAX_WBITS | 16)
                if resp.headers.get("Content-Encoding") == "gzip"
                else None
            )
            while chunk := resp.raw.read(256 * 1024, decode_content=False):
                data = inflate.decompress(chunk) if inflate else chunk
                size += len(data)
                records += len(parser.feed(data))
            records += len(parser.close())
            cursor = parser.scalar("cursor")
            if not cursor:
                break
        session.delete(f"{api}{BASE}/{job}", timeout=30)
        start = stop
    print(json.dumps({"records": records, "bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
