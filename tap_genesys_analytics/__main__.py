"""Command-line entry point: runs the tap and turns a known failure into one clear line.

A traceback is printed only when the log level is DEBUG; otherwise the user sees one sentence
that says what failed and what to fix, and the process exits with status 1.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback

import simplejson
from singer_sdk.exceptions import ConfigValidationError

from tap_genesys_analytics.config.settings import ConfigError
from tap_genesys_analytics.errors import GenesysError
from tap_genesys_analytics.tap import TapGenesysAnalytics

PROG = "tap-genesys-analytics"


def _debug() -> bool:
    """The SDK's own switch: ``TAP_GENESYS_ANALYTICS_LOGLEVEL`` or ``LOGLEVEL``."""
    level = os.environ.get("TAP_GENESYS_ANALYTICS_LOGLEVEL") or os.environ.get("LOGLEVEL", "")
    return level.upper() == "DEBUG"


def main() -> None:
    """Run the tap's CLI; exit 1 with a one-line message on a known failure."""
    try:
        TapGenesysAnalytics.cli()
    except (GenesysError, ConfigError) as exc:
        _fail(str(exc))
    except ConfigValidationError as exc:
        details = "; ".join(str(e) for e in getattr(exc, "errors", []) or [])
        _fail(f"invalid config: {details or exc}")
    except (json.JSONDecodeError, simplejson.JSONDecodeError) as exc:
        _fail(f"a file given with --config, --state or --catalog is not valid JSON ({exc})")


def _fail(message: str) -> None:
    if _debug():
        traceback.print_exc()
    logging.getLogger(PROG).debug("exiting after: %s", message)
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


if __name__ == "__main__":
    main()
