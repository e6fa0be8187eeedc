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


#: The singer-sdk attribute tests only warn when no record fills an attribute; a module that
#: names its legitimately empty attributes in ``NEVER_FILLED`` turns that warning into a failure
#: for every other attribute. A per-test mark, since a module mark would override exemptions.
NO_RECORDS = "error:No records were available to test.:UserWarning"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Forget the attribute values the previous attribute test cached.

    singer-sdk (0.54) builds one instance per attribute test kind and caches
    ``non_null_attribute_values`` on it, so every attribute after the first of a kind was
    checked against the first attribute's values (a never-filled field passed unseen).
    """
    template = getattr(getattr(item, "obj", None), "__self__", None)
    if template is not None and "attribute_name" in type(template).run.__code__.co_varnames:
        vars(template).pop("non_null_attribute_values", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        never_filled = getattr(getattr(item, "module", None), "NEVER_FILLED", None)
        callspec = getattr(item, "callspec", None)
        if never_filled is None or callspec is None or "_attribute_" not in item.name:
            continue
        if callspec.id not in never_filled:
            item.add_marker(pytest.mark.filterwarnings(NO_RECORDS))
