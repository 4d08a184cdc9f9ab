"""Travel times from one point: the nearest offers, isochrones, there and back by bus.

``/nearest`` is a table lookup plus a short route search (milliseconds): a plain ``def``
endpoint in the server's thread pool, never held back by the heavy slots. Isochrones and
there-and-back are heavy: each holds one :class:`~api.guards.HeavySlots` slot and renders
its JSON in its worker thread.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query, Response

from api import reach
from api.deps import (
    NOT_READY,
    LangDep,
    OriginDep,
    ServicesDep,
    SettingsDep,
    blame_origin,
    clock_seconds,
    json_answer,
    minute_list,
    mode_ready,
    ready,
    timetable,
)
from api.errors import RequestError, blame
from api.guards import heavy
from api.models import (
    ErrorBody,
    IsochroneCollection,
    IsochroneProperties,
    LineGeometry,
    NearestAnswer,
    NearestOffer,
    ThereAndBackAnswer,
    TransitLeg,
)
from api.services import Services
from geo.networks.snap import to_metric
from geo.vocabulary import METRIC_CRS, Category, Mode

router = APIRouter(tags=["travel times"], dependencies=[Depends(ready)], responses=NOT_READY)

#: Answer when mode transit is asked for but no timetable is loaded (the data's state, not
#: the request, is at fault: 409 Conflict; the message says how to load one).
NO_TIMETABLE: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": (
    "mode transit, but no public-transport timetable is loaded (detail names the field "
    "mode)")}}


def _nearest_results(s: Services, lon: float, lat: float, category: str, mode: str, k: int,
                     route: bool) -> list[NearestOffer]:
    """Return the k nearest offers, from the minutes table or (``route``) with routes."""
    if not route:
        table = s.engine.nearest_many(np.array([lon]), np.array([lat]), category, mode, k)
        return [NearestOffer(rank=int(row.rank), offer=s.by_id[row.offer_id][0],
                             location=s.by_id[row.offer_id][1],
                             minutes=round(float(row.minutes), 2))
                for row in table.itertuples()]
    found = s.engine.nearest_routes(lon, lat, category, mode, k)
    access_m = round(found.access_m, 1) if np.isfinite(found.access_m) else None
    return [NearestOffer(rank=rank, offer=s.by_id[offer_id][0], location=s.by_id[offer_id][1],
                         minutes=round(float(seconds) / 60.0, 2), access_m=access_m,
                         route=LineGeometry(coordinates=np.round(line, 6).tolist()),
                         legs=None if found.legs is None else
                         [TransitLeg.model_validate(leg) for leg in found.legs[rank - 1]])
            for rank, (offer_id, seconds, line) in enumerate(
                zip(found.offer_ids, found.seconds, found.routes, strict=True), 1)]


@router.get("/nearest", response_model=NearestAnswer, responses=NO_TIMETABLE)
def nearest(
    s: ServicesDep,
    settings: SettingsDep,
    point: OriginDep,
    lang: LangDep,
    category: Annotated[Category, Query(description="offer category")],
    mode: Annotated[Mode, Query(description="travel mode")] = Mode.walk,
    k: Annotated[int, Query(ge=1, le=10, description="offers listed, at most "
                                                     "AccessSettings.k_max (5)")] = 3,
    route: Annotated[bool, Query(
        description="include each route's geometry and the access distance; without "
                    "them the answer is a table lookup (about 5× faster)")] = True,
) -> NearestAnswer:
    """Return the k nearest active offers of a category from a point or an address.

    With the door-to-door minutes and the route of each, its address, whether it is open
    now (Europe/Berlin) and today's hours, and its minutes by the other modes. When no
    offer lies within ``max_minutes``: the nearest one anyway (``nearest_anyway``) and the
    first mode that reaches one in time (``suggest_mode``).
    """
    if k > settings.access.k_max:
        raise RequestError(422, ["query", "k"], f"k must be at most {settings.access.k_max}",
                           "less_than_equal", values={"le": settings.access.k_max})
    mode_ready(s, str(mode))
    with blame(*blame_origin(point)):
        results = _nearest_results(s, point.lon, point.lat, str(category), str(mode), k, route)
    anyway, suggest = None, None
    if not results:
        anyway = reach.nearest_anyway(s, point.lon, point.lat, str(category), str(mode))
        suggest = reach.suggest_mode(s, point.lon, point.lat, str(category), str(mode))
    found = [*results, *([anyway] if anyway is not None else [])]
    reach.add_facts(s, found, point.lon, point.lat, str(category), str(mode), lang)
    return NearestAnswer(origin=point, category=str(category), mode=str(mode),
                         max_minutes=settings.access.nearest_max_min, results=results,
                         nearest_anyway=anyway, suggest_mode=suggest)


def _geojson(polys: gpd.GeoDataFrame, tolerance_m: float) -> bytes:
    """Write isochrone polygons (GeoDataFrame, WGS84) as a GeoJSON FeatureCollection.

    Outlines are simplified to ``tolerance_m`` metres, coordinates rounded to 6 decimals
    (≈ 0.1 m): Douglas-Peucker without topology preservation (GEOS' topology-preserving simplifier
    takes ≈ 25 s on a county-wide car polygon, this ≈ 1 s), repaired where it made a
    polygon invalid. The geometry is written by GEOS, not through Python objects: a
    county-wide polygon would be millions of them, whose garbage collection would stall
    every other request.
    """
    metric = shapely.simplify(polys.to_crs(METRIC_CRS).geometry.values, tolerance_m,
                              preserve_topology=False)
    bad = ~shapely.is_valid(metric)
    metric[bad] = shapely.make_valid(metric[bad])
    lonlat = gpd.GeoSeries(metric, crs=METRIC_CRS).to_crs("EPSG:4326").values
    geometries = shapely.to_geojson(shapely.transform(lonlat, lambda xy: np.round(xy, 6)))
    features = [
        '{"type":"Feature","geometry":%s,"properties":%s}' % (geometry, IsochroneProperties(
            minutes=minutes, mode=mode, area_km2=area).model_dump_json())
        for geometry, minutes, mode, area in zip(geometries, polys["minutes"], polys["mode"],
                                                 polys["area_km2"], strict=True)]
    return ('{"type":"FeatureCollection","features":[%s]}' % ",".join(features)).encode()


@router.get("/isochrones", response_model=IsochroneCollection,
            responses={**NO_TIMETABLE, 422: {"model": ErrorBody, "description": (
                "invalid input, or more work than one request may ask for: the budgets of "
                "one mode add up to at most ApiSettings.isochrone_max_minutes (walk 180, "
                "bike 120, car 90, transit 180 minutes by default) and the answer is at most "
                "ApiSettings.isochrone_max_bytes (8 MB); detail names minutes")}},
            dependencies=[Depends(heavy)])
def isochrones(
    s: ServicesDep,
    settings: SettingsDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False,
                                description="WGS84 latitude, degrees")],
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False,
                                description="WGS84 longitude, degrees")],
    mode: Annotated[Mode, Query(description="travel mode")] = Mode.walk,
    minutes: Annotated[str, Query(max_length=60,
                                  description="comma-separated budgets, minutes (their sum "
                                              "per mode is capped, see 422)")] = "10,20,30",
) -> Response:
    """Areas reachable from a point within each budget, along the streets (GeoJSON).

    Outlines are simplified to ApiSettings.isochrone_simplify_m (25 m).
    """
    api = settings.api
    budgets = minute_list(minutes, settings.access.nearest_max_min,
                          api.isochrone_max_minutes.get(str(mode)))
    mode_ready(s, str(mode))
    with blame("query", "lat"):
        polys = s.engine.isochrones(lon, lat, str(mode), budgets)
    body = _geojson(polys, api.isochrone_simplify_m)
    if len(body) > api.isochrone_max_bytes:
        raise RequestError(422, ["query", "minutes"], f"the isochrones of {minutes} min would "
                           f"be {len(body) / 1e6:.1f} MB, more than the "
                           f"{api.isochrone_max_bytes / 1e6:g} MB one answer may be: ask "
                           "fewer or smaller budgets", "too_large")
    return Response(body, media_type="application/json")


@router.get("/there-and-back", response_model=ThereAndBackAnswer, responses=NO_TIMETABLE,
            dependencies=[Depends(heavy)])
def there_and_back(
    s: ServicesDep,
    point: OriginDep,
    offer_id: Annotated[str, Query(min_length=1, max_length=200,
                                   description="id of an active offer (see /offers)")],
    date: Annotated[dt.date | None, Query(
        description="day of the visit, within the loaded timetable's service period "
                    "(else 422 naming date; default: the timetable's regular day)")] = None,
    arrive_by: Annotated[str | None, Query(
        max_length=5, description="be at the offer by HH:MM (hours up to 47 for times past "
                                  "midnight; default: its opening time that day)")] = None,
    leave_after: Annotated[str | None, Query(
        max_length=5, description="leave the offer after HH:MM (default: its closing time "
                                  "that day)")] = None,
) -> Response:
    """Whether one gets to an offer by bus before it starts, and home after it ends.

    From home (a point or an address, as /nearest takes it) by walking and public
    transport, the same day; with the connections (line, departure, arrival) of both ways.
    """
    start, end = clock_seconds(arrive_by, "arrive_by"), clock_seconds(leave_after,
                                                                      "leave_after")
    if start is not None and end is not None and end < start:
        raise RequestError(422, ["query", "leave_after"], f"leave_after {leave_after} "
                           f"lies before arrive_by {arrive_by}", "invalid")
    transit = timetable(s)
    first, last = transit.feed.first_day, transit.feed.last_day
    if date is not None and not first <= date <= last:  # the date, not the offer, is at fault
        raise RequestError(422, ["query", "date"], f"no timetable is loaded for {date}: the "
                           f"loaded one runs from {first} to {last}", "no_service_day",
                           values={"date": f"{date:%d.%m.%Y}", "first": f"{first:%d.%m.%Y}",
                                   "last": f"{last:%d.%m.%Y}"})
    x, y = to_metric(np.array([point.lon]), np.array([point.lat]))
    with blame("query", "offer_id"):
        trip = transit.there_and_back(float(x[0]), float(y[0]), offer_id, date, start, end)
    return json_answer(ThereAndBackAnswer.model_validate(trip.summary()))
