"""A Genesys Cloud Analytics API simulator: a real HTTP server over seeded synthetic data.

Typical use in a test::

    ds = Dataset(seed=7, start=datetime(2024, 1, 1, tzinfo=timezone.utc), days=30,
                 conversations=10_000)
    with Simulator(ds, faults=Faults(error_rate=0.05)) as sim:
        ...  # point the client at sim.url for both the API and /oauth/token
        expected = set(ds.truth_ids(day_start, day_end, sim.now))

Records are generated on demand from the seed, so the dataset size costs no memory.
From another process use ``python -m genesys_simulator`` and the ``/_sim/*`` endpoints.

Layout, laid out as the tap is (data, then the HTTP side one module per API family):

Data (no HTTP; these import only each other, downwards, never ``api/`` or ``server``):
    ``timeutil``      epoch-ms and ISO-8601 helpers.
    ``faults``        ``Faults``: every fault switch.
    ``pools``         seeded queues, users, flows, wrap-up codes, ... (the directory entities).
    ``record_parts``  a record's vocabulary, ``Core`` facts, surveys and ``Clip`` (the segments,
                      metrics, sessions and participants seen by a moment).
    ``outcomes``      ``Scene``: queue outcomes (acd visits), IVR and agent visits, handle metrics.
    ``records``       ``build_record``: every draw of one conversation, as the API shows it then.
    ``dataset``       ``Dataset``: index arithmetic, ids, truth helpers (records via ``records``).
    ``filters``       the API's conversation/segment filter predicates.
    ``selection``     which conversations a job or query returns, in which order.
    ``users``         user presence and routing-status records and their selection.
    ``flows``         the org's flows (deleted ones too), flow outcomes and milestones, and
                      the milestones each IVR run hits.
    ``aggregates``    conversation aggregates; ``Frame`` (interval, buckets, DST days).
    ``aggregate_parts`` what the other subjects share: body checks, results rendering.
    ``user_aggregates``, ``flow_aggregates``, ``quality_aggregates``: the users, flows,
                      evaluations and surveys aggregates, from the data details serve.
    ``directory``     the directory listings and their paging.
    ``quality``       evaluation and survey plans (every later change timed).
    ``quality_forms`` evaluation and survey forms with their published versions.

HTTP (``api/``; a family imports the shared modules below and the data modules, never
``server``, ``handler`` or another family, except that ``pages`` looks jobs up in ``jobs``):
    ``api.errors``     ``ApiError`` (Genesys ErrorBody) and ``OAuthError``.
    ``api.stats``      the counters and ``StatsSnapshot``.
    ``api.core``       ``Core``: clock, faults, counters, rate admission, injected errors,
                       issued tokens and the bearer check, all under one lock.
    ``api.routes``     ``RouteTable`` and the ``Exchange`` a route handler answers through.
    ``api.handler``    the HTTP handler: parse, admit guarded ``/api/v2/`` requests, dispatch.
    ``api.bodies``     request-body rules shared by jobs and queries (fields, paging).
    ``api.oauth``      ``POST /oauth/token``.
    ``api.jobs``       conversation and user details jobs: availability, submit, status, delete.
    ``api.pages``      job results pages: cursors, rendering, page cache, body faults.
    ``api.queries``    conversation and user details queries.
    ``api.by_id``      conversation details by id.
    ``api.aggregates`` the aggregates query routes of every subject.
    ``api.directory``  the directory listing routes (flows, outcomes, milestones included).
    ``api.quality``    evaluations and surveys by id, published forms.
    ``api.control``    the ``/_sim/*`` control plane.

``server`` composes them into the ``Simulator`` facade (lifecycle, and the methods tests call);
only this package's ``__init__`` and ``__main__`` import it.

A new family is a class taking what it needs (``Core``, ``Dataset``) with a ``register``
method, e.g. ``routes.add("GET", r"/api/v2/flows/instances", "flow_instances", self._route)``,
added to the families tuple in ``Simulator``; a new aggregates subject is one more entry in
``api.aggregates.SUBJECTS``.
"""

from .api.stats import StatsSnapshot
from .dataset import Dataset
from .faults import Faults
from .server import Simulator

__all__ = ["Dataset", "Faults", "Simulator", "StatsSnapshot"]
