"""Evaluation of Genesys detail-query filters (``{type, clauses, predicates}``).

The same code decides matches for jobs, the synchronous query and ``Dataset.truth_ids``
so that all three agree on which conversations a filter selects.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .timeutil import parse_iso

Json = dict[str, Any]
Lookup = Callable[[Mapping[str, Any]], list[Any]]

FILTER_TYPES = ("and", "or")
OPERATORS = ("matches", "exists", "notExists")
RANGE_KEYS = ("gt", "gte", "lt", "lte")


class FilterError(ValueError):
    """A filter that the real API would reject with 400."""


def validate_filters(name: str, filters: object) -> list[Json]:
    """Check the shape of a filter array and return it; raises ``FilterError``."""
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise FilterError(f"{name} must be an array")
    for flt in filters:
        _validate_node(name, flt, allow_clauses=True)
    return filters


def _validate_node(name: str, node: object, *, allow_clauses: bool) -> None:
    if not isinstance(node, dict):
        raise FilterError(f"{name} entries must be objects")
    if node.get("type") not in FILTER_TYPES:
        raise FilterError(f"{name}.type must be one of {', '.join(FILTER_TYPES)}")
    clauses = node.get("clauses", [])
    predicates = node.get("predicates", [])
    if not isinstance(clauses, list) or not isinstance(predicates, list):
        raise FilterError(f"{name}.clauses and .predicates must be arrays")
    if clauses and not allow_clauses:
        raise FilterError(f"{name}: clauses nest to at most two levels")
    if not clauses and not predicates:
        raise FilterError(f"{name} needs clauses or predicates")
    for clause in clauses:
        _validate_node(name, clause, allow_clauses=False)
    for pred in predicates:
        _validate_predicate(name, pred)


def _validate_predicate(name: str, pred: object) -> None:
    if not isinstance(pred, dict):
        raise FilterError(f"{name} predicates must be objects")
    kind = pred.get("type", "metric" if "metric" in pred else "dimension")
    if kind not in ("dimension", "property", "metric"):
        raise FilterError(f"{name} predicate type {kind!r} is not valid")
    key = "metric" if kind == "metric" else ("property" if kind == "property" else "dimension")
    if not isinstance(pred.get(key), str):
        raise FilterError(f"{name} predicate is missing {key!r}")
    operator = pred.get("operator", "matches")
    if operator not in OPERATORS:
        raise FilterError(f"{name} predicate operator {operator!r} is not valid")
    rng = pred.get("range")
    if operator == "matches" and "value" not in pred and rng is None:
        raise FilterError(f"{name} predicate with operator matches needs a value or range")
    if rng is not None and (not isinstance(rng, dict) or not set(rng) <= set(RANGE_KEYS)):
        raise FilterError(f"{name} predicate range must use gt, gte, lt, lte")


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _comparable(value: Any, bound: Any) -> tuple[float, float] | None:
    """Coerce a value and a range bound to numbers (timestamps become epoch ms)."""
    try:
        if isinstance(bound, str) and isinstance(value, str):
            return float(parse_iso(value)), float(parse_iso(bound))
        return float(value), float(bound)
    except (TypeError, ValueError):
        return None


def _in_range(value: Any, rng: Mapping[str, Any]) -> bool:
    for key, bound in rng.items():
        pair = _comparable(value, bound)
        if pair is None:
            return False
        v, b = pair
        ok = {"gt": v > b, "gte": v >= b, "lt": v < b, "lte": v <= b}[key]
        if not ok:
            return False
    return True


def predicate_matches(pred: Mapping[str, Any], lookup: Lookup) -> bool:
    """Evaluate one predicate against the values ``lookup`` finds for its dimension."""
    values = lookup(pred)
    operator = pred.get("operator", "matches")
    if operator == "exists":
        return bool(values)
    if operator == "notExists":
        return not values
    rng = pred.get("range")
    if rng is not None:
        return any(_in_range(v, rng) for v in values)
    wanted = _norm(pred.get("value"))
    return any(_norm(v) == wanted for v in values)


def node_matches(node: Mapping[str, Any], lookup: Lookup) -> bool:
    """Evaluate a filter or clause: ``and`` needs every part, ``or`` any part."""
    results = itertools.chain(
        (node_matches(c, lookup) for c in node.get("clauses", [])),
        (predicate_matches(p, lookup) for p in node.get("predicates", [])),
    )
    if node.get("type") == "or":
        return any(results)
    return all(results)


def _pred_key(pred: Mapping[str, Any]) -> tuple[str, str]:
    if "metric" in pred and pred.get("type", "metric") == "metric":
        return "metric", str(pred["metric"])
    if pred.get("type") == "property":
        return "property", str(pred.get("property"))
    return "dimension", str(pred.get("dimension"))


CONVERSATION_ALIASES = {"divisionId": "divisionIds", "accessAttribute": "accessAttributes"}


def conversation_lookup(conv: Mapping[str, Any]) -> Lookup:
    """Resolve conversation-filter dimensions and metrics against one conversation."""

    def lookup(pred: Mapping[str, Any]) -> list[Any]:
        kind, name = _pred_key(pred)
        if kind == "metric":
            return [
                m["value"]
                for p in conv.get("participants", [])
                for s in p.get("sessions", [])
                for m in s.get("metrics", [])
                if m["name"] == name
            ]
        value = conv.get(CONVERSATION_ALIASES.get(name, name))
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    return lookup


def segment_lookup(
    participant: Mapping[str, Any], session: Mapping[str, Any], segment: Mapping[str, Any]
) -> Lookup:
    """Resolve segment-filter dimensions: segment first, then session, then participant."""

    def lookup(pred: Mapping[str, Any]) -> list[Any]:
        kind, name = _pred_key(pred)
        if kind == "metric":
            if name == "tSegmentDuration" and "segmentEnd" in segment:
                start = parse_iso(segment["segmentStart"])
                return [parse_iso(segment["segmentEnd"]) - start]
            return [m["value"] for m in session.get("metrics", []) if m["name"] == name]
        if kind == "property":
            return [
                p.get("value") for p in segment.get("properties", []) if p.get("property") == name
            ]
        for source in (segment, session, participant):
            if name in source:
                value = source[name]
                return list(value) if isinstance(value, list) else [value]
        return []

    return lookup


def item_lookup(item: Mapping[str, Any]) -> Lookup:
    """Resolve evaluation/survey/resolution filter names against one such item."""

    def lookup(pred: Mapping[str, Any]) -> list[Any]:
        _kind, name = _pred_key(pred)
        value = item.get(name)
        return [] if value is None else [value]

    return lookup


def conversation_matches(
    conv: Mapping[str, Any],
    conversation_filters: Sequence[Mapping[str, Any]] | None = None,
    segment_filters: Sequence[Mapping[str, Any]] | None = None,
    *,
    evaluation_filters: Sequence[Mapping[str, Any]] | None = None,
    survey_filters: Sequence[Mapping[str, Any]] | None = None,
    resolution_filters: Sequence[Mapping[str, Any]] | None = None,
) -> bool:
    """Whether a conversation passes every filter of every kind (filters are ANDed)."""
    if conversation_filters:
        lookup = conversation_lookup(conv)
        if not all(node_matches(f, lookup) for f in conversation_filters):
            return False
    if segment_filters:
        contexts = [
            segment_lookup(p, s, g)
            for p in conv.get("participants", [])
            for s in p.get("sessions", [])
            for g in s.get("segments", [])
        ]
        for flt in segment_filters:
            if not any(node_matches(flt, lookup) for lookup in contexts):
                return False
    for key, filters in (
        ("evaluations", evaluation_filters),
        ("surveys", survey_filters),
        ("resolutions", resolution_filters),
    ):
        if filters:
            items = [item_lookup(it) for it in conv.get(key, [])]
            for flt in filters:
                if not any(node_matches(flt, lookup) for lookup in items):
                    return False
    return True
