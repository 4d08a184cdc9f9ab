"""The planners' workspace: the page ``/planung`` and its endpoints under ``/planning``.

Thin over :mod:`geo.products.scenarios`: evaluate a plan (the engine's what-if, per
Gemeinde), save and load scenarios by name, compare two, download the table (CSV, XLSX)
and the layers (GeoPackage, GeoTIFF). Best new sites are the existing
``POST /scenarios/best-sites``. Refusals carry German messages from the message table
(section ``planner``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field, ValidationError

from api.deps import NOT_READY, ServicesDep, SettingsDep, json_answer, ready
from api.errors import RequestError
from api.guards import heavy, page_headers
from api.models import ErrorBody
from api.services import Services, plain
from geo.errors import AccessInputError, EmptyResultError, LimitError, RegionError
from geo.messages import negotiate, section, text
from geo.products import scenarios
from geo.products.maps import CLASS_COLOURS, UNREACHABLE_COLOUR, class_labels
from geo.products.scenarios import Plan, PlanError, SavedScenario, ScenarioNotFoundError
from geo.products.transit_status import timetable_status
from geo.settings import Settings
from geo.vocabulary import STREET_MODES, Mode, Weight, attribution, label, vintages

STATIC = Path(__file__).resolve().parent.parent / "static"
#: The base map of the basemap module (tiles, labels, scale), loaded when it is there.
BASEMAP = STATIC / "basemap.js"

router = APIRouter(tags=["planning"])
heavy_deps = [Depends(ready), Depends(heavy)]


# --------------------------------------------------------------------------- models


class Choice(BaseModel):
    """A value a select offers and its German label."""

    value: str
    label: str


class PlannerOptions(BaseModel):
    """What the planner page offers and how it draws (labels in German)."""

    categories: list[Choice] = Field(description="categories with active offers")
    modes: list[Choice]
    weights: list[Choice]
    units: list[str] = Field(description="municipal units for best sites")
    minutes: int = Field(description="default time budget, minutes")
    max_minutes: int
    max_sites: int = Field(description="added sites per scenario")
    best_sites_max_minutes: dict[str, float]
    legend: list[Choice] = Field(description="colour (value) and minute class (label)")
    texts: dict[str, str] = Field(description="the page's texts (message table, planner.page)")
    attribution: str
    vintages: dict[str, str]
    incomplete: list[str] = Field(
        description="Gemeinden whose Kita data look incomplete (the reports' completeness "
                    "check, geo.products.siting.completeness)")
    timetable: str = Field(description="the region's public-transport timetable: none (no "
                                       "transit mode), long_distance_only or loaded")
    transit_note: str = Field(description="one sentence on Bus & Bahn: how to load a "
                                          "timetable, or what the loaded one lacks; empty "
                                          "when a full timetable is loaded")


class PlanRow(BaseModel):
    """One Gemeinde of an evaluated plan (weight = children, families or persons)."""

    ags: str
    name: str
    total: float = Field(description="the weight in the Gemeinde")
    within_before: float = Field(description="weight within the minutes today")
    within_after: float = Field(description="weight within the minutes with the plan")
    gained: int = Field(description="within_after − within_before, rounded as the what-if")
    share_before: float | None
    share_after: float | None


class MapImage(BaseModel):
    """The plan's travel times on populated cells: PNG data URL and WGS84 bounds."""

    url: str
    bounds: list[list[float]] = Field(description="[[south, west], [north, east]], degrees")


class PlanAnswer(BaseModel):
    """An evaluated plan: coverage per Gemeinde before and after, totals, the map image."""

    plan: Plan
    description: str
    seconds: float = Field(description="server computation time, seconds")
    changed_cells: int
    totals: dict[str, float]
    rows: list[PlanRow]
    image: MapImage


class SaveRequest(BaseModel):
    """A plan to save under a name."""

    name: str = Field(min_length=1, max_length=200)
    plan: Plan


class SavedAnswer(SavedScenario):
    """A saved scenario and its link."""

    link: str = Field(description="the planner page showing the scenario")
    description: str


class CompareRow(BaseModel):
    """Weight gained in one Gemeinde by scenarios a and b."""

    ags: str
    name: str
    total_a: float
    gained_a: int
    total_b: float
    gained_b: int
    difference: int = Field(description="gained_b − gained_a")


class CompareAnswer(BaseModel):
    """Two scenarios side by side."""

    a: SavedAnswer
    b: SavedAnswer
    rows: list[CompareRow]


# --------------------------------------------------------------------------- helpers


def language(lang: Annotated[str | None, Query(
        pattern=r"^[a-z]{2}$", description="language of the texts (de, en); default German, "
                                           "whatever the browser asks")] = None) -> str:
    """Return the language to answer in: ``lang`` when we have it, else German.

    German first: a county office's browser set to English still gets the German page,
    English only on request (``?lang=en``).
    """
    return negotiate(None, lang)


LangDep = Annotated[str, Depends(language)]


