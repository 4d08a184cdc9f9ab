"""Coverage of the region and what-if scenarios.

Shares within reach, closed or added offers, best new sites. Every endpoint here is heavy
(one :class:`~api.guards.HeavySlots` slot, JSON rendered in the worker thread).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Depends, Query, Response

from api.deps import (
    NOT_READY,
    ServicesDep,
    SettingsDep,
    json_answer,
    minute_list,
    mode_ready,
    ready,
)
from api.errors import RequestError, blame, echo
from api.guards import heavy
from api.models import (
    BestSitesAnswer,
    BestSitesRequest,
    CoverageRow,
    CoverageTable,
    ErrorBody,
    Figures,
    Scenario,
    ScenarioAnswer,
    ScenarioRow,
)
from api.routers.travel import NO_TIMETABLE
from api.services import Services, plain
from geo.products import siting
from geo.vocabulary import Category, Level, Mode, Weight, white_spot_definition

router = APIRouter(tags=["coverage"], dependencies=[Depends(ready), Depends(heavy)],
                   responses=NOT_READY)


def _figures(row: pd.Series, prefix: str, thresholds: list[int], white_spot: int) -> Figures:
    """Coverage figures of one population (``children`` or ``inhabitants``) of one row."""
    return Figures(
        persons=float(row[prefix]),
        within_share={m: plain(row[f"{prefix}_within_{m}min_share"]) for m in thresholds},
        mean_minutes=plain(row[f"{prefix}_mean_minutes"]),
        median_minutes=plain(row[f"{prefix}_median_minutes"]),
        p90_minutes=plain(row[f"{prefix}_p90_minutes"]),
        beyond_white_spot=float(row[f"{prefix}_beyond_{white_spot}min"]),
        not_connected=float(row[f"{prefix}_not_connected"]))


@router.get("/coverage", response_model=CoverageTable, responses=NO_TIMETABLE)
def coverage(
    s: ServicesDep,
    settings: SettingsDep,
    category: Annotated[Category, Query(description="offer category")],
    unit: Annotated[Level, Query(description="area level of the rows")] = Level.gemeinde,
    mode: Annotated[Mode, Query(description="travel mode")] = Mode.walk,
    minutes: Annotated[str | None, Query(
        max_length=60, description="comma-separated thresholds, whole minutes (default "
                                   "AccessSettings.thresholds_min: 5,10,15,20,30)")] = None,
    weight: Annotated[Weight | None, Query(
        description="also weigh by a need layer (single_parent_families, …): rows get "
                    "`weighted`")] = None,
) -> Response:
    """Share of children (and inhabitants) per area reaching an offer in time.

    Per threshold, with mean/median/p90 minutes and white spots.
    """
    access = settings.access
    values = (minute_list(minutes, access.nearest_max_min) if minutes is not None
              else [float(m) for m in access.thresholds_min])
    if any(not m.is_integer() for m in values):
        raise RequestError(422, ["query", "minutes"],
                           f"thresholds are whole minutes, got {echo(minutes)}", "invalid")
    thresholds = sorted({int(m) for m in values})
    mode_ready(s, str(mode))
    with blame("query", "category"):
        table = s.engine.coverage(str(unit), str(category), str(mode), thresholds,
                                  weight=None if weight is None else str(weight))
    white = access.white_spot_min
    prefix = None if weight is None else siting.weight_prefix(str(weight))
    rows = [CoverageRow(ags=r["ags"], name=r["name"], level=r["level"],
                        children=_figures(r, "children", thresholds, white),
                        inhabitants=_figures(r, "inhabitants", thresholds, white),
                        weighted=None if prefix is None
                        else _figures(r, prefix, thresholds, white))
            for _, r in table.iterrows()]
    return json_answer(CoverageTable(
        category=str(category), mode=str(mode), level=str(unit), weight=weight,
        white_spot_minutes=white, white_spot_mode=access.white_spot_mode,
        white_spot=white_spot_definition(settings),
        rows=rows))


def _scenario_rows(gemeinden: pd.DataFrame, thresholds: list[int], white_spot: int
                   ) -> list[ScenarioRow]:
    """Children coverage per Gemeinde before and after (the engine's what-if table)."""
    white = f"children_beyond_{white_spot}min"
    return [ScenarioRow(
        ags=r["ags"], name=r["name"], children=float(r["children"]),
        within_share_before={m: plain(r[f"children_within_{m}min_share_before"])
                             for m in thresholds},
        within_share_after={m: plain(r[f"children_within_{m}min_share_after"])
                            for m in thresholds},
        within_change={m: int(r[f"children_within_{m}min_change"]) for m in thresholds},
        beyond_white_spot_before=float(r[f"{white}_before"]),
        beyond_white_spot_after=float(r[f"{white}_after"]))
        for _, r in gemeinden.iterrows()]


@router.post("/scenarios", response_model=ScenarioAnswer)
def scenarios(s: ServicesDep, settings: SettingsDep,
              scenario: Annotated[Scenario, Body()]) -> Response:
    """Add offers at these sites and/or close some: children coverage before and after.

    Per Gemeinde; at most ApiSettings.max_scenario_sites added sites.
    """
    if len(scenario.add) > settings.api.max_scenario_sites:
        raise RequestError(422, ["body", "add"], f"at most "
                           f"{settings.api.max_scenario_sites} sites per scenario", "invalid")
    mode_ready(s, str(scenario.mode), "body")
    with blame("body", "add" if scenario.add else "remove"):
        result = s.engine.what_if(
            str(scenario.category), str(scenario.mode),
            add=[(site.lon, site.lat) for site in scenario.add], remove=scenario.remove)
    rows = _scenario_rows(result.gemeinden, list(settings.access.thresholds_min),
                          settings.access.white_spot_min)
    return json_answer(ScenarioAnswer(
        category=str(scenario.category), mode=str(scenario.mode),
        seconds=round(result.seconds, 3), changed_cells=len(result.cells), gemeinden=rows))


def _unit_ags(services: Services, unit: str) -> str:
    """ARS of a municipal unit given by name or ARS; 422 naming ``unit``."""
    units = services.engine.units("unit")
    match = units[(units["name"] == unit) | (units["ags"] == unit)]
    if match.empty:
        raise RequestError(422, ["body", "unit"], f"unknown municipal unit {echo(unit)}",
                           "unknown_unit", sorted(units["name"]))
    return str(match["ags"].iloc[0])


def _check_work(query: BestSitesRequest, settings: SettingsDep) -> None:
    """422 when a best-sites request asks for more work than one request may."""
    api = settings.api
    most = api.best_sites_max_minutes.get(str(query.mode), 0.0)
    if query.minutes > most:
        raise RequestError(422, ["body", "minutes"], f"at most {most:g} minutes by "
                           f"{query.mode} for best sites (each candidate's reach is a search "
                           "of its own)", "too_much_work")
    if query.candidates is not None and len(query.candidates) * query.k > api.best_sites_max_work:
        raise RequestError(422, ["body", "candidates"], f"{len(query.candidates)} candidates "
                           f"× k {query.k} is more than {api.best_sites_max_work}: give fewer "
                           "candidates or a smaller k", "too_much_work")


@router.post("/scenarios/best-sites", response_model=BestSitesAnswer,
             responses={422: {"model": ErrorBody, "description": (
                 "invalid input, or more work than one request may ask for: candidates × k "
                 "at most ApiSettings.best_sites_max_work (1000), minutes at most "
                 "ApiSettings.best_sites_max_minutes (walk 30, bike 15, car 10)")}})
def best_sites(s: ServicesDep, settings: SettingsDep,
               query: Annotated[BestSitesRequest, Body()]) -> Response:
    """Find the k new sites that bring the most children under 10 within the time.

    Greedy maximal covering over street nodes or the given candidates, with the
    children gained by each site (:func:`geo.products.siting.best_sites`).
    """
    _check_work(query, settings)
    unit_ags = None if query.unit is None else _unit_ags(s, query.unit)
    candidates = (None if query.candidates is None else
                  (np.array([c.lon for c in query.candidates]),
                   np.array([c.lat for c in query.candidates])))
    with blame("body", "category" if candidates is None else "candidates"):
        summary = siting.best_sites(s.engine, str(query.category), str(query.mode),
                                    query.minutes, query.k, candidates, unit_ags,
                                    weight=str(query.weight)).summary()
    summary["sites"] = [{k: plain(v) for k, v in site.items()} for site in summary["sites"]]
    return json_answer(BestSitesAnswer.model_validate(summary))
