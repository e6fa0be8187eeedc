"""Catalogs that select some streams, for end-to-end runs of the CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.support import ROOT, TAP


def catalog_selecting(tmp: Path, config: dict[str, Any], streams: Iterable[str]) -> Path:
    """Discover with ``config`` and write a catalog that selects only ``streams``."""
    wanted = set(streams)
    path = tmp / "discover.json"
    path.write_text(json.dumps(config))
    out = subprocess.run(
        [*TAP, "--config", str(path), "--discover"], capture_output=True, check=True, cwd=ROOT
    )
    catalog = json.loads(out.stdout)
    known = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert wanted <= known, f"not discovered: {sorted(wanted - known)}"
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    catalog_path = tmp / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    return catalog_path