@contextmanager
def german(where: str) -> Iterator[None]:
    """Turn planner and engine errors into 4xx answers with German messages."""
    try:
        yield
    except PlanError as exc:
        raise RequestError(422, [where, exc.field], str(exc), "invalid") from exc
    except ScenarioNotFoundError as exc:
        raise RequestError(404, ["path", "scenario_id"], str(exc), "not_found") from exc
    except LimitError as exc:
        raise RequestError(409, [where], str(exc), "too_large") from exc
    except RegionError as exc:
        raise RequestError(422, [where, "add"], text("planner.errors.site", reason=str(exc)),
                           "outside_region") from exc
    except EmptyResultError as exc:
        raise RequestError(404, [where, "category"], text("planner.errors.no_offers"),
                           "no_offers") from exc
    except AccessInputError as exc:
        raise RequestError(422, [where, "remove"], text("planner.errors.remove",
                                                        reason=str(exc)), "invalid") from exc


def _evaluate(s: Services, settings: Settings, plan: Plan, where: str
              ) -> scenarios.Evaluation:
    with german(where):
        scenarios.check_plan(plan, settings)
        return scenarios.evaluate(s.engine, plan)


def _saved(saved: SavedScenario, lang: str) -> SavedAnswer:
    return SavedAnswer(**saved.model_dump(), link=f"/planung?szenario={saved.id}",
                       description=saved.plan.describe(lang))


def _load(settings: Settings, scenario_id: str) -> SavedScenario:
    with german("path"):
        return scenarios.ScenarioStore(settings).load(scenario_id)


# --------------------------------------------------------------------------- page


@cache
def _page(credits: str, basemap: bool, lang: str) -> str:
    """Return the page with its texts in ``lang``, the attribution and the base-map flag."""
    page = (STATIC / "planung.html").read_text("utf-8").replace("{{lang}}", lang)
    for key, value in section("planner.page", lang).items():
        page = page.replace("{{" + key + "}}", html.escape(value))
    return (page.replace("{{attribution}}", html.escape(credits.replace(" | ", "; ")))
            .replace("{{basemap}}", "1" if basemap else ""))


@router.get("/planung", response_class=HTMLResponse, include_in_schema=False)
def planner_page(settings: SettingsDep, lang: LangDep) -> HTMLResponse:
    """Serve the planner page (German first); scripts: Leaflet, /planung.js, /basemap.js."""
    return HTMLResponse(_page(attribution(settings), BASEMAP.is_file(), lang),
                        headers=page_headers("family"))


@router.get("/planung.js", include_in_schema=False)
def planner_script() -> FileResponse:
    """Serve the planner page's script."""
    return FileResponse(STATIC / "planung.js", media_type="text/javascript",
                        headers={"X-Content-Type-Options": "nosniff"})


@router.get("/planung.css", include_in_schema=False)
def planner_style() -> FileResponse:
    """Serve the planner page's style sheet."""
    return FileResponse(STATIC / "planung.css", media_type="text/css",
                        headers={"X-Content-Type-Options": "nosniff"})


# --------------------------------------------------------------------------- API


def transit_note(s: Services, lang: str) -> str:
    """One sentence on Bus & Bahn in the planner: how to load a timetable, what it lacks.

    Empty when a full timetable is loaded; the long-distance-only sentence is the
    products' (:func:`geo.products.transit_status.timetable_status`).
    """
    state = s.timetable()
    if state == "none":
        return text("planner.page.transit_none", lang, region=s.settings.region)
    if state == "long_distance_only":
        return str(timetable_status(s.settings, lang=lang)["text"])
    return ""


@router.get("/planning/options", response_model=PlannerOptions, dependencies=[Depends(ready)],
            responses=NOT_READY)
def options(s: ServicesDep, settings: SettingsDep, lang: LangDep) -> PlannerOptions:
    """Categories, modes, weights, units, limits, legend and texts of the planner page."""
    return PlannerOptions(
        categories=[Choice(value=c, label=label("category", c, lang))
                    for c in s.engine.categories()],
        modes=[Choice(value=m, label=label("mode", m, lang)) for m in STREET_MODES]
        + ([Choice(value=Mode.transit, label=label("mode", Mode.transit, lang))]
           if s.timetable() != "none" else []),
        weights=[Choice(value=w.value, label=label("weight", w.value, lang)) for w in Weight],
        units=sorted(s.engine.units("unit")["name"]),
        minutes=settings.access.white_spot_min, max_minutes=settings.planner.max_minutes,
        max_sites=settings.api.max_scenario_sites,
        best_sites_max_minutes=settings.api.best_sites_max_minutes,
        legend=[Choice(value=c, label=f"{t} min") for c, t in
                zip(CLASS_COLOURS, class_labels(settings.maps.breaks_min), strict=True)]
        + [Choice(value=UNREACHABLE_COLOUR, label=text("planner.page.unreachable", lang))],
        texts=section("planner.page", lang), attribution=attribution(settings),
        vintages=vintages(settings), incomplete=s.incomplete_gemeinden(),
        timetable=s.timetable(), transit_note=transit_note(s, lang))


