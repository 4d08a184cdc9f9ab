"""Service quality of public transport: departures per hour and ÖV-Güteklassen.

:func:`service_level` counts departures per stop or station in a time window;
:func:`station_categories` and :func:`gueteklassen` grade stations and the land around
them after ARE's ÖV-Güteklassen; :func:`gueteklassen_shares` weighs the classes by the
children living in each Gemeinde. Times are seconds since midnight of the date.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import DataError, EmptyResultError
from geo.sources.gtfs import Feed
from geo.transit.timetable import DAY_S, hhmm
from geo.vocabulary import METRIC_CRS


def _departures(feed: Feed, date: dt.date, start_s: int, end_s: int) -> pd.DataFrame:
    """Stop times where a vehicle leaves a stop in ``[start_s, end_s)`` on ``date``.

    Trips of ``date`` and, shifted by −24 h, of the previous service day; a trip's last
    stop and stops without boarding (pickup_type 1) are not departures.
    """
    st = feed.stop_times
    last = np.r_[st["trip_id"].to_numpy()[1:] != st["trip_id"].to_numpy()[:-1], True]
    st = st[~last & (st["pickup_type"].to_numpy() != 1)]
    trips = feed.tables.trips.set_index("trip_id")
    route_type = feed.tables.routes.set_index("route_id")["route_type"].astype(int)
    parts = []
    for day, offset in ((date - dt.timedelta(days=1), -DAY_S), (date, 0)):
        ids = trips.index[feed.trips_on(day).to_numpy()]
        part = st[st["trip_id"].isin(ids)].assign(time_s=lambda x, o=offset: x.departure_s + o)
        parts.append(part[(part["time_s"] >= start_s) & (part["time_s"] < end_s)])
    out = pd.concat(parts, ignore_index=True)
    out["route_id"] = trips.loc[out["trip_id"], "route_id"].to_numpy()
    out["route_type"] = route_type.reindex(out["route_id"]).to_numpy()
    return out


def _stops_gdf(feed: Feed, frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Attach names and EPSG:3035 points to a frame indexed by stop_id."""
    stops = feed.stops.set_index("stop_id")
    frame = frame.rename_axis("stop_id").join(stops[["stop_name", "x", "y"]], how="left")
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]).reset_index(),
                            geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=METRIC_CRS)


def service_level(feed: Feed, date: dt.date, start_s: int, end_s: int, *,
                  by_station: bool = False) -> gpd.GeoDataFrame:
    """Departures per hour at each stop (or station) in a time window.

    Parameters
    ----------
    feed : Feed
    date : datetime.date
    start_s, end_s : int
        Window, seconds since midnight of ``date``.
    by_station : bool
        Count all platforms of a station together (GTFS parent_station).

    Returns
    -------
    geopandas.GeoDataFrame
        ``stop_id``, ``stop_name``, ``departures``, ``per_hour`` (departures / window hours),
        ``routes`` (distinct routes leaving), point geometry in EPSG:3035; stops without a
        departure in the window are listed with 0.
    """
    if end_s <= start_s:
        raise DataError(f"time window {start_s}..{end_s} s is empty")
    dep = _departures(feed, date, start_s, end_s)
    station = feed.station_of()
    key = station if by_station else pd.Series(station.index, index=station.index)
    dep["stop"] = key.reindex(dep["stop_id"]).to_numpy()
    universe = pd.Index(key[feed.stops.set_index("stop_id")["location_type"]
                            .reindex(key.index).to_numpy() == 0].unique(), name="stop_id")
    counts = dep.groupby("stop").agg(departures=("trip_id", "size"),
                                      routes=("route_id", "nunique"))
    counts = counts.reindex(universe, fill_value=0)
    counts["per_hour"] = counts["departures"] / ((end_s - start_s) / 3600)
    return _stops_gdf(feed, counts[["departures", "per_hour", "routes"]])


#: ÖV-Güteklassen after ARE (Bundesamt für Raumentwicklung, 2022: "ÖV-Güteklassen.
#: Berechnungsmethodik ARE", Grundlagenbericht), in the German adaptation used by
#: Plan4Better/GOAT: transport groups A rail and metro, B tram/light rail and funiculars,
#: C bus, coach, ferry and aerial lifts (by GTFS route_type, basic and extended).
GROUP_OF_ROUTE_TYPE: dict[range, str] = {
    range(1, 3): "A", range(100, 200): "A", range(400, 500): "A",
    range(1): "B", range(5, 6): "B", range(7, 8): "B", range(900, 1000): "B",
    range(1400, 1500): "B",
}
#: upper bounds (minutes, exclusive) of the mean interval classes; longer: no category
INTERVAL_BOUNDS_MIN: tuple[int, ...] = (5, 10, 20, 40, 60, 120)
#: station category (1 = I … 7 = VII) per interval class and group
CATEGORY: dict[str, tuple[int, ...]] = {
    "A": (1, 1, 2, 3, 4, 5), "B": (1, 2, 3, 4, 5, 6), "C": (2, 3, 4, 5, 6, 7),
}
#: Güteklasse per station category by distance band (≤300, ≤500, ≤750, ≤1000 m)
CLASS_BANDS_M: tuple[int, ...] = (300, 500, 750, 1000)
CLASS_OF_CATEGORY: dict[int, tuple[str, ...]] = {
    1: ("A", "A", "B", "C"), 2: ("A", "B", "C", "D"), 3: ("B", "C", "D", "E"),
    4: ("C", "D", "E", "F"), 5: ("D", "E", "F"), 6: ("E", "F"), 7: ("F",),
}


