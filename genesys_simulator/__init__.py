"""A Genesys Cloud Analytics API simulator: a real HTTP server over seeded synthetic data."""

from .dataset import Dataset
from .faults import Faults
from .server import Simulator, StatsSnapshot

__all__ = ["Dataset", "Faults", "Simulator", "StatsSnapshot"]
