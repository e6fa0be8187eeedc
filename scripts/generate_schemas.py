#!/usr/bin/env python3
"""Generate the tap's JSON Schemas from the models of the Genesys Cloud Python SDK.

The official SDK wheel (``purecloudplatformclientv2``) is generated from the same swagger
as the Platform API, so its models are the most faithful description of the records the API
returns. The wheel is read as source text and never imported, which keeps it a dev-time input
rather than a runtime dependency of the tap.

Usage::

    pip download --no-deps -d /tmp/pcsdk purecloudplatformclientv2==269.0.0
    unzip -q -o /tmp/pcsdk/*.whl -d /tmp/pcsdk
    python scripts/generate_schemas.py /tmp/pcsdk/PureCloudPlatformClientV2/models

Output is written with sorted keys, so regenerating from the same wheel gives identical files;
``--check`` reports stale files without writing, for use in CI.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonSchema = dict[str, Any]
FieldFilter = Callable[[str, str], bool]

DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "tap_genesys_analytics" / "schemas"

DIMENSION_MAX_DEPTH = 3
"""Nested-model levels expanded in dimension tables; directory entities nest very deeply."""

_LIST_RE = re.compile(r"^list\[(?P<item>.+)\]$")
_DICT_RE = re.compile(r"^dict\((?P<key>[^,]+),\s*(?P<value>.+)\)$")

_PRIMITIVES: dict[str, JsonSchema] = {
    "str": {"type": ["string", "null"]},
    "int": {"type": ["integer", "null"]},
    "float": {"type": ["number", "null"]},
    "bool": {"type": ["boolean", "null"]},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
    "date": {"type": ["string", "null"], "format": "date"},
    "object": {"type": ["object", "null"]},
}

NON_NULL_STRING: JsonSchema = {"type": "string"}
NON_NULL_DATETIME: JsonSchema = {"type": "string", "format": "date-time"}
NULLABLE_STRING: JsonSchema = {"type": ["string", "null"]}
NULLABLE_NUMBER: JsonSchema = {"type": ["number", "null"]}
PLAIN_OBJECT: JsonSchema = {"type": ["object", "null"]}


@dataclass(frozen=True)
class Model:
    """Field types and JSON names of one SDK model class."""

    name: str
    swagger_types: dict[str, str]
    attribute_map: dict[str, str]

    def fields(self) -> Iterator[tuple[str, str]]:
        """Yield ``(json_name, swagger_type)``; the JSON name is what the API sends."""
        for attr, swagger_type in self.swagger_types.items():
            yield self.attribute_map[attr], swagger_type

    def field_type(self, json_name: str) -> str:
        """Return the swagger type of a field given by its JSON name."""
        for name, swagger_type in self.fields():
            if name == json_name:
                return swagger_type
        raise KeyError(f"{self.name} has no field {json_name!r}")


class ModelIndex:
    """Find SDK model classes by name and parse their source on first use."""

    def __init__(self, models_dir: Path) -> None:
        """Map class names to files from the package's ``__init__.py`` import list."""
        init = models_dir / "__init__.py"
        if not init.is_file():
            raise FileNotFoundError(f"{init} not found: pass the unzipped models folder")
        self._files: dict[str, Path] = {}
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                for alias in node.names:
                    self._files[alias.name] = models_dir / f"{node.module}.py"
        self._cache: dict[str, Model] = {}

    def __contains__(self, name: str) -> bool:
        """Tell whether ``name`` is a model class (as opposed to a primitive type)."""
        return name in self._files

    def get(self, name: str) -> Model:
        """Return the parsed model ``name``."""
        if name not in self._cache:
            self._cache[name] = self._parse(name)
        return self._cache[name]

    def _parse(self, name: str) -> Model:
        """Read the two dict literals assigned in the class's ``__init__``."""
        tree = ast.parse(self._files[name].read_text(encoding="utf-8"))
        found: dict[str, dict[str, str]] = {}
        for cls in tree.body:
            if not (isinstance(cls, ast.ClassDef) and cls.name == name):
                continue
            for node in ast.walk(cls):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Attribute)
                    and node.targets[0].attr in {"swagger_types", "attribute_map"}
                ):
                    found[node.targets[0].attr] = ast.literal_eval(node.value)
        if set(found) != {"swagger_types", "attribute_map"}:
            raise ValueError(f"{name}: swagger_types/attribute_map not found")
        return Model(name, found["swagger_types"], found["attribute_map"])


