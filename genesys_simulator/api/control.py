"""The ``/_sim/*`` control plane: stats, faults, truth, clock and counter reset.

Unguarded (no bearer token, no rate admission): tests and other processes steer the
simulator through it.
"""

from __future__ import annotations

from ..dataset import Dataset
from ..timeutil import from_ms, iso, parse_iso, to_ms
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteTable


class Control:
    """Reads and steers the shared core."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Control reads the core and, for truth, the data set."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """Every control route; none is guarded."""
        for method, path, name, handler in (
            ("GET", "stats", "sim_stats", self._stats),
            ("POST", "faults", "sim_faults", self._faults),
            ("GET", "faults", "sim_faults", self._faults),
            ("GET", "truth", "sim_truth", self._truth),
            ("POST", "now", "sim_now", self._now),
            ("POST", "reset_stats", "sim_reset_stats", self._reset_stats),
        ):
            routes.add(method, f"/_sim/{path}", name, handler, guarded=False)

    def truth(self, start: str, end: str) -> list[str]:
        """Ids that started in ``[start, end)`` by the clock, for ``/_sim/truth``."""
        now = from_ms(self.core.now_ms)
        return list(self.dataset.truth_ids(from_ms(parse_iso(start)), from_ms(parse_iso(end)), now))

    def _stats(self, ex: Exchange) -> None:
        ex.send_json(200, self.core.stats.to_dict())

    def _faults(self, ex: Exchange) -> None:
        if ex.command == "POST":
            try:
                self.core.set_faults(**ex.json_body())
            except (TypeError, ValueError) as exc:
                raise ApiError(400, str(exc)) from exc
        ex.send_json(200, self.core.faults.to_dict())

    def _truth(self, ex: Exchange) -> None:
        try:
            ids = self.truth(ex.query["start"][0], ex.query["end"][0])
        except (KeyError, ValueError) as exc:
            raise ApiError(400, "start and end are required ISO timestamps") from exc
        ex.send(200, "".join(f"{i}\n" for i in ids).encode(), content_type="text/plain")

    def _now(self, ex: Exchange) -> None:
        data = ex.json_body()
        try:
            # Through a datetime as before, so an out-of-range time fails the same way.
            self.core.now_ms = to_ms(from_ms(parse_iso(data["now"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, 'body must be {"now": "<ISO timestamp>"}') from exc
        ex.send_json(200, {"now": iso(self.core.now_ms)})

    def _reset_stats(self, ex: Exchange) -> None:
        self.core.reset_stats()
        ex.send_json(200, {})
