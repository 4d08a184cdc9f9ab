"""The transit engine: walk + public transport on the region's stored GTFS feed.

Times are the window median over the departures of a date and a departure window
(:class:`~geo.engine.transit_access.TransitAccess`). Walks use the region's street walk
network when it has been built (:class:`~geo.transit.walk.NetworkWalk`), else crow-fly ×
detour factor; walking the whole way is the street walk surface there. The engine answers
cells, coverage inputs, the raster, nearest (with the connections) and isochrones once a
timetable is loaded for the region (``erreichbar gtfs load PATH|URL --region R``); without
one they raise the loader's "no public-transport timetable is loaded" error. Supply
(E2SFCA) and what-if combine kept stop-to-stop scans (:mod:`geo.engine.transit_what_if`):
no timetable scan per change. It has no street network of its own: surfaces and snapping
raise :class:`~geo.errors.AccessInputError` naming the mode.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.engine.protocol import NearestRoutes, OfferSet, Supply, Surface, WhatIf
from geo.engine.region import RASTER, RegionData, to_minutes
from geo.engine.street import StreetEngine
from geo.engine.transit_access import TransitAccess, TransitCells, WalkOnly
from geo.errors import AccessInputError
from geo.networks.network import Network, network_dir
from geo.networks.snap import Snap
from geo.vocabulary import STREET_MODES


class TransitEngine:
    """Walk + public transport to the offers of a region (cached, loads on first use).

    Parameters
    ----------
    mode
        The mode's name (``transit``).
    data
        The region's shared inputs.
    walk
        The street engine of walking: its network (when built) carries the walks.
    """

    #: without a timetable the mode is skipped by batch jobs
    optional = True
    #: no street network of its own: nearest offers only, no what-if
    has_network = False

    def __init__(self, mode: str, data: RegionData, walk: StreetEngine) -> None:
        self.mode = mode
        self.data = data
        self.settings = data.settings
        self.walk = walk
        self._access: TransitAccess | None = None
        self._cells: dict[tuple[str, str], TransitCells] = {}

    def _has_walk_network(self) -> bool:
        """Whether the region's street walk network has been built."""
        return (network_dir(self.settings) / f"{self.walk.mode}.npz").exists()

    def access(self) -> TransitAccess:
        """Walk + public transport on the region's stored feed (loaded once).

        Date: ``settings.transit.date`` or a regular Tuesday of the feed.

        Raises
        ------
        DataError
            No timetable is loaded for the region; the message says how to load one.
        """
        with self.data.lock:
            if self._access is None:
                from geo.sources import gtfs
                from geo.transit.walk import NetworkWalk

                feed = gtfs.load_region_feed(self.settings)
                walk = (NetworkWalk.from_settings(self.walk.network(), self.settings)
                        if self._has_walk_network() else None)
                self._access = TransitAccess(feed, self.settings, self.data.active,
                                             date=self.settings.transit.date, walk=walk)
            return self._access

    def load(self) -> None:
        """Load the timetable (DataError naming how to load one if there is none)."""
        self.access()

    def cell_times(self, category: str, grid: str) -> TransitCells:
        """Walk + transit times of every cell of ``grid`` to the nearest ``category`` offer.

        ``grid``: ``children``, ``inhabitants`` or ``raster``; cached; see
        :meth:`~geo.engine.transit_access.TransitAccess.cell_times`.
        """
        with self.data.lock:
            key = (category, grid)
            if key not in self._cells:
                access = self.access()
                frame = self.data.points(grid)
                walk = (self._walk_only(self.walk.surface(category), grid)
                        if self._has_walk_network() else None)
                self._cells[key] = access.cell_times(
                    category, frame[["x", "y"]].to_numpy(float), walk)
            return self._cells[key]

    def _walk_only(self, surface: Surface, grid: str) -> WalkOnly:
        """Return walking the whole way from the cells of ``grid`` on a street walk surface."""
        seconds, offer = surface.at(self.walk.cell_snap(grid))
        return WalkOnly(seconds, np.asarray(np.where(
            offer >= 0, surface.offer_ids[np.maximum(offer, 0)], None), dtype=object))

    def cell_minutes(self, category: str, grid: str) -> tuple[np.ndarray, np.ndarray]:
        """Window-median minutes (inf = none) and reachable flag per cell of ``grid``."""
        t = self.cell_times(category, grid)
        return to_minutes(t.median_s), np.isfinite(t.median_s)

    def cells(self, category: str, grid: str) -> pd.DataFrame:
        """Minutes from every cell of ``grid`` to the nearest offer, long form.

        ``minutes`` is the window median, ``best_minutes`` and ``walk_minutes`` are added,
        ``offer_id`` is the offer reached at the median departure, ``connected`` =
        reachable at all, ``access_m`` NaN.
        """
        t = self.cell_times(category, grid)
        ids = self.access().offer_rows(category)["id"].to_numpy()
        return self.data.cell_table(grid, {
            "category": category, "mode": self.mode, "minutes": to_minutes(t.median_s),
            "best_minutes": to_minutes(t.best_s), "walk_minutes": to_minutes(t.walk_s),
            "offer_id": np.where(t.offer >= 0, ids[np.maximum(t.offer, 0)], None),
            "connected": np.isfinite(t.median_s), "access_m": np.nan})

    def raster_seconds(self, category: str) -> np.ndarray:
        """Window-median seconds to the nearest offer per raster cell (inf = none)."""
        return self.cell_times(category, RASTER).median_s

    def nearest(self, lon: float, lat: float, category: str, k: int) -> gpd.GeoDataFrame:
        """Find the ``k`` offers with the shortest median time from one point.

        Each with the connections of the median departure
        (:meth:`~geo.engine.transit_access.TransitAccess.nearest`) and ``mode``.
        """
        x, y = self.data.check_points(lon, lat)
        found = self.access().nearest(float(x[0]), float(y[0]), category, k,
                                      self.settings.access.nearest_max_min)
        found.insert(4, "mode", self.mode)
        return found

    def nearest_routes(self, lon: float, lat: float, category: str, k: int) -> NearestRoutes:
        """Find the ``k`` nearest offers of one point: :meth:`nearest` as arrays.

        Routes run through the stops; ``legs`` holds each journey's connections.
        """
        frame = self.nearest(lon, lat, category, k)
        return NearestRoutes(frame["offer_id"].to_numpy(object), frame["name"].to_numpy(object),
                             frame["minutes"].to_numpy(float) * 60.0, np.nan,
                             [shapely.get_coordinates(g) for g in frame.geometry],
                             list(frame["legs"]))

    def nearest_many(self, lon: np.ndarray, lat: np.ndarray, category: str,
                     k: int) -> pd.DataFrame:
        """Find the ``k`` nearest offers of many points, one :meth:`nearest` per point.

        Window median; there is no table, each point takes about a second.
        """
        px, py = self.data.check_points(lon, lat)
        access, columns = self.access(), ["point", "rank", "offer_id", "minutes"]
        found = [access.nearest(float(xi), float(yi), category, k,
                                self.settings.access.nearest_max_min).assign(point=i)
                 for i, (xi, yi) in enumerate(zip(px, py, strict=True))]
        return (pd.DataFrame(pd.concat(found, ignore_index=True)[columns]) if found
                else pd.DataFrame(columns=columns))

    def isochrones(self, lon: float, lat: float, budgets: Sequence[float]
                   ) -> gpd.GeoDataFrame:
        """Reach by walking and public transport per budget, window median.

        ``budgets`` are minutes, largest first;
        :meth:`~geo.engine.transit_access.TransitAccess.isochrones` with ``mode``.
        """
        px, py = self.data.check_points(lon, lat)
        out = self.access().isochrones(float(px[0]), float(py[0]), tuple(budgets))
        out.insert(1, "mode", self.mode)
        return out

    # ------------------------------------------------------------------ street-only

    def _street_only(self, what: str) -> NoReturn:
        raise AccessInputError(
            f"mode {self.mode!r} has no street network of its own: {what} is "
            f"{'/'.join(STREET_MODES)} only; for {self.mode} use cells, coverage, nearest, "
            "isochrones or raster_minutes")

    def network(self) -> Network:
        """Refuse: no street network (AccessInputError)."""
        self._street_only("the network")

    def offer_set(self, category: str) -> OfferSet:
        """Refuse: offers are not snapped to a network (AccessInputError)."""
        self._street_only("snapping offers")

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> Snap:
        """Refuse: no network to snap to (AccessInputError)."""
        self._street_only("snapping")

    def surface(self, category: str) -> Surface:
        """Refuse: no node surface (AccessInputError); times are per cell."""
        self._street_only("a surface")

    def minutes_to(self, lon: float, lat: float, category: str,
                   offer_ids: Sequence[str]) -> np.ndarray:
        """Refuse: minutes to given offers read a street table (AccessInputError)."""
        self._street_only("minutes to given offers")

    def changed_times(self, category: str, grid: str, add: Sequence[tuple[float, float]],
                      remove: Sequence[str]) -> tuple[TransitCells, list[str]]:
        """Walk + transit times of the cells of ``grid`` with offers added and/or closed.

        ``add`` are (lon, lat) WGS84 degrees (offers ``new-1``, …), ``remove`` offer ids;
        ``grid`` as :meth:`cell_times` (``raster``: every 100 m cell). The stop profiles of
        the changed offers are combined from the kept stop-to-stop scans
        (:func:`geo.engine.transit_what_if.changed`: no timetable scan); walking the whole
        way is the street walk what-if when the walk network is built, else crow-fly ×
        detour (as :meth:`cell_times`). Returns the times and the offer ids of their
        ``offer`` rows.

        Raises
        ------
        AccessInputError
            Nothing to change, an unknown offer id, or no offer left.
        RegionError
            A site outside the region (or, with the walk network, off its streets).
        """
        from geo.engine.transit_what_if import changed

        sites = np.asarray(add, float).reshape(-1, 2)
        xy = (np.column_stack(self.data.check_points(sites[:, 0], sites[:, 1]))
              if len(sites) else np.empty((0, 2)))
        walk = (self.walk.what_if(category, add, remove).surface
                if self._has_walk_network() else None)
        return changed(self.access(), category, self.data.points(grid)[["x", "y"]].to_numpy(float),
                       list(map(tuple, xy)), remove,
                       None if walk is None else self._walk_only(walk, grid))

    def what_if(self, category: str, add: Sequence[tuple[float, float]],
                remove: Sequence[str]) -> WhatIf:
        """Add offers at ``add`` (lon, lat WGS84 degrees) and/or close ``remove``.

        The children cells' times after are :meth:`changed_times`. Same answer as the
        street modes (``surface`` None).

        Raises
        ------
        AccessInputError
            Nothing to change, an unknown offer id, or no offer left.
        """
        from geo.engine.what_if import changed_cells, coverage_change

        t0 = time.perf_counter()
        after, ids = self.changed_times(category, "children", add, remove)
        before = self.cell_minutes(category, "children")
        now = (to_minutes(after.median_s), np.isfinite(after.median_s))
        offer_ids = np.asarray(np.where(after.offer >= 0,
                                        np.asarray(ids, object)[np.maximum(after.offer, 0)],
                                        None), dtype=object)
        return WhatIf(None,
                      coverage_change(self.data, lambda grid: before, lambda grid: now),
                      changed_cells(self.data, before[0], now[0], offer_ids),
                      time.perf_counter() - t0)

    def supply(self, category: str) -> Supply:
        """E2SFCA supply per child of ``category`` by walk + public transport.

        Times: window median from every children cell to every offer, combined from the
        kept stop-to-stop scans (:func:`geo.engine.transit_what_if.cell_offer_seconds`);
        walking the whole way is the street walk mode's cell → offer time when the walk
        network is built (:func:`geo.engine.supply.cell_offer_seconds`, unbounded), else
        crow-fly; the rest as for the street modes (:func:`geo.engine.supply.supply_table`).
        """
        from geo.engine import supply as e2sfca
        from geo.engine.transit_what_if import cell_offer_seconds

        access = self.access()
        rows = access.offer_rows(category)
        walk_s = None
        if self._has_walk_network():
            street = e2sfca.cell_offer_seconds(self.walk, category)
            order = pd.Index(self.walk.offer_set(category).ids).get_indexer(rows["id"])
            walk_s = street[:, order]
        children = self.data.cell_frame("children")
        seconds = cell_offer_seconds(access, category, children[["x", "y"]].to_numpy(float),
                                     walk_s)
        return e2sfca.supply_table(self.settings, category, self.mode, children, rows,
                                   to_minutes(seconds), np.isfinite(seconds).any(axis=1))

    def not_connected(self, categories: Sequence[str]) -> None:
        """None: cells are reachable or not; there is no snap cut-off to report."""
        return None
