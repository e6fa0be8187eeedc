"""The Quality family: evaluation and survey aggregates, evaluations and surveys by id, forms.

Routes (the real API's paths and rules, as far as they are documented):

* ``POST /api/v2/analytics/evaluations/aggregates/query`` and ``.../surveys/aggregates/query``:
  ``interval`` and ``metrics`` required, ``groupBy`` and ``alternateTimeDimension`` from the
  documented lists, no paging. With ``eventTime`` an item counts in the interval of each of
  its events, so grouping by its id lists the items that changed in the interval.
  The evaluation default time dimension is ``evaluationCreatedDate``.
* ``GET /api/v2/quality/conversations/{cid}/evaluations/{eid}``: 404 once deleted.
* ``GET /api/v2/quality/surveys/{id}``.
* ``GET /api/v2/quality/publishedforms/evaluations`` and ``.../surveys``: paged (``pageSize``
  at most 100), every published version unless ``onlyLatestPerContext`` /
  ``onlyLatestEnabledPerContext`` is true.

The fault switch ``quality_forbidden`` answers every route with 403 missing.permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .. import quality, quality_forms
from ..dataset import Dataset
from ..timeutil import iso, parse_interval
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteTable

Json = dict[str, Any]

EVALUATION_GROUPS: dict[str, Callable[[Json], Any]] = {
    "evaluationId": lambda e: e["id"],
    "conversationId": lambda e: e["conversation"]["id"],
    "userId": lambda e: e["agent"]["id"],
    "queueId": lambda e: e["queue"]["id"],
    "formId": lambda e: e["evaluationForm"]["id"],
    "contextId": lambda e: e["evaluationForm"]["contextId"],
    "evaluatorId": lambda e: (e.get("evaluator") or {}).get("id"),
}
EVALUATION_METRICS = {"nEvaluations", "nEvaluationsDeleted", "nEvaluationsRescored"}
EVALUATION_TIME = {
    "conversationStart",
    "evaluationCreatedDate",
    "evaluationReleaseDate",
    "eventTime",
}
SURVEY_GROUPS: dict[str, Callable[[Json], Any]] = {
    "surveyId": lambda s: s["id"],
    "conversationId": lambda s: s["conversation"]["id"],
    "userId": lambda s: (s.get("agent") or {}).get("id"),
    "queueId": lambda s: s["queue"]["id"],
    "surveyFormId": lambda s: s["surveyForm"]["id"],
    "surveyFormContextId": lambda s: s["surveyForm"]["contextId"],
    "surveyStatus": lambda s: s["status"],
    "surveyType": lambda s: s["surveyType"],
}
#: Which survey event each count metric counts.
SURVEY_METRICS = {
    "nSurveysSent": "Sent",
    "nSurveysStarted": "InProgress",
    "nSurveyResponses": "Finished",
    "nSurveysAbandoned": "OptOut",
    "nSurveyErrors": "Error",
    "nSurveysExpired": "Expired",
}
SURVEY_TIME = {"eventTime", "surveyCreatedDate"}
MAX_FORMS_PAGE_SIZE = 100


class Quality:
    """Serves the quality items of the data set as they are at the clock."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Reads the clock and faults from ``core``, plans and forms from ``dataset``."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """The aggregates, by-id and published-forms routes."""
        add = routes.add
        add(
            "POST",
            r"/api/v2/analytics/evaluations/aggregates/query",
            "evaluation_aggregates",
            self._guard(lambda ex: ex.send_json(200, self.evaluation_aggregates(ex.json_body()))),
        )
        add(
            "POST",
            r"/api/v2/analytics/surveys/aggregates/query",
            "survey_aggregates",
            self._guard(lambda ex: ex.send_json(200, self.survey_aggregates(ex.json_body()))),
        )
        add(
            "GET",
            r"/api/v2/quality/conversations/([^/]+)/evaluations/([^/]+)",
            "evaluation",
            self._guard(lambda ex: ex.send_json(200, self.evaluation(*ex.args))),
        )
        add(
            "GET",
            r"/api/v2/quality/surveys/([^/]+)",
            "survey",
            self._guard(lambda ex: ex.send_json(200, self.survey(ex.args[0]))),
        )
        for kind, latest in (
            ("evaluations", "onlyLatestPerContext"),
            ("surveys", "onlyLatestEnabledPerContext"),
        ):
            add(
                "GET",
                f"/api/v2/quality/publishedforms/{kind}",
                f"published_{kind}_forms",
                self._guard(self._forms_route(kind, latest)),
            )

    def _guard(self, route: Callable[[Exchange], None]) -> Callable[[Exchange], None]:
        def guarded(ex: Exchange) -> None:
            if self.core.faults.quality_forbidden:
                self.core.fault_fired("quality_forbidden")
                raise ApiError(403, "Missing permission(s)", "missing.permissions")
            route(ex)

        return guarded

    # ------------------------------------------------------------------ aggregates
    def evaluation_aggregates(self, body: object) -> Json:
        """Counts per group of the evaluations, each in the interval of its time dimension."""
        start, end, groups, metrics, time = self._aggregate_body(
            body, EVALUATION_GROUPS, EVALUATION_METRICS, EVALUATION_TIME, "evaluationCreatedDate"
        )
        counts: dict[tuple[Any, ...], dict[str, int]] = {}
        now = self.core.now_ms
        for item in self._evaluations(start, end):
            record = quality.evaluation_at(item, now)
            if record is None:
                continue
            happened = item.events_until(now)
            times = {
                "eventTime": [e.t for e in happened],
                "evaluationCreatedDate": [happened[0].t],
                "conversationStart": [item.conversation_start],
                "evaluationReleaseDate": [e.t for e in happened if e.kind == "release"],
            }[time]
            hits = [t for t in times if start <= t < end]
            if not hits:
                continue
            key = tuple(EVALUATION_GROUPS[g](record) for g in groups)
            row = counts.setdefault(key, dict.fromkeys(metrics, 0))
            in_range = (
                [e for e in happened if start <= e.t < end] if time == "eventTime" else happened
            )
            for metric in metrics:
                if metric == "nEvaluations":
                    row[metric] += len(hits)
                elif metric == "nEvaluationsDeleted":
                    row[metric] += sum(e.kind == "delete" for e in in_range)
                else:
                    row[metric] += sum(e.kind == "rescore" for e in in_range)
        return _results(groups, counts, start, end)

    def survey_aggregates(self, body: object) -> Json:
        """Counts per group of survey events (eventTime) or surveys (surveyCreatedDate)."""
        start, end, groups, metrics, time = self._aggregate_body(
            body, SURVEY_GROUPS, set(SURVEY_METRICS), SURVEY_TIME, "eventTime"
        )
        counts: dict[tuple[Any, ...], dict[str, int]] = {}
        now = self.core.now_ms
        for item in self._surveys(start, end):
            record = quality.survey_at(item, now)
            if record is None:
                continue
            happened = item.events_until(now)
            events = happened if time == "eventTime" else happened[:1]
            if not any(start <= e.t < end for e in events):
                continue
            key = tuple(SURVEY_GROUPS[g](record) for g in groups)
            row = counts.setdefault(key, dict.fromkeys(metrics, 0))
            counted = (
                [e for e in happened if start <= e.t < end] if time == "eventTime" else happened
            )
            for metric in metrics:
                row[metric] += sum(e.kind == SURVEY_METRICS[metric] for e in counted)
        return _results(groups, counts, start, end)

    @staticmethod
    def _aggregate_body(
        body: object,
        group_names: dict[str, Any],
        metric_names: set[str],
        times: set[str],
        default_time: str,
    ) -> tuple[int, int, list[str], list[str], str]:
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        if "interval" not in body:
            raise ApiError(400, "interval is required.")
        try:
            start, end = parse_interval(body["interval"])
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        metrics = body.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            raise ApiError(400, "metrics is required.")
        unknown = [m for m in metrics if m not in metric_names]
        groups = body.get("groupBy") or []
        unknown += [g for g in groups if g not in group_names]
        time = body.get("alternateTimeDimension") or default_time
        if time not in times:
            unknown.append(time)
        if body.get("granularity"):
            raise ApiError(400, "The simulator serves whole-interval aggregates only.")
        if unknown:
            raise ApiError(400, f"Unsupported value(s): {', '.join(map(str, unknown))}.")
        return start, end, list(groups), list(metrics), time

    def _evaluations(self, start: int, end: int) -> Iterator[quality.Item]:
        for p in self.dataset.quality_items(start, end):
            yield from p.evaluations

    def _surveys(self, start: int, end: int) -> Iterator[quality.Item]:
        for p in self.dataset.quality_items(start, end):
            yield from p.surveys

    # ------------------------------------------------------------------ by id
    def _plan_of(self, conversation_id: str) -> quality.Plan | None:
        index = self.dataset.index_of(conversation_id)
        return None if index is None else self.dataset.quality_plan(index)

    def evaluation(self, conversation_id: str, evaluation_id: str) -> Json:
        """One evaluation with its answers; 404 when unknown, not created yet, or deleted."""
        p = self._plan_of(conversation_id)
        for item in p.evaluations if p else ():
            if item.id == evaluation_id:
                record = quality.evaluation_at(item, self.core.now_ms)
                if record is not None and not record.pop("deleted"):
                    return dict(_compact(record))
        raise ApiError(404, f"Evaluation {evaluation_id} was not found.", "not.found")

    def survey(self, survey_id: str) -> Json:
        """One survey with its answers; 404 when unknown or not sent yet."""
        index = self.dataset.index_of_tail(survey_id[-12:])
        p = None if index is None else self.dataset.quality_plan(index)
        for item in p.surveys if p else ():
            if item.id == survey_id:
                record = quality.survey_at(item, self.core.now_ms)
                if record is not None:
                    # The API's Survey has neither (the simulator keeps them for eventTime).
                    record.pop("changedDate")
                    record.pop("sentDate")
                    return dict(_compact(record))
        raise ApiError(404, f"Survey {survey_id} was not found.", "not.found")

    # ------------------------------------------------------------------ forms
    def _forms_route(self, kind: str, latest_param: str) -> Callable[[Exchange], None]:
        def route(ex: Exchange) -> None:
            ex.send_json(200, self.published_forms(kind, latest_param, ex.query))

        return route

    def published_forms(self, kind: str, latest_param: str, query: dict[str, list[str]]) -> Json:
        """One page of the published form versions (every version unless only the latest)."""
        try:
            size = int(query.get("pageSize", ["25"])[0])
            number = int(query.get("pageNumber", ["1"])[0])
        except ValueError as exc:
            raise ApiError(400, "pageSize and pageNumber must be integers.") from exc
        if not 1 <= size <= MAX_FORMS_PAGE_SIZE or number < 1:
            raise ApiError(400, f"pageSize must be 1 to {MAX_FORMS_PAGE_SIZE}, pageNumber >= 1.")
        forms = self.dataset.quality_forms[0 if kind == "evaluations" else 1]
        now = self.core.now_ms
        live = sorted((f for f in forms if f["publishedAt"] <= now), key=lambda f: f["publishedAt"])
        if query.get(latest_param, ["false"])[0].lower() == "true":
            latest = {f["contextId"]: f for f in live}
            live = list(latest.values())
        page = live[(number - 1) * size : number * size]
        count = -(-len(live) // size)
        listing: Json = {
            "entities": [quality_forms.public_form(f) for f in page],
            "pageSize": size,
            "pageNumber": number,
            "total": len(live),
            "pageCount": count,
        }
        if number < count:
            listing["nextUri"] = f"/api/v2/quality/publishedforms/{kind}?pageNumber={number + 1}"
        return listing


def _results(
    groups: list[str], counts: dict[tuple[Any, ...], dict[str, int]], start: int, end: int
) -> Json:
    interval = f"{iso(start)}/{iso(end)}"
    results = [
        {
            "group": {g: v for g, v in zip(groups, key, strict=True) if v is not None},
            "data": [
                {
                    "interval": interval,
                    "metrics": [{"metric": m, "stats": {"count": n}} for m, n in row.items() if n],
                }
            ],
        }
        for key, row in counts.items()
    ]
    return {"results": results} if results else {}


def _compact(value: Any) -> Any:
    """Drop null fields, as Genesys omits them."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value
