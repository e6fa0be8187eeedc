"""Shared fixtures: simulators on 127.0.0.1 that are always stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from genesys_simulator import Simulator
from tests.support import start_sim


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Start simulators (see ``start_sim``); all are stopped after the test."""
    started: list[Simulator] = []

    def factory(**kwargs: Any) -> Simulator:
        sim = start_sim(**kwargs)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()
