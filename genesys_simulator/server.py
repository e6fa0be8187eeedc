"""The ``Simulator`` facade: composes the shared core and the API families and serves them.

Each family in ``api/`` owns its state and registers its routes; this module only wires them
together, runs the HTTP server and keeps the methods tests and scripts call on ``Simulator``.
"""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .api.aggregates import Aggregates
from .api.by_id import ConversationsById
from .api.control import Control
from .api.core import Core
from .api.directory import Directory
from .api.handler import Handler
from .api.jobs import Jobs
from .api.oauth import OAuth
from .api.pages import ResultPages
from .api.quality import Quality
from .api.queries import DetailsQueries
from .api.routes import Family, RouteTable
from .api.stats import StatsSnapshot
from .dataset import Dataset
from .faults import Faults
from .timeutil import DAY_MS, from_ms, to_ms

__all__ = ["Simulator", "StatsSnapshot"]


class Simulator:
    """A Genesys Cloud API simulator served over real HTTP on 127.0.0.1."""

    def __init__(
        self,
        dataset: Dataset,
        client_id: str = "sim-client",
        client_secret: str = "sim-secret",  # noqa: S107
        *,
        faults: Faults | None = None,
        port: int = 0,
        now: datetime | None = None,
    ) -> None:
        """Configure the simulator; call ``start`` to begin serving."""
        self.dataset = dataset
        self._port = port
        now_ms = to_ms(now) if now is not None else dataset.end_ms + DAY_MS
        self.core = Core(dataset.seed, faults or Faults(), now_ms)
        self.oauth = OAuth(self.core, client_id, client_secret)
        self.jobs = Jobs(self.core, dataset)
        self.pages = ResultPages(self.core, self.jobs)
        self.queries = DetailsQueries(self.core, dataset)
        self.by_id = ConversationsById(self.core, dataset)
        self.aggregates = Aggregates(self.core, dataset)
        self.directory = Directory(self.core, dataset)
        self.quality = Quality(self.core, dataset)
        self.control = Control(self.core, dataset)
        families: tuple[Family, ...] = (
            self.oauth,
            self.jobs,
            self.pages,
            self.queries,
            self.by_id,
            self.aggregates,
            self.directory,
            self.quality,
            self.control,
        )
        self.routes = RouteTable()
        for family in families:
            family.register(self.routes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns ``self`` for chaining."""
        handler = type("BoundHandler", (Handler,), {"core": self.core, "routes": self.routes})
        server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="genesys-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        """Start on entering a ``with`` block."""
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._server is None:
            raise RuntimeError("Simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL serving both the API and ``/oauth/token``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def client_id(self) -> str:
        """The only client id the token endpoint accepts."""
        return self.oauth.client_id

    @property
    def client_secret(self) -> str:
        """The only client secret the token endpoint accepts."""
        return self.oauth.client_secret

    # ----------------------------------------------------------------- clock, faults, stats
    @property
    def now(self) -> datetime:
        """The simulator's clock: what has happened by now is visible in the data."""
        return from_ms(self.core.now_ms)

    @now.setter
    def now(self, value: datetime) -> None:
        self.core.now_ms = to_ms(value)

    @property
    def now_ms(self) -> int:
        """The clock as epoch milliseconds."""
        return self.core.now_ms

    def available_ms(self) -> int:
        """``dataAvailabilityDate`` as epoch ms: the clock minus the configured lag."""
        return self.core.available_ms()

    @property
    def faults(self) -> Faults:
        """The live fault configuration."""
        return self.core.faults

    def set_faults(self, **changes: Any) -> Faults:
        """Replace fault fields atomically; returns the new configuration."""
        return self.core.set_faults(**changes)

    @property
    def stats(self) -> StatsSnapshot:
        """A snapshot of the counters."""
        return self.core.stats

    def reset_stats(self) -> None:
        """Zero every counter (the rolling request windows included)."""
        self.core.reset_stats()

    def fault_fired(self, name: str, times: int = 1) -> None:
        """Count a fault that happened (``stats.faults``)."""
        self.core.fault_fired(name, times)

    # ----------------------------------------------------------------- tokens and jobs
    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far (tests grep logs for them)."""
        return self.core.issued_tokens()

    def revoke_tokens(self) -> int:
        """Forget every token issued so far, as an admin revoking a client's tokens would."""
        return self.core.revoke_tokens()

    def expire_jobs(self) -> int:
        """Let every job submitted so far expire now (its results are gone); returns how many."""
        return self.jobs.expire_jobs()

    def job_state_of(self, job_id: str) -> str:
        """The state a status request for ``job_id`` would report now (tests look at it)."""
        return self.jobs.job_state_of(job_id)

    def overcounted_days(self, start: str, end: str) -> list[str]:
        """The UTC days in ``[start, end)`` whose ``totalHits`` the simulator inflates."""
        return self.queries.overcounted_days(start, end)

    def truth(self, start: str, end: str) -> list[str]:
        """Ids that started in ``[start, end)`` by the clock, for ``/_sim/truth``."""
        return self.control.truth(start, end)
