"""A Genesys Cloud Analytics API simulator: a real HTTP server over seeded synthetic data.

Typical use in a test::

    ds = Dataset(seed=7, start=datetime(2024, 1, 1, tzinfo=timezone.utc), days=30,
                 conversations=10_000)
    with Simulator(ds, faults=Faults(error_rate=0.05)) as sim:
        ...  # point the client at sim.url for both the API and /oauth/token
        expected = set(ds.truth_ids(day_start, day_end, sim.now))

Records are generated on demand from the seed, so the dataset size costs no memory.
From another process use ``python -m genesys_simulator`` and the ``/_sim/*`` endpoints.
"""

from .dataset import Dataset
from .faults import Faults
from .server import Simulator, StatsSnapshot

__all__ = ["Dataset", "Faults", "Simulator", "StatsSnapshot"]
