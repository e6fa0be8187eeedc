"""The Quality family: evaluations and surveys by id, published forms.

Routes (the real API's paths and rules, as far as they are documented); the evaluation and
survey aggregates queries are served with the other subjects (``api.aggregates``):

* ``GET /api/v2/quality/conversations/{cid}/evaluations/{eid}``: 404 once deleted.
* ``GET /api/v2/quality/surveys/{id}``.
* ``GET /api/v2/quality/publishedforms/evaluations`` and ``.../surveys``: paged (``pageSize``
  at most 100), every published version unless ``onlyLatestPerContext`` /
  ``onlyLatestEnabledPerContext`` is true.

The fault switch ``quality_forbidden`` answers every route with 403 missing.permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import quality, quality_forms
from ..dataset import Dataset
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteTable

Json = dict[str, Any]

MAX_FORMS_PAGE_SIZE = 100


class Quality:
    """Serves the quality items of the data set as they are at the clock."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Reads the clock and faults from ``core``, plans and forms from ``dataset``."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """The by-id and published-forms routes."""
        add = routes.add
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


def _compact(value: Any) -> Any:
    """Drop null fields, as Genesys omits them."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value
