"""The family API behind the family page (:mod:`api.routers.page`): its age view.

``GET /family/offers`` (router :data:`api`) answers "Was gibt es für mein Kind?": the
stages of the prevention chain for a child's age and their offers within reach.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query

from api.deps import (
    NOT_READY,
    LangDep,
    ServicesDep,
    mode_ready,
    origin,
    ready,
)
from api.errors import RequestError, blame, echo
from api.models import FamilyAnswer, FamilyOffer, FamilyStage, Origin
from api.services import Services
from geo.errors import RegionError
from geo.messages import text
from geo.networks.snap import to_lonlat, to_metric
from geo.products.chain import find_gemeinde, stage_label
from geo.products.guide import GUIDE_MODES, main_place, minutes_from
from geo.settings import ChainStage
from geo.sources import hours

# ------------------------------------------------------------- "Was gibt es für mein Kind?"

api = APIRouter(tags=["family"], dependencies=[Depends(ready)], responses=NOT_READY)


def _stage_origin(s: Services, lang: str, gemeinde: str | None, lat: float | None,
                  lon: float | None, address: str | None) -> tuple[Origin, str | None]:
    """Return the origin (an address or point, else the Gemeinde's main place) and the AGS."""
    if gemeinde is None:
        return origin(s, lang, lat, lon, address), None
    if address is not None or lat is not None or lon is not None:
        raise RequestError(422, ["query", "gemeinde"], "give either gemeinde or an address "
                           "(or lat/lon), not both", "conflict")
    data = s.chain()
    try:
        ags = find_gemeinde(data, gemeinde)
    except RegionError as exc:
        raise RequestError(422, ["query", "gemeinde"], str(exc), "unknown_gemeinde",
                           sorted(data.gemeinden["name"]),
                           values={"gemeinde": echo(gemeinde)}) from exc
    with blame("query", "gemeinde"):
        place = main_place(data, ags)
    lon_, lat_ = to_lonlat(np.array([place["x"]]), np.array([place["y"]]))
    return Origin(lon=float(lon_[0]), lat=float(lat_[0]), address=place["name"],
                  precision="place"), ags


def _moment(weekday: str | None, clock: str | None) -> dt.datetime | None:
    """Return the local moment asked: ``weekday`` (default today) at ``clock`` (default now)."""
    if weekday is None and clock is None:
        return None
    now = hours.local_now()
    at = now.time() if clock is None else dt.time.fromisoformat(clock)
    return hours.weekday_time(weekday or hours.WEEKDAYS[now.weekday()], at, now.date())


def stage_offers(s: Services, stage: ChainStage, age: float) -> pd.DataFrame:
    """Return the active offers of ``stage`` whose ages include ``age`` (years, inclusive).

    The stage's offers (:meth:`geo.products.chain.ChainData.stage_offers`: category and
    ages overlapping the stage's), their ages from :func:`geo.products.chain.offer_ages`.
    """
    offers = s.chain().stage_offers(stage)
    return offers[(offers["age_from"] <= age) & (offers["age_to"] >= age)]


def _stage(s: Services, stage: ChainStage, offers: pd.DataFrame,
           minutes: dict[str, dict[str, float]], mode: str, moment: dt.datetime | None,
           lang: str) -> FamilyStage:
    """One stage of the answer: offers within the budget, open ones first, nearest first."""
    rows = []
    for offer_id in offers["id"]:
        by_mode = {m: minutes[m][offer_id] for m in GUIDE_MODES}
        if not by_mode[mode] <= stage.budget_min:
            continue
        props, location = s.by_id[offer_id]
        state = None if moment is None else hours.is_open(props.opening_hours, moment)
        if state is False:  # known closed then
            continue
        rows.append(FamilyOffer(**{**props.model_dump(), "open": state},
                                minutes={m: round(v, 2) if np.isfinite(v) else None
                                         for m, v in by_mode.items()},
                                lon=location.coordinates[0], lat=location.coordinates[1]))
    rows.sort(key=lambda o: (o.open is not True, o.minutes[mode], o.name))
    return FamilyStage(key=stage.key, label=stage_label(stage, lang), age_from=stage.age_from,
                       age_to=stage.age_to, budget_min=stage.budget_min,
                       matched=None if moment is None else sum(o.open is True for o in rows),
                       offers=rows)


@api.get("/family/offers", response_model=FamilyAnswer)
def family_offers(
    s: ServicesDep,
    lang: LangDep,
    age: Annotated[float, Query(ge=0, lt=18, allow_inf_nan=False,
                                description="age of the child, years (0 = pregnancy and "
                                            "first year)")],
    address: Annotated[str | None, Query(
        min_length=1, max_length=200, description="home address, as /nearest takes it")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False,
                                       description="instead of address: WGS84 latitude")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False,
                                       description="instead of address: WGS84 longitude")
                   ] = None,
    gemeinde: Annotated[str | None, Query(
        min_length=1, max_length=100, description="instead of an address: Gemeinde (8-digit "
                                                  "AGS or name); minutes from its main place")
                        ] = None,
    mode: Annotated[Literal["walk", "bike"], Query(
        description="the stage budgets apply to this mode")] = "walk",
    weekday: Annotated[Literal["mo", "di", "mi", "do", "fr", "sa", "so"] | None, Query(
        description="open on this weekday (Montag … Sonntag; default today)")] = None,
    time: Annotated[str | None, Query(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="open at HH:MM (00:00 to 23:59), local time (default now)")] = None,
) -> FamilyAnswer:
    """List what there is for a child of this age: the prevention chain's offers in reach.

    The stages of the chain (ChainSettings.stages) whose ages cover ``age``; per stage its
    active offers whose ages include ``age`` (their own, from the name, else the category
    default) and that lie within the stage's budget (minutes) by ``mode`` from the origin,
    nearest first, with the minutes on foot and by bike (the family guide's
    trip, :func:`geo.products.guide.minutes_from`). With ``weekday`` and/or ``time``: offers known
    to be closed then are left out, open ones come first (``matched``), offers without
    opening hours follow with ``open`` = null ("Öffnungszeiten unbekannt", never counted
    as open).
    """
    for needed in GUIDE_MODES:  # the minutes on foot and by bike
        mode_ready(s, str(needed))
    point, ags = _stage_origin(s, lang, gemeinde, lat, lon, address)
    moment = _moment(weekday, time)
    stages = [st for st in s.settings.chain.stages
              if st.kind == "offers" and st.age_from <= age < st.age_to]
    offers = {st.key: stage_offers(s, st, age) for st in stages}
    ids = pd.Series(sorted({i for frame in offers.values() for i in frame["id"]}), dtype=object)
    x, y = to_metric(np.array([point.lon]), np.array([point.lat]))
    minutes = {m: dict(zip(ids, minutes_from(s.chain(), float(x[0]), float(y[0]), ids, m),
                           strict=True)) for m in GUIDE_MODES}
    return FamilyAnswer(
        origin=point, gemeinde=ags, age=age, mode=mode, weekday=weekday,
        time=None if moment is None else f"{moment:%H:%M}",
        hours_unknown=text("api.hours_unknown", lang),
        stages=[_stage(s, st, offers[st.key], minutes, mode, moment, lang) for st in stages])
