"""The offer catalogue and the Gemeinden, as GeoJSON (no networks needed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query

from api.deps import ServicesDep, asked_language
from api.errors import RequestError, echo
from api.models import GemeindeCollection, OfferCollection, OfferFeature, PointGeometry
from api.services import Services, plain
from geo.sources import hours
from geo.vocabulary import Category

#: ``lang`` (documented on every endpoint): the language of error messages.
router = APIRouter(tags=["offers"], dependencies=[Depends(asked_language)])


@router.get("/offers", response_model=OfferCollection)
def offers(
    s: ServicesDep,
    category: Annotated[Category | None, Query(description="offer category")] = None,
    gemeinde: Annotated[str | None, Query(
        max_length=100, description="Gemeinde name or 8-digit AGS, e.g. Rosdorf")] = None,
    age: Annotated[float | None, Query(
        ge=0, le=120, allow_inf_nan=False,
        description="age in years: drops offers whose known age range excludes it; offers "
                    "whose ages are only their category's default stay, with matches = "
                    "null, after the matches")] = None,
    open_at: Annotated[dt.datetime | None, Query(
        description="local time (Europe/Berlin), e.g. 2026-11-26T10:00: drops offers known "
                    "to be closed then; offers without opening hours stay, with open = null "
                    "and matches = null, after the matches")] = None,
    include_inactive: Annotated[bool, Query(
        description="also planned and closed offers")] = False,
) -> OfferCollection:
    """Offers of the catalogue as GeoJSON, filtered.

    An offer's Gemeinde is the one the reports give it (the VG5000 Gemeinde containing
    it, else the nearest). With ``age`` or ``open_at`` the offers known to match come
    first (``matched``), then those of unknown ages or hours (``unknown``): an unknown is
    never counted as a match. Ages are known when the offer gives them or its name does
    (Krippe: 0–3; :func:`geo.products.chain.offer_ages`).
    """
    frame = s.offers if include_inactive else s.offers[s.offers["status"] == "active"]
    if category is not None:
        frame = frame[frame["category"] == str(category)]
    if gemeinde is not None:
        known = s.offers["gemeinde"].dropna().unique()
        if gemeinde not in known and gemeinde not in set(s.offers["gemeinde_ags"].dropna()):
            raise RequestError(422, ["query", "gemeinde"],
                               f"unknown Gemeinde {echo(gemeinde)} in "
                               f"{s.engine.region.title}", "unknown_gemeinde", sorted(known),
                               values={"gemeinde": echo(gemeinde)})
        frame = frame[(frame["gemeinde"] == gemeinde) | (frame["gemeinde_ags"] == gemeinde)]
    states = pd.DataFrame(index=frame.index)
    if age is not None:
        states["age"] = age_match(s, frame, age)
    if open_at is not None:
        when = open_at.astimezone(hours.TZ).replace(tzinfo=None) if open_at.tzinfo else open_at
        states["open"] = [hours.is_open(h, when) for h in frame["opening_hours"]]
    keep = ~states.eq(False).any(axis=1)  # known not to match
    frame, states = frame[keep], states[keep]
    matches = states.eq(True).all(axis=1)
    order = np.argsort(~matches.to_numpy(), kind="stable")
    frame, states, matches = frame.iloc[order], states.iloc[order], matches.iloc[order]
    asked = len(states.columns) > 0
    features = []
    for (idx, row), match in zip(frame.iterrows(), matches, strict=True):
        props = s.offer_properties(row, plain(states.at[idx, "open"]) if "open" in states
                                   else None)
        props.matches = True if asked and match else None
        features.append(OfferFeature(geometry=PointGeometry(coordinates=(row["lon"], row["lat"])),
                                     properties=props))
    return OfferCollection(features=features,
                           matched=int(matches.sum()) if asked else None,
                           unknown=int((~matches).sum()) if asked else None)


def age_match(s: Services, frame: pd.DataFrame, age: float) -> list[bool | None]:
    """Whether each offer's known ages include ``age`` (years); None when only the default.

    Ages are :func:`geo.products.chain.offer_ages` (the offer's own, a name rule, else the
    category default, which counts as unknown); both bounds inclusive.
    """
    ages = s.chain().ages.loc[frame["id"]]
    inside = ((ages["age_from"] <= age) & (ages["age_to"] >= age)).to_numpy()
    known = (ages["age_source"] != "category").to_numpy()
    return [bool(ok) if k else None for ok, k in zip(inside, known, strict=True)]


@router.get("/gemeinden", response_model=GemeindeCollection)
def gemeinden(s: ServicesDep) -> dict[str, Any]:
    """Return the Gemeinden of the region as GeoJSON (VG5000, generalised; ags, name)."""
    return s.gemeinden
