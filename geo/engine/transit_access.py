"""Public transport as an access mode: walk + bus/train to the nearest offers, per cell.

A trip is: home → walk to a stop (street walk network where we hold one,
:class:`~geo.transit.walk.NetworkWalk`, else crow-fly × detour factor,
:class:`~geo.transit.walk.CrowFlyWalk`) → connection scan (:mod:`geo.transit.scan`) → walk
from a stop to the offer. For a date and a departure window (default: settings' 07:00–09:00
on :func:`geo.transit.timetable.default_date`, a regular Tuesday of the feed), every
departure minute is
routed (R5's time-window method) and per home the **median** and the **best** travel time
are reported, in minutes, waiting at home included.

Walking the whole way is always allowed: for every departure the transit time is
``min(walk only, walk + transit)``. The scan alone does not guarantee that (it may only
reach an offer next door by riding a bus), so the minimum is taken explicitly; transit
times are therefore never longer than walking. Walking the whole way is crow-fly metres ×
detour factor at walking speed (no distance limit), or the engine's street walk time where
it passes one in.

Many homes share stops, so the scans run once per **stop** and departure minute, not per
home: ``P[s, t]`` = travel time from stop ``s`` leaving at minute ``t`` to the nearest offer
(egress walk included). A home with walks ``w_s`` to its stops then gets, per window minute
``t``, ``min_s (⌈w_s⌉ + P[s, t + ⌈w_s⌉])`` where ``⌈w⌉`` is the walk rounded **up** to whole
minutes. Approximation: the traveller may wait up to 59 s at the stop; a vehicle leaving in
those seconds is missed, so times are never optimistic (upper bounds, at most one vehicle
later). The stop profiles cover the window plus the longest access walk.

There is no timetable in the default data for Landkreis Göttingen: :class:`TransitAccess`
needs a loaded feed (``erreichbar gtfs load PATH|URL --region R``), and the transit engine
(:mod:`geo.engine.transit_engine`) raises the loader's "no public-transport timetable is
loaded" error otherwise — times are never guessed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import DataError, EmptyResultError
from geo.networks.snap import to_metric
from geo.settings import Settings
from geo.sources.gtfs import Feed
from geo.transit.query import (
    departure_profiles,
    describe_legs,
    earliest_arrival,
    journey_to_point,
)
from geo.transit.timetable import compile_timetable, default_date
from geo.transit.trip import HoursUnknownError, ThereAndBack, there_and_back
from geo.transit.walk import CrowFlyWalk, WalkModel, direct_walk_s, walk_whole_way_s
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransitCells:
    """Walk + transit to the nearest offer of a category, per origin point (cell).

    Attributes
    ----------
    category : str
    median_s, best_s, worst_s : numpy.ndarray of float
        Median, shortest and longest travel time over the window's departures, seconds
        (never more than ``walk_s``).
    walk_s : numpy.ndarray of float
        Walking the whole way to the nearest offer, seconds.
    offer : numpy.ndarray of int
        Row in the category's offers of the offer reached at the median departure (−1:
        none reachable).
    """

    category: str
    median_s: np.ndarray
    best_s: np.ndarray
    worst_s: np.ndarray
    walk_s: np.ndarray
    offer: np.ndarray


@dataclass(frozen=True)
class WalkOnly:
    """Walking the whole way from each origin to its nearest offer (e.g. the walk surface).

    Attributes
    ----------
    seconds : numpy.ndarray of float
        Seconds per origin (inf: no offer reached, or the origin off the network).
    offer_id : numpy.ndarray of object
        Id of that offer per origin (None: none).
    """

    seconds: np.ndarray
    offer_id: np.ndarray

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """Row of each origin's offer in ``ids`` (−1: none, or not among ``ids``)."""
        where = pd.Series(np.arange(len(ids)), index=pd.Index(list(ids), dtype=object))
        return pd.Series(self.offer_id, dtype=object).map(where).fillna(-1).to_numpy(np.int64)


