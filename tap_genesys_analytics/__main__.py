"""Command-line entry point: runs the tap and turns a known failure into one clear line.

A traceback is printed only when the log level is DEBUG; otherwise the user sees one sentence
that says what failed and what to fix, and the process exits with status 1.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

from singer_sdk.exceptions import ConfigValidationError

from tap_genesys_analytics.errors import GenesysError
from tap_genesys_analytics.settings import ConfigError
from tap_genesys_analytics.tap import TapGenesysAnalytics

PROG = "tap-genesys-analytics"


def _debug() -> bool:
    level = os.environ.get("TAP_GENESYS_ANALYTICS_LOG_LEVEL") or os.environ.get("LOG_LEVEL", "")
    return level.upper() == "DEBUG" or "--log-level=debug" in " ".join(sys.argv).lower()


def main() -> None:
    """Run the tap's CLI; exit 1 with a one-line message on a known failure."""
    try:
        TapGenesysAnalytics.cli()
    except (GenesysError, ConfigError) as exc:
        _fail(str(exc))
    except ConfigValidationError as exc:
        details = "; ".join(str(e) for e in getattr(exc, "errors", []) or [])
        _fail(f"invalid config: {details or exc}")


def _fail(message: str) -> None:
    if _debug():
        traceback.print_exc()
    logging.getLogger(PROG).debug("exiting after: %s", message)
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


if __name__ == "__main__":
    main()
