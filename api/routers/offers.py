"""The offer catalogue and the Gemeinden, as GeoJSON (no networks needed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from opening_hours import OpeningHours

from api.deps import ServicesDep
from api.errors import RequestError, echo
from api.models import GemeindeCollection, OfferCollection, OfferFeature, PointGeometry
from geo.vocabulary import Category

router = APIRouter(tags=["offers"])


@router.get("/offers", response_model=OfferCollection)
def offers(
    s: ServicesDep,
    category: Annotated[Category | None, Query(description="offer category")] = None,
    gemeinde: Annotated[str | None, Query(
        max_length=100, description="Gemeinde name or 8-digit AGS, e.g. Rosdorf")] = None,
    age: Annotated[float | None, Query(
        ge=0, le=120, allow_inf_nan=False,
        description="age in years: drops offers whose known age range excludes it")] = None,
    open_at: Annotated[dt.datetime | None, Query(
        description="local time, e.g. 2026-11-26T10:00: drops offers known to be closed "
                    "then (offers without opening hours stay, with open = null)")] = None,
    include_inactive: Annotated[bool, Query(
        description="also planned and closed offers")] = False,
) -> OfferCollection:
    """Offers of the catalogue as GeoJSON, filtered.

    An offer's Gemeinde is the one the reports give it (the VG5000 Gemeinde containing
    it, else the nearest).
    """
    frame = s.offers if include_inactive else s.offers[s.offers["status"] == "active"]
    if category is not None:
        frame = frame[frame["category"] == str(category)]
    if gemeinde is not None:
        known = s.offers["gemeinde"].dropna().unique()
        if gemeinde not in known and gemeinde not in set(s.offers["gemeinde_ags"].dropna()):
            raise RequestError(422, ["query", "gemeinde"],
                               f"unknown Gemeinde {echo(gemeinde)} in "
                               f"{s.engine.region.title}", "unknown_gemeinde", sorted(known))
        frame = frame[(frame["gemeinde"] == gemeinde) | (frame["gemeinde_ags"] == gemeinde)]
    if age is not None:
        frame = frame[~((frame["age_from"] > age) | (frame["age_to"] < age))]
    is_open: dict[Any, bool | None] = {}
    if open_at is not None:
        when = open_at.replace(tzinfo=None)
        for idx, hours in frame["opening_hours"].dropna().items():
            is_open[idx] = bool(OpeningHours(hours).is_open(when))
        frame = frame[[is_open.get(i, True) for i in frame.index]]
    return OfferCollection(features=[
        OfferFeature(geometry=PointGeometry(coordinates=(row["lon"], row["lat"])),
                     properties=s.offer_properties(row, is_open.get(idx)))
        for idx, row in frame.iterrows()])


@router.get("/gemeinden", response_model=GemeindeCollection)
def gemeinden(s: ServicesDep) -> dict[str, Any]:
    """Return the Gemeinden of the region as GeoJSON (VG5000, generalised; ags, name)."""
    return s.gemeinden