class SchemaBuilder:
    """Translate swagger type strings into JSON Schema fragments where every value is nullable.

    Nullable everywhere because the API omits or nulls any field it has no value for.
    """

    def __init__(self, index: ModelIndex, max_depth: int | None = None) -> None:
        """Expand nested models up to ``max_depth`` levels (``None``: no limit)."""
        self.index = index
        self.max_depth = max_depth

    def references_model(self, swagger_type: str) -> bool:
        """Tell whether a type is, or contains, a model (used to keep child tables flat)."""
        if match := _LIST_RE.match(swagger_type):
            return self.references_model(match["item"])
        if match := _DICT_RE.match(swagger_type):
            return self.references_model(match["value"])
        return swagger_type in self.index

    def item_model(self, swagger_type: str) -> str:
        """Return the model a field holds, looking through ``list[...]``."""
        if match := _LIST_RE.match(swagger_type):
            return self.item_model(match["item"])
        if swagger_type not in self.index:
            raise ValueError(f"{swagger_type!r} is not a model type")
        return swagger_type

    def type_schema(
        self, swagger_type: str, depth: int = 0, ancestry: tuple[str, ...] = ()
    ) -> JsonSchema:
        """Return the schema of one swagger type found ``depth`` models below the root."""
        if swagger_type in _PRIMITIVES:
            return dict(_PRIMITIVES[swagger_type])
        if match := _LIST_RE.match(swagger_type):
            return {
                "type": ["array", "null"],
                "items": self.type_schema(match["item"], depth, ancestry),
            }
        if match := _DICT_RE.match(swagger_type):
            schema: JsonSchema = dict(PLAIN_OBJECT)
            if match["value"] != "object":
                schema["additionalProperties"] = self.type_schema(match["value"], depth, ancestry)
            return schema
        if swagger_type in self.index:
            return self.model_schema(swagger_type, depth + 1, ancestry)
        raise ValueError(f"unsupported swagger type {swagger_type!r}")

    def model_schema(self, name: str, depth: int, ancestry: tuple[str, ...]) -> JsonSchema:
        """Return a nested model's object schema, or a bare object past the depth limit.

        A model that contains itself (``User.manager``) also stops as a bare object,
        which is what keeps the recursion finite.
        """
        too_deep = self.max_depth is not None and depth > self.max_depth
        if too_deep or name in ancestry:
            return dict(PLAIN_OBJECT)
        return {"type": ["object", "null"], "properties": self.properties(name, depth, ancestry)}

    def properties(
        self,
        name: str,
        depth: int = 0,
        ancestry: tuple[str, ...] = (),
        include: FieldFilter | None = None,
    ) -> dict[str, JsonSchema]:
        """Return the property schemas of model ``name``, keyed by JSON name."""
        model = self.index.get(name)
        inner = (*ancestry, name)
        return {
            json_name: self.type_schema(swagger_type, depth, inner)
            for json_name, swagger_type in model.fields()
            if include is None or include(json_name, swagger_type)
        }


def require(properties: dict[str, JsonSchema], *keys: str) -> None:
    """Make the primary-key columns ``keys`` non-nullable: a loader cannot key a row on null."""
    for key in keys:
        schema = dict(properties[key])
        types = schema["type"]
        if isinstance(types, list):
            kept = [t for t in types if t != "null"]
            schema["type"] = kept[0] if len(kept) == 1 else kept
        properties[key] = schema


def stream_schema(properties: dict[str, JsonSchema]) -> JsonSchema:
    """Wrap properties as a Singer stream schema; the record itself is never null."""
    return {"type": "object", "properties": properties}


def conversation_details(builder: SchemaBuilder) -> JsonSchema:
    """Whole conversations as job results return them (``AnalyticsConversation``)."""
    properties = builder.properties("AnalyticsConversation")
    properties["conversationId"] = dict(NON_NULL_STRING)
    return stream_schema(properties)