@router.post("/planning/evaluate", response_model=PlanAnswer, dependencies=heavy_deps,
             responses={**NOT_READY, 404: {"model": ErrorBody}})
def evaluate(s: ServicesDep, settings: SettingsDep, lang: LangDep,
             plan: Annotated[Plan, Body()]) -> Response:
    """Coverage per Gemeinde today and with the plan (the engine's what-if), and the map."""
    ev = _evaluate(s, settings, plan, "body")
    url, bounds = scenarios.map_image(ev)
    rows = [PlanRow(**{k: plain(v) for k, v in r.items()})
            for r in ev.table.to_dict("records")]
    return json_answer(PlanAnswer(
        plan=plan, description=plan.describe(lang), seconds=round(ev.seconds, 3),
        changed_cells=ev.changed_cells, totals=ev.totals(), rows=rows,
        image=MapImage(url=url, bounds=bounds)))


@router.post("/planning/scenarios", response_model=SavedAnswer, status_code=201,
             dependencies=[Depends(ready)], responses={**NOT_READY, 409: {"model": ErrorBody}})
def save(s: ServicesDep, settings: SettingsDep, lang: LangDep,
         request: Annotated[SaveRequest, Body()]) -> SavedAnswer:
    """Save a plan under a name (one JSON file); the answer holds its id and link."""
    store = scenarios.ScenarioStore(settings)
    with german("body"):
        store.check_name(request.name)
        scenarios.check_plan(request.plan, settings)
        scenarios.check_changes(s.engine, request.plan)
        return _saved(store.save(request.name, request.plan), lang)


@router.get("/planning/scenarios", response_model=list[SavedAnswer])
def saved_scenarios(settings: SettingsDep, lang: LangDep) -> list[SavedAnswer]:
    """Every saved scenario, newest first."""
    return [_saved(x, lang) for x in scenarios.ScenarioStore(settings).list()]


ScenarioId = Annotated[str, PathParam(max_length=64, description="scenario id (from save)")]


@router.get("/planning/scenarios/{scenario_id}", response_model=SavedAnswer,
            responses={404: {"model": ErrorBody}})
def saved_scenario(settings: SettingsDep, lang: LangDep,
                   scenario_id: ScenarioId) -> SavedAnswer:
    """One saved scenario (its plan); the page evaluates it."""
    return _saved(_load(settings, scenario_id), lang)


@router.get("/planning/compare", response_model=CompareAnswer, dependencies=heavy_deps,
            responses={**NOT_READY, 404: {"model": ErrorBody}})
def compare(s: ServicesDep, settings: SettingsDep, lang: LangDep,
            a: Annotated[str, Query(max_length=64, description="scenario id")],
            b: Annotated[str, Query(max_length=64, description="scenario id")]) -> Response:
    """Weight gained per Gemeinde by two saved scenarios, side by side."""
    first, second = _load(settings, a), _load(settings, b)
    for saved, where in ((first, "a"), (second, "b")):
        with german(where):
            scenarios.check_plan(saved.plan, settings)
    with german("query"):
        table = scenarios.compare(s.engine, first.plan, second.plan)
    rows = [CompareRow(**{k: plain(v) for k, v in r.items()}) for r in table.to_dict("records")]
    return json_answer(CompareAnswer(a=_saved(first, lang), b=_saved(second, lang),
                                     rows=rows))


def _query_plan(settings: Settings, szenario: str | None, plan: str | None) -> Plan:
    """Return the plan of an export: a saved scenario's, or the JSON ``plan`` query parameter."""
    if szenario is not None:
        return _load(settings, szenario).plan
    if plan is None:
        raise RequestError(422, ["query", "plan"], text("planner.errors.export_plan"),
                           "missing")
    try:
        return Plan.model_validate(json.loads(plan))
    except (ValueError, RecursionError, ValidationError) as exc:  # JSON nested too deep
        raise RequestError(422, ["query", "plan"], text("planner.errors.plan_json",
                                                        reason=str(exc)[:200]),
                           "invalid") from exc


@router.get("/planning/export/{fmt}", dependencies=heavy_deps,
            responses={**NOT_READY, 200: {"content": {t: {} for t in scenarios.FORMATS.values()},
                                          "description": "the file"}})
def export(s: ServicesDep, settings: SettingsDep,
           fmt: Annotated[scenarios.ExportFormat, PathParam(description="file format")],
           szenario: Annotated[str | None, Query(max_length=64,
                                                 description="a saved scenario's id")] = None,
           plan: Annotated[str | None, Query(max_length=8000,
                                             description="or the plan as JSON")] = None,
           ) -> Response:
    """Download the table (csv, xlsx) or the layers (gpkg: Gemeinden, sites; tif: minutes)."""
    ev = _evaluate(s, settings, _query_plan(settings, szenario, plan), "query")
    name = f"erreichbar-{ev.plan.category}-{ev.plan.mode}-{ev.plan.minutes}min.{fmt}"
    return Response(scenarios.export(ev, fmt), media_type=scenarios.FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