class TransitAccess:
    """Walk + public transport to the offers of a region for one date and window (cached).

    Parameters
    ----------
    feed : Feed
        A validated GTFS feed (:func:`geo.sources.gtfs.load_feed` / ``load_region_feed``).
    settings : Settings
        ``transit`` (walk speed, detour, max walk, transfers, window, step) is used.
    offers : geopandas.GeoDataFrame
        Active offers (EPSG:4326, ``id``, ``name``, ``category``, ``lon``, ``lat``).
    date : datetime.date, optional
        Service day; default :func:`geo.transit.timetable.default_date` (a regular Tuesday).
    start_s, end_s : int, optional
        Departure window, seconds since midnight (default ``settings.transit``:
        07:00–09:00).
    walk : WalkModel, optional
        Access, egress and transfer walks (default :class:`~geo.transit.walk.CrowFlyWalk`).
    """

    def __init__(self, feed: Feed, settings: Settings, offers: gpd.GeoDataFrame, *,
                 date: dt.date | None = None, start_s: int | None = None,
                 end_s: int | None = None, walk: WalkModel | None = None) -> None:
        t = settings.transit
        self.feed = feed
        self.settings = t
        self.offers = offers.reset_index(drop=True)
        self.date = date or default_date(feed)
        self.start_s = t.window_start_s if start_s is None else start_s
        self.end_s = t.window_end_s if end_s is None else end_s
        self.walk = walk or CrowFlyWalk.from_settings(t)
        self.minutes = np.arange(self.start_s, self.end_s, t.window_step_s, dtype=np.int64)
        if not len(self.minutes):
            raise EmptyResultError(f"departure window {self.start_s}..{self.end_s} s is empty")
        self._lock = threading.RLock()
        self._profiles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ building blocks

    def offer_rows(self, category: str) -> gpd.GeoDataFrame:
        """Return the active offers of ``category`` (EmptyResultError if none)."""
        rows = self.offers[self.offers["category"] == category].reset_index(drop=True)
        if rows.empty:
            raise EmptyResultError(f"no active {category!r} offers")
        return rows

    def offer_xy(self, frame: pd.DataFrame) -> np.ndarray:
        """EPSG:3035 metres of a frame's ``lon``/``lat``, shape (n, 2)."""
        return np.column_stack(to_metric(frame["lon"].to_numpy(float),
                                         frame["lat"].to_numpy(float)))

    def profile_end_s(self) -> int:
        """Return the end of the stop profiles' departures, seconds since midnight.

        The window's end plus the longest access walk in whole steps, so that a cell's
        late departures find their stop's.
        """
        step = self.settings.window_step_s
        reach = int(np.ceil(self.settings.max_walk_m * self.settings.detour_factor
                            / (self.settings.walk_speed_kmh / 3.6) / step)) + 1
        return self.end_s + reach * step

    def stop_profiles(self, category: str, chunk: int = 64
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per stop and departure minute: seconds to the nearest offer of ``category``.

        Departures run from the window start to its end plus the longest access walk, in
        ``window_step_s`` steps. The scans are shared by all categories: the first call
        routes every stop once and keeps the profile of every category of the offers.

        Returns
        -------
        departures_s : numpy.ndarray of int, shape (m,)
        seconds : numpy.ndarray of float, shape (n_stops, m)
            ``inf`` where no offer is reached within ``max_travel_s``; stops in the order
            of the compiled timetable.
        offer : numpy.ndarray of int, shape (n_stops, m)
            Row in :meth:`offer_rows` of that nearest offer.
        """
        self.offer_rows(category)  # EmptyResultError for a category without offers
        with self._lock:
            if not self._profiles:
                t0 = time.perf_counter()
                tt = compile_timetable(self.feed, self.date, self.settings, self.walk)
                kinds = self.offers["category"].to_numpy()
                columns = {c: np.flatnonzero(kinds == c) for c in np.unique(kinds)}
                parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in columns}
                for lo in range(0, len(tt.stop_ids), chunk):
                    deps, prof = departure_profiles(
                        self.feed, list(tt.stop_ids[lo:lo + chunk]), self.date,
                        self.start_s, self.profile_end_s(), settings=self.settings,
                        walk=self.walk, destinations=self.offer_xy(self.offers), chunk=chunk)
                    for c, cols in columns.items():
                        parts[c].append((prof[..., cols].min(axis=2),
                                         prof[..., cols].argmin(axis=2)))
                self._profiles = {c: (deps, np.concatenate([p[0] for p in v]),
                                      np.concatenate([p[1] for p in v]))
                                  for c, v in parts.items()}
                log.info("transit stop profiles (%d categories): %d stops × %d departures "
                         "in %.2f s", len(columns), len(tt.stop_ids), len(deps),
                         time.perf_counter() - t0)
            return self._profiles[category]

    # ------------------------------------------------------------------ cells

    def cell_times(self, category: str, xy: np.ndarray,
                   walk_only: WalkOnly | None = None, chunk: int = 4096) -> TransitCells:
        """Median, best and worst walk + transit time from many points to the nearest offer.

        Over the window's departures; see the module notes on minute rounding.

        Parameters
        ----------
        category : str
        xy : numpy.ndarray, shape (n, 2)
            Origins (cell centres), EPSG:3035 metres.
        walk_only : WalkOnly, optional
            Walking the whole way to the nearest offer per origin, seconds and offer (e.g.
            the engine's street walk surface); default crow-fly × detour at walking speed.
        chunk : int
            Origins combined at a time (memory: chunk × stops in walking distance ×
            departures × 24 bytes).

        Returns
        -------
        TransitCells
        """
        _, prof, prof_offer = self.stop_profiles(category)
        rows = self.offer_rows(category)
        return self.combine_cells(category, xy, prof, prof_offer, self.offer_xy(rows),
                                  list(rows["id"]), walk_only, chunk)

    def combine_cells(self, category: str, xy: np.ndarray, prof: np.ndarray,
                      prof_offer: np.ndarray, dest: np.ndarray, ids: Sequence[str],
                      walk_only: WalkOnly | None = None, chunk: int = 4096
                      ) -> TransitCells:
        """Combine stop profiles into cells: :meth:`cell_times` for any set of offers.

        ``prof``/``prof_offer`` as :meth:`stop_profiles` returns them for the offers at
        ``dest`` (EPSG:3035 metres, rows = offer numbers) with ids ``ids``; what-if passes
        changed ones (:mod:`geo.engine.transit_what_if`).
        """
        xy = np.asarray(xy, float).reshape(-1, 2)
        walk = (None if walk_only is None
                else (np.asarray(walk_only.seconds, float), walk_only.rows(ids)))
        parts = [self._combine(xy[lo:lo + chunk], None if walk is None
                               else (walk[0][lo:lo + chunk], walk[1][lo:lo + chunk]),
                               prof, prof_offer, dest)
                 for lo in range(0, len(xy), chunk)]
        return TransitCells(category, *(np.concatenate([p[i] for p in parts])
                                        for i in range(5)))

    def _combine(self, xy: np.ndarray, walk: tuple[np.ndarray, np.ndarray] | None,
                 prof: np.ndarray, prof_offer: np.ndarray, dest: np.ndarray
                 ) -> tuple[np.ndarray, ...]:
        """:meth:`combine_cells` of one chunk: median, best, worst, walk-only seconds, offer.

        ``walk``: walking the whole way, seconds and offer row per cell; default crow-fly.
        """
        if walk is None:
            direct = direct_walk_s(xy, dest, self.settings)
            walk = direct.min(axis=1), direct.argmin(axis=1)
        walk_only_s, walk_offer = walk
        tt = compile_timetable(self.feed, self.date, self.settings, self.walk)
        step = self.settings.window_step_s
        n_min = len(self.minutes)
        cell, stop, w = self.walk(xy, tt.stop_xy)
        k = np.ceil(w / step).astype(np.int64)          # walk in whole departure steps
        cols = np.arange(n_min)[None, :] + k[:, None]    # stop departure index per pair
        values = k[:, None] * step + prof[stop[:, None], cols]
        offers = prof_offer[stop[:, None], cols]
        per_dep = np.full((len(xy), n_min), np.inf)
        off_dep = np.full((len(xy), n_min), -1, np.int64)
        if len(cell):
            o = np.argsort(cell, kind="stable")
            cell, values, offers = cell[o], values[o], offers[o]
            first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
            per_dep[cell[first]] = np.minimum.reduceat(values, first, axis=0)
            # the offer of a pair reaching the cell's minimum (its last such pair)
            hit = np.where(values == per_dep[cell], np.arange(len(cell))[:, None], -1)
            pair = np.maximum.reduceat(hit, first, axis=0)
            off_dep[cell[first]] = offers[np.maximum(pair, 0), np.arange(n_min)[None, :]]
        by_walk = walk_only_s[:, None] <= per_dep
        per_dep = np.where(by_walk, walk_only_s[:, None], per_dep)
        off_dep = np.where(by_walk, walk_offer[:, None], off_dep)
        mid = np.argsort(per_dep, axis=1, kind="stable")[:, (n_min - 1) // 2]
        median = np.median(per_dep, axis=1)
        offer = np.where(np.isfinite(median), off_dep[np.arange(len(xy)), mid], -1)
        return median, per_dep.min(axis=1), per_dep.max(axis=1), walk_only_s, offer

    # ------------------------------------------------------------------ one point

    def nearest(self, x: float, y: float, category: str, k: int = 3,
                max_minutes: float = np.inf) -> gpd.GeoDataFrame:
        """Find the ``k`` offers with the shortest median walk + transit time from a point.

        Each with the connections of its median departure.

        Parameters
        ----------
        x, y : float
            Origin, EPSG:3035 metres.
        category : str
        k : int
            Offers to list.
        max_minutes : float
            Leave out offers with a longer median time (minutes).

        Returns
        -------
        geopandas.GeoDataFrame
            ``rank``, ``offer_id``, ``name``, ``category``, ``minutes`` (median),
            ``best_minutes``, ``walk_minutes`` (walking the whole way), ``departure`` /
            ``arrival`` (ISO local times of the median departure's journey) and ``legs``
            (:func:`geo.transit.query.describe_legs`: line, stops, departure, arrival;
            walks have route ``walk``); a LineString through the stops (EPSG:4326).
        """
        rows = self.offer_rows(category)
        origin = np.array([[x, y]], float)
        dest = self.offer_xy(rows)
        direct = walk_whole_way_s(self.walk, origin, dest, self.settings)[0]
        _, prof = departure_profiles(
            self.feed, origin, self.date, self.start_s, self.end_s, settings=self.settings,
            walk=self.walk, destinations=dest)
        per_dep = np.minimum(prof[0], direct[None, :])            # (departures, offers)
        median = np.median(per_dep, axis=0)
        order = np.argsort(median, kind="stable")[:k]
        order = order[median[order] <= max_minutes * 60.0]
        records: list[dict[str, object]] = []
        lines: list[shapely.LineString] = []
        for row in order.tolist():
            m = int(np.argsort(per_dep[:, row], kind="stable")[(len(self.minutes) - 1) // 2])
            arrivals = earliest_arrival(self.feed, origin, int(self.minutes[m]), self.date,
                                        settings=self.settings, walk=self.walk)
            _, legs = journey_to_point(arrivals, dest[row], self.walk, float(direct[row]))
            described = describe_legs(legs, self.feed, self.date)
            records.append({
                "rank": len(records) + 1, "offer_id": rows.at[row, "id"],
                "name": rows.at[row, "name"], "category": category,
                "minutes": median[row] / 60.0, "best_minutes": per_dep[:, row].min() / 60.0,
                "walk_minutes": direct[row] / 60.0,
                "departure": described[0]["departure"], "arrival": described[-1]["arrival"],
                "legs": described})
            lines.append(self._line(origin[0], legs, dest[row]))
        return gpd.GeoDataFrame(records, columns=[
            "rank", "offer_id", "name", "category", "minutes", "best_minutes",
            "walk_minutes", "departure", "arrival", "legs"], geometry=lines, crs=METRIC_CRS
        ).to_crs("EPSG:4326")

    def there_and_back(self, x: float, y: float, offer_id: str, date: dt.date | None = None,
                       arrive_by_s: int | None = None, leave_after_s: int | None = None
                       ) -> ThereAndBack:
        """Reach an offer from a point by its opening time and get home after it closes.

        :func:`geo.transit.trip.there_and_back` with this object's feed, walks and settings; the
        times default to the offer's first opening interval of ``date`` (its OSM
        ``opening_hours``).

        Parameters
        ----------
        x, y : float
            Home, EPSG:3035 metres.
        offer_id : str
            ``id`` of an offer.
        date : datetime.date, optional
            Default: this object's date.
        arrive_by_s, leave_after_s : int, optional
            Seconds since midnight.

        Raises
        ------
        DataError
            Unknown offer id.
        HoursUnknownError, ClosedThatDayError
            No times given, and the offer has no opening hours, or is closed that day.
        """
        rows = self.offers[self.offers["id"] == offer_id]
        if rows.empty:
            raise DataError(f"no active offer with id {offer_id!r}")
        offer = rows.iloc[0]
        hours = offer.get("opening_hours")
        if (arrive_by_s is None or leave_after_s is None) and not isinstance(hours, str):
            raise HoursUnknownError(f"offer {offer_id!r} ({offer['name']}) has no "
                                    "opening_hours: give the arrival and departure times")
        return there_and_back(self.feed, np.array([x, y]), self.offer_xy(rows)[0],
                              date or self.date, arrive_by_s, leave_after_s,
                              opening_hours=hours if isinstance(hours, str) else None,
                              settings=self.settings, walk=self.walk)

    def _line(self, origin: np.ndarray, legs: list[dict[str, object]],
              dest: np.ndarray) -> shapely.LineString:
        """Straight segments origin → the stops of the legs → destination (EPSG:3035)."""
        xy = self.feed.stops.set_index("stop_id")[["x", "y"]]
        pts = [origin]
        for leg in legs:
            for end in (leg["from"], leg["to"]):
                if end in xy.index:
                    pts.append(xy.loc[str(end)].to_numpy(float))
        pts.append(dest)
        return shapely.linestrings(np.vstack(pts))

    def isochrones(self, x: float, y: float, minutes: tuple[float, ...] = (15, 30, 45)
                   ) -> gpd.GeoDataFrame:
        """Area reachable from a point by walking and public transport within each budget.

        The 100 m cells whose window-median time is within the budget, as the union of
        their squares (:mod:`geo.engine.transit_isochrones`).

        Parameters
        ----------
        x, y : float
            Origin, EPSG:3035 metres.
        minutes : tuple of float
            Budgets, minutes (> 0).

        Returns
        -------
        geopandas.GeoDataFrame
            ``minutes``, ``area_km2``, ``cells`` (100 m cells inside), ``stops`` (stops
            reached by the median departure) and a (Multi)Polygon per budget, EPSG:4326,
            largest first.
        """
        from geo.engine.transit_isochrones import cells_polygon, reach

        budgets = sorted({float(m) for m in minutes}, reverse=True)
        if not budgets or budgets[-1] <= 0:
            raise EmptyResultError(f"minutes must be positive numbers, got {list(minutes)!r}")
        cells, median, stop_median = reach(self, x, y, budgets[0] * 60.0)
        polys, counts, stops = [], [], []
        for b in budgets:
            inside = median <= b * 60.0
            polys.append(cells_polygon(cells[inside]))
            counts.append(int(inside.sum()))
            stops.append(int(np.count_nonzero(stop_median <= b * 60.0)))
        out = gpd.GeoDataFrame({"minutes": budgets,
                                "area_km2": [p.area / 1e6 for p in polys], "cells": counts,
                                "stops": stops}, geometry=polys, crs=METRIC_CRS)
        return out.to_crs("EPSG:4326")