class ConversationTree:
    """Model names along conversation → participant → session → segment/metric.

    Resolved from field types rather than hard-coded, so the child tables follow the same
    models as the nested ``conversation_details`` stream.
    """

    def __init__(self, builder: SchemaBuilder) -> None:
        """Resolve each level from its parent's field type."""
        index = builder.index
        self.conversation = "AnalyticsConversation"
        conversation = index.get(self.conversation)
        self.participant = builder.item_model(conversation.field_type("participants"))
        self.session = builder.item_model(index.get(self.participant).field_type("sessions"))
        session = index.get(self.session)
        self.segment = builder.item_model(session.field_type("segments"))
        self.metric = builder.item_model(session.field_type("metrics"))
        self.conversation_start = conversation.field_type("conversationStart")


def _child_keys(builder: SchemaBuilder, tree: ConversationTree, *ids: str) -> dict[str, JsonSchema]:
    """Return the parent columns that tie a child row back to its conversation."""
    keys = {
        "conversationId": dict(NON_NULL_STRING),
        "conversationStart": builder.type_schema(tree.conversation_start),
    }
    keys.update({name: dict(NON_NULL_STRING) for name in ids})
    return keys


#: Fields whose items are rows of a child table of their own; every other field of a level,
#: nested lists such as a session's ``mediaEndpointStats`` included, is a column of its table,
#: so a warehouse that loads only the child tables still sees every field the API serves.
FLATTENED_PARTICIPANT_FIELDS = frozenset({"sessions"})
FLATTENED_SESSION_FIELDS = frozenset({"segments", "metrics"})


def conversation_children(builder: SchemaBuilder) -> dict[str, JsonSchema]:
    """Flat participant/session/segment/metric tables: each level's fields but flattened lists."""
    tree = ConversationTree(builder)

    def participant_field(name: str, _swagger_type: str) -> bool:
        return name not in FLATTENED_PARTICIPANT_FIELDS

    def session_field(name: str, _swagger_type: str) -> bool:
        return name not in FLATTENED_SESSION_FIELDS

    participants = builder.properties(tree.participant, include=participant_field)
    participants.update(_child_keys(builder, tree, "participantId"))

    sessions = builder.properties(tree.session, include=session_field)
    sessions.update(_child_keys(builder, tree, "participantId", "sessionId"))

    segments = builder.properties(tree.segment)
    segments.update(_child_keys(builder, tree, "participantId", "sessionId"))
    require(segments, "segmentStart", "segmentType")

    metrics = builder.properties(tree.metric)
    metrics.update(_child_keys(builder, tree, "participantId", "sessionId"))
    require(metrics, "name", "emitDate")

    return {
        "conversation_participants": stream_schema(participants),
        "conversation_sessions": stream_schema(sessions),
        "conversation_segments": stream_schema(segments),
        "conversation_metrics": stream_schema(metrics),
    }


def user_details(builder: SchemaBuilder) -> JsonSchema:
    """User presence/routing timelines; the tap adds the grid cell (the key) and what it covered."""
    properties = builder.properties("AnalyticsUserDetail")
    properties["userId"] = dict(NON_NULL_STRING)
    properties["intervalStart"] = dict(NON_NULL_DATETIME)
    properties["intervalEnd"] = dict(NON_NULL_DATETIME)
    properties["coveredStart"] = dict(_PRIMITIVES["datetime"])
    properties["coveredEnd"] = dict(_PRIMITIVES["datetime"])
    return stream_schema(properties)


def user_status_streams(builder: SchemaBuilder) -> dict[str, JsonSchema]:
    """One row per presence or routing-status record, each tagged with its user."""
    detail = builder.index.get("AnalyticsUserDetail")
    sources = (
        ("user_presence", "primaryPresence", "systemPresence"),
        ("user_routing_status", "routingStatus", "routingStatus"),
    )
    streams = {}
    for stream, field, status in sources:
        properties = {"userId": dict(NON_NULL_STRING)}
        properties.update(builder.properties(builder.item_model(detail.field_type(field))))
        require(properties, "startTime", status)
        streams[stream] = stream_schema(properties)
    return streams


#: Aggregates stream -> the model of its subject's query response.
AGGREGATE_RESPONSES: dict[str, str] = {
    "conversation_aggregates": "ConversationAggregateQueryResponse",
    "user_aggregates": "UserAggregateQueryResponse",
    "flow_aggregates": "FlowAggregateQueryResponse",
    "evaluation_aggregates": "EvaluationAggregateQueryResponse",
    "survey_aggregates": "SurveyAggregateQueryResponse",
}