def _group(route_type: int) -> str:
    return next((g for r, g in GROUP_OF_ROUTE_TYPE.items() if route_type in r), "C")


def station_categories(feed: Feed, date: dt.date, start_s: int = 6 * 3600,
                       end_s: int = 20 * 3600) -> gpd.GeoDataFrame:
    """ARE station category per station (platforms of a parent station counted together).

    The mean interval is the window length divided by half the departures (both
    directions counted, as ARE does); the best transport group serving the station decides
    the row of the category table. ARE's reference window is a weekday 06:00–20:00.

    Returns
    -------
    geopandas.GeoDataFrame
        ``stop_id`` (station), ``stop_name``, ``departures``, ``interval_min``, ``group``
        (A/B/C), ``category`` (1–7 for I–VII, 0 = none: interval ≥ 120 min), points in
        EPSG:3035.
    """
    dep = _departures(feed, date, start_s, end_s)
    dep["stop"] = feed.station_of().reindex(dep["stop_id"]).to_numpy()
    dep["group"] = [_group(int(t)) for t in dep["route_type"]]
    per = dep.groupby("stop").agg(departures=("trip_id", "size"), group=("group", "min"))
    per["interval_min"] = (end_s - start_s) / 60 / (per["departures"] / 2)
    band = np.searchsorted(np.asarray(INTERVAL_BOUNDS_MIN), per["interval_min"], side="right")
    per["category"] = [CATEGORY[g][b] if b < len(INTERVAL_BOUNDS_MIN) else 0
                       for g, b in zip(per["group"], band, strict=True)]
    return _stops_gdf(feed, per[["departures", "interval_min", "group", "category"]])


def gueteklassen(feed: Feed, date: dt.date, start_s: int = 6 * 3600,
                 end_s: int = 20 * 3600) -> gpd.GeoDataFrame:
    """ÖV-Güteklassen A–F as areas: rings of 300/500/750/1000 m around each station.

    Each area gets the best class any station gives it (crow-fly rings, as ARE).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per class present: ``klasse`` (A–F) and its (multi)polygon in EPSG:3035,
        non-overlapping, best class first.
    """
    st = station_categories(feed, date, start_s, end_s)
    st = st[st["category"] > 0]
    if st.empty:
        raise EmptyResultError(f"no station on {date} has a departure interval under "
                               f"{INTERVAL_BOUNDS_MIN[-1]} min between {hhmm(start_s)} "
                               f"and {hhmm(end_s)}: no ÖV-Güteklasse anywhere")
    pieces: dict[str, list[shapely.Geometry]] = {}
    for geom, cat in zip(st.geometry, st["category"], strict=True):
        for radius, klasse in zip(CLASS_BANDS_M, CLASS_OF_CATEGORY[int(cat)], strict=False):
            pieces.setdefault(klasse, []).append(geom.buffer(radius, 32))
    rows, taken = [], shapely.Polygon()
    for klasse in sorted(pieces):
        area = shapely.union_all(pieces[klasse])
        rows.append({"klasse": klasse, "geometry": area.difference(taken)})
        taken = taken.union(area)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)



def gueteklassen_shares(klassen: gpd.GeoDataFrame, cells: pd.DataFrame,
                        gemeinden: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share of children under 10 per ÖV-Güteklasse in each Gemeinde.

    A Zensus cell belongs to the class area containing its centre (as cells belong to
    Gemeinden, see :mod:`geo.sources.population`); cells outside every class area count as
    ``none``.

    Parameters
    ----------
    klassen : geopandas.GeoDataFrame
        :func:`gueteklassen` (``klasse``, polygons in EPSG:3035).
    cells : pandas.DataFrame
        100 m cells with ``x``, ``y`` (EPSG:3035 centre), ``children_under_10`` and
        ``gemeinde_ags`` (:func:`geo.sources.population.read_children_100m`).
    gemeinden : geopandas.GeoDataFrame
        ``ags`` and ``name`` of the region's Gemeinden.

    Returns
    -------
    pandas.DataFrame
        One row per Gemeinde: ``ags``, ``name``, ``children_under_10`` and
        ``share_A`` … ``share_F``, ``share_none`` (fractions summing to 1; NaN for a
        Gemeinde without children cells).
    """
    classes = [*"ABCDEF", "none"]
    x, y = cells["x"].to_numpy(float), cells["y"].to_numpy(float)
    klasse = np.full(len(cells), "none", dtype=object)
    for name, area in zip(klassen["klasse"], klassen.geometry, strict=True):
        klasse[shapely.contains_xy(area, x, y) & (klasse == "none")] = name
    counts = (pd.DataFrame({"ags": cells["gemeinde_ags"].to_numpy(), "klasse": klasse,
                            "children": cells["children_under_10"].to_numpy(float)})
              .pivot_table(index="ags", columns="klasse", values="children", aggfunc="sum",
                           fill_value=0.0)
              .reindex(index=gemeinden["ags"], columns=classes, fill_value=0.0))
    total = counts.sum(axis=1)
    out = pd.DataFrame({"ags": gemeinden["ags"].to_numpy(),
                        "name": gemeinden["name"].to_numpy(),
                        "children_under_10": total.to_numpy()})
    for c in classes:
        out[f"share_{c}"] = (counts[c] / total.where(total > 0)).to_numpy()
    return out