def aggregates(builder: SchemaBuilder) -> dict[str, JsonSchema]:
    """Every subject's aggregates stream; user rows add ``user_id`` and ``system_presence``."""
    streams = {
        stream: aggregate_rows(builder, response)
        for stream, response in AGGREGATE_RESPONSES.items()
    }
    streams["user_aggregates"]["properties"].update(
        user_id=dict(NULLABLE_STRING), system_presence=dict(NULLABLE_STRING)
    )
    return streams


def aggregate_rows(builder: SchemaBuilder, response_model: str) -> JsonSchema:
    """One row per (query, group, interval, metric), with ``StatisticalSummary`` as columns.

    Every statistic is a nullable number: the API omits the ones it did not compute, and
    percentiles and calculated values are not guaranteed to be whole numbers.
    """
    index = builder.index
    response = index.get(response_model)
    container = index.get(builder.item_model(response.field_type("results")))
    bucket = index.get(builder.item_model(container.field_type("data")))
    metric_data = index.get(builder.item_model(bucket.field_type("metrics")))
    summary = index.get(builder.item_model(metric_data.field_type("stats")))

    properties: dict[str, JsonSchema] = {
        "query_name": dict(NON_NULL_STRING),
        "group_key": dict(NON_NULL_STRING),
        "group": builder.type_schema(container.field_type("group")),
        "interval_start": dict(NON_NULL_DATETIME),
        "interval_end": dict(NON_NULL_DATETIME),
        "metric": dict(NON_NULL_STRING),
        "qualifier": builder.type_schema(metric_data.field_type("qualifier")),
    }
    properties.update({name: dict(NULLABLE_NUMBER) for name, _type in summary.fields()})
    require(properties, "qualifier")  # a key column: the tap writes "" when there is none
    return stream_schema(properties)


DIMENSION_MODELS: dict[str, tuple[str, ...]] = {
    "queues": ("Queue",),
    "users": ("User",),
    "wrapup_codes": ("WrapupCode",),
    "divisions": ("AuthzDivision",),
    "skills": ("RoutingSkill",),
    "groups": ("Group",),
    "presence_definitions": ("OrganizationPresenceDefinition", "OrganizationPresence"),
    "flows": ("Flow",),
    "flow_outcomes": ("FlowOutcome",),
    "flow_milestones": ("FlowMilestone",),
}
"""Entity model of each listing endpoint, with fallbacks for older SDK versions."""


def dimensions(index: ModelIndex) -> dict[str, JsonSchema]:
    """Directory entities, depth-limited because models like ``User`` nest without end."""
    builder = SchemaBuilder(index, max_depth=DIMENSION_MAX_DEPTH)
    streams = {}
    for stream, candidates in DIMENSION_MODELS.items():
        model = next((name for name in candidates if name in index), None)
        if model is None:
            raise ValueError(f"{stream}: none of {candidates} is in the SDK")
        properties = builder.properties(model)
        properties["id"] = dict(NON_NULL_STRING)
        streams[stream] = stream_schema(properties)
    return streams


def build_all(models_dir: Path) -> dict[str, JsonSchema]:
    """Build every stream schema, keyed by stream name (which is also the file name)."""
    index = ModelIndex(models_dir)
    builder = SchemaBuilder(index)
    schemas = {
        "conversation_details": conversation_details(builder),
        "user_details": user_details(builder),
    }
    schemas.update(aggregates(builder))
    schemas.update(user_status_streams(builder))
    schemas.update(conversation_children(builder))
    schemas.update(dimensions(index))
    return schemas


def render(schema: JsonSchema) -> str:
    """Serialise deterministically so regenerated files diff cleanly."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, verify) one ``<stream>.json`` per stream."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("models_dir", type=Path, help="unzipped PureCloudPlatformClientV2/models")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="schema folder")
    parser.add_argument("--check", action="store_true", help="fail if files are out of date")
    args = parser.parse_args(argv)

    out_dir: Path = args.out
    stale = []
    for stream, schema in sorted(build_all(args.models_dir).items()):
        path = out_dir / f"{stream}.json"
        text = render(schema)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
