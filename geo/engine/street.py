"""The street engine: walk, bike or car on a street network of its own.

A trip's time is: access leg (home → nearest node of the mode's network, straight line ×
detour factor at the access speed, :mod:`geo.networks.snap`) + network time + the offer's
own access leg (its node → the offer). Only ``active`` offers count. Surfaces are one
multi-source Dijkstra on the transposed graph from all offers at once
(:mod:`geo.networks.routing`), so one-way streets are travelled home → offer; the k nearest
offers of every node are ``k`` such runs (:func:`geo.networks.routing.top_k`).

Networks, snapped cells, surfaces and nearest-offer tables are cached in the object, so a
long-lived process (the API) answers point queries in milliseconds. Times are seconds
inside and minutes in every table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.engine import supply as e2sfca
from geo.engine import what_if as scenario
from geo.engine.isochrones import EdgeCutter
from geo.engine.protocol import NearestRoutes, OfferSet, Supply, Surface, WhatIf
from geo.engine.region import GRIDS, RASTER, RegionData, to_minutes
from geo.errors import EmptyResultError, RegionError
from geo.networks import routing
from geo.networks.network import Network, load_network
from geo.networks.snap import NodeIndex, Snap
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreetGraph:
    """One mode's network with the structures routing needs."""

    net: Network
    graph: csr_matrix  #: travel time, seconds, fastest parallel edge
    graph_t: csr_matrix  #: the same, transposed (to-offer runs)
    index: NodeIndex  #: nearest-node lookup of the largest strongly connected component


class StreetEngine:
    """Travel times by ``mode`` (walk, bike or car) on the region's street network.

    Parameters
    ----------
    mode
        ``walk``, ``bike`` or ``car``.
    data
        The region's shared inputs.
    net
        The network to route on (default: the region's stored network of ``mode``), e.g.
        a region's haloed part of it (:func:`geo.products.batch.clip_network`).

    Notes
    -----
    The network must have been built (``erreichbar network build``); it loads on first use.
    """

    #: a missing street network is an error, never skipped
    optional = False
    #: answers run on the mode's own street network
    has_network = True

    def __init__(self, mode: str, data: RegionData, net: Network | None = None) -> None:
        self.mode = mode
        self._net = net
        self.data = data
        self.settings = data.settings
        self._graph: StreetGraph | None = None
        self._edges: routing.EdgeLookup | None = None
        self._cutter: EdgeCutter | None = None
        self._offer_sets: dict[str, OfferSet] = {}
        self._surfaces: dict[str, Surface] = {}
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._snaps: dict[str, Snap] = {}

    # ------------------------------------------------------------------ data (cached)

    def _loaded(self) -> StreetGraph:
        """Load the network and its structures once; the loaded ones from then on."""
        with self.data.lock:
            if self._graph is None:
                net = self._net or load_network(self.settings, self.mode)
                csr = net.csr()
                self._graph = StreetGraph(net, csr, routing.transpose(csr),
                                          NodeIndex(net, self.settings))
            return self._graph

    @property
    def graph(self) -> StreetGraph:
        """The network with its CSR graphs and node index (loaded on first use)."""
        return self._loaded()

    def load(self) -> None:
        """Load the network (DataError if it has not been built)."""
        self._loaded()

    def network(self) -> Network:
        """Return the network of the mode."""
        return self.graph.net

    def offer_set(self, category: str) -> OfferSet:
        """Active offers of ``category`` snapped to the network.

        Raises
        ------
        EmptyResultError
            No active offer of the category, or none within reach of the network.
        """
        with self.data.lock:
            if category not in self._offer_sets:
                frame = self.data.active_offers(category)
                snap = self.graph.index.snap(frame["lon"].to_numpy(), frame["lat"].to_numpy())
                lost = frame.loc[~snap.connected, "name"].tolist()
                if len(lost) == len(frame):
                    raise EmptyResultError(f"no {category!r} offer lies within "
                                           f"{self.settings.access.snap_max_m:g} m of the "
                                           f"{self.mode} network")
                if lost:
                    log.warning("%d %s offers not connected to the %s network: %s",
                                len(lost), category, self.mode, "; ".join(lost))
                self._offer_sets[category] = OfferSet(category, self.mode, frame, snap)
            return self._offer_sets[category]

    def cell_snap(self, grid: str) -> Snap:
        """Snap of the cells of ``grid`` (or ``raster``: every 100 m cell of the region)."""
        with self.data.lock:
            if grid not in self._snaps:
                frame = self.data.points(grid)
                snap = self.graph.index.snap_xy(frame["x"].to_numpy(), frame["y"].to_numpy())
                if grid != RASTER and not snap.connected.all():
                    log.warning("%d %s cells (%d persons) are farther than %g m from the %s "
                                "network: not connected", (~snap.connected).sum(), grid,
                                frame[GRIDS[grid]].to_numpy()[~snap.connected].sum(),
                                self.settings.access.snap_max_m, self.mode)
                self._snaps[grid] = snap
            return self._snaps[grid]

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> Snap:
        """Join WGS84 points (degrees) to the network.

        Node, metres and access seconds per point (node -1 / inf seconds beyond the snap
        cut-off); RegionError for a point outside the region.
        """
        return self.graph.index.snap_xy(*self.data.check_points(lon, lat))

    def snap_point(self, lon: float, lat: float) -> tuple[Snap, float, float]:
        """Snap one query point and give its EPSG:3035 x, y (metres).

        Raises
        ------
        RegionError
            The point lies outside the region or beyond the snap cut-off.
        """
        x, y = self.data.check_points(lon, lat)
        snap = self.graph.index.snap_xy(x, y)
        if not snap.connected[0]:
            raise RegionError(f"point (lon {lon:.5f}, lat {lat:.5f}) is "
                              f"{snap.distance_m[0]:.0f} m from the nearest {self.mode} street "
                              f"(cut-off {self.settings.access.snap_max_m:g} m): not connected")
        return snap, float(x[0]), float(y[0])

    # ------------------------------------------------------------------ surfaces and cells

    def surface(self, category: str) -> Surface:
        """Time from every node to the nearest active offer of ``category`` (cached).

        One Dijkstra on the transposed graph from all offers at once, each offer seeded with
        its own access seconds.
        """
        offers = self.offer_set(category)
        with self.data.lock:
            if category not in self._surfaces:
                t0 = time.perf_counter()
                seeds = offers.seeds
                field = routing.multi_source(self.graph.graph_t, offers.snap.node[seeds],
                                             offers.snap.seconds[seeds])
                node_offer = np.where(field.seed >= 0, seeds[np.maximum(field.seed, 0)], -1)
                self._surfaces[category] = Surface(category, self.mode, field.seconds,
                                                   node_offer, offers.ids, field.pred)
                log.debug("surface %s/%s in %.3f s", category, self.mode,
                          time.perf_counter() - t0)
            return self._surfaces[category]

    def surface_minutes(self, surface: Surface, grid: str) -> tuple[np.ndarray, np.ndarray]:
        """Minutes (inf = none) and connected flag per cell of ``grid`` on ``surface``."""
        snap = self.cell_snap(grid)
        seconds, _ = surface.at(snap)
        return to_minutes(seconds), snap.connected

    def cell_minutes(self, category: str, grid: str) -> tuple[np.ndarray, np.ndarray]:
        """Minutes (inf = none) and connected flag per cell of ``grid`` (coverage input)."""
        return self.surface_minutes(self.surface(category), grid)

    def cells(self, category: str, grid: str) -> pd.DataFrame:
        """Minutes from every cell of ``grid`` to the nearest offer, long form.

        See :meth:`geo.engine.access.Accessibility.cells`.
        """
        surface = self.surface(category)
        snap = self.cell_snap(grid)
        seconds, offer = surface.at(snap)
        return self.data.cell_table(grid, {
            "category": category, "mode": self.mode, "minutes": to_minutes(seconds),
            "offer_id": np.where(offer >= 0, surface.offer_ids[np.maximum(offer, 0)], None),
            "connected": snap.connected, "access_m": snap.distance_m})

    def raster_seconds(self, category: str) -> np.ndarray:
        """Seconds to the nearest offer per raster cell (inf = none)."""
        return self.surface(category).at(self.cell_snap(RASTER))[0]

    # ------------------------------------------------------------------ nearest

    def table(self, category: str) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-offer table: per node the ``k_max`` nearest offers (cached).

        Offers within ``nearest_max_min`` only; seconds and offer row, n × k each.
        """
        offers = self.offer_set(category)
        with self.data.lock:
            if category not in self._tables:
                t0 = time.perf_counter()
                a = self.settings.access
                seeds = offers.seeds
                seconds, seed = routing.top_k(self.graph.graph_t, offers.snap.node[seeds],
                                              offers.snap.seconds[seeds], a.k_max,
                                              a.nearest_max_min * 60.0)
                self._tables[category] = (seconds,
                                          np.where(seed >= 0, seeds[np.maximum(seed, 0)], -1))
                log.info("nearest table %s/%s (%d offers) in %.2f s", category, self.mode,
                         len(seeds), time.perf_counter() - t0)
            return self._tables[category]

    def nearest_many(self, lon: np.ndarray, lat: np.ndarray, category: str,
                     k: int) -> pd.DataFrame:
        """Find the ``k`` nearest offers of many points in the nearest-offer table.

        Columns ``point``, ``rank``, ``offer_id``, ``minutes``; points beyond the snap
        cut-off have no rows.
        """
        offers = self.offer_set(category)
        snap = self.snap(lon, lat)
        table_s, table_o = self.table(category)
        point = np.flatnonzero(snap.connected)
        node = snap.node[point]
        seconds = table_s[node, :k] + snap.seconds[point, None]
        offer = table_o[node, :k]
        found = offer >= 0
        rows, rank = np.nonzero(found)
        return pd.DataFrame({"point": point[rows], "rank": rank + 1,
                             "offer_id": offers.ids[offer[found]],
                             "minutes": to_minutes(seconds[found])})

    def minutes_to(self, lon: float, lat: float, category: str,
                   offer_ids: Sequence[str]) -> np.ndarray:
        """Return the minutes from one point (WGS84) to each given offer of ``category``.

        The point is snapped once. Offers in its node's row of the nearest-offer table take
        their minutes from there; the others lie at least as far as the row's last offer:
        beyond ``nearest_max_min`` when the row holds fewer than ``k_max`` offers (it lists
        every offer within), else found by one forward search that stops at the last of
        them (:func:`geo.networks.routing.times_to`). Access leg + network + the offer's
        access leg, as :meth:`nearest_many`; inf beyond ``nearest_max_min``, for a point
        beyond the snap cut-off and for ids that are no active offer of ``category``.
        """
        offers = self.offer_set(category)
        snap = self.snap(np.array([lon]), np.array([lat]))
        if not snap.connected[0]:
            return np.full(len(offer_ids), np.inf)
        node, limit = int(snap.node[0]), self.settings.access.nearest_max_min
        table_s, table_o = self.table(category)
        listed = dict(zip(table_o[node].tolist(),
                          to_minutes(table_s[node] + snap.seconds[0]).tolist(), strict=True))
        rows = np.array([offers.rows.get(str(o), -1) for o in offer_ids], np.int64)
        out = np.array([listed.get(row, np.inf) if row >= 0 else np.inf
                        for row in rows.tolist()], float)
        rest = np.flatnonzero((rows >= 0) & ~np.isin(rows, table_o[node]))
        if len(rest) and table_o[node, -1] >= 0:  # a full row: the rest may lie within
            row = rows[rest]
            secs = snap.seconds[0] + routing.times_to(
                self.graph.graph, node, offers.snap.node[row], limit * 60.0) \
                + offers.snap.seconds[row]
            out[rest] = to_minutes(secs)
        out[~(out <= limit)] = np.inf
        return out

    def nearest_routes(self, lon: float, lat: float, category: str, k: int) -> NearestRoutes:
        """Find the ``k`` nearest offers of one point with their routes.

        One forward Dijkstra from the point's node, bounded by the k-th offer when the
        nearest-offer table is cached, else by ``nearest_max_min`` (no table is built).
        """
        offers = self.offer_set(category)
        snap, _, _ = self.snap_point(lon, lat)
        node = int(snap.node[0])
        limit = self.settings.access.nearest_max_min * 60.0
        table = self._tables.get(category)
        if table is not None:  # choose from the cached table; route only to the k-th offer
            rows = table[1][node, :k][table[1][node, :k] >= 0]
            bound = float((table[0][node, :len(rows)] - offers.snap.seconds[rows])
                          .max(initial=0.0)) + 1e-6
        else:  # no table yet: one forward run finds the offers (tens of ms, no table build)
            bound = limit
        dist, pred = dijkstra(self.graph.graph, indices=node, limit=bound,
                              return_predecessors=True)
        if table is None:
            seeds = offers.seeds
            times = dist[offers.snap.node[seeds]] + offers.snap.seconds[seeds]
            order = np.argsort(times, kind="stable")[:k]
            rows = seeds[order[times[order] <= limit]]
        target = offers.snap.node[rows]
        return NearestRoutes(offer_ids=offers.ids[rows], names=offers.names[rows],
                             seconds=dist[target] + offers.snap.seconds[rows] + snap.seconds[0],
                             access_m=float(snap.distance_m[0]),
                             routes=self._routes(pred, (lon, lat), target, offers.lonlat[rows]))

    def _routes(self, pred: np.ndarray, start: tuple[float, float], targets: np.ndarray,
                ends: np.ndarray) -> list[np.ndarray]:
        """Lon/lat vertices point → streets → offer of each target node.

        The streets follow the predecessors ``pred`` of a forward run from the point's node.
        """
        with self.data.lock:
            if self._edges is None:
                self._edges = routing.EdgeLookup(self.graph.net)
        n_nodes = self.graph.net.n_nodes
        return [np.vstack([np.array([start], float), self._edges.path_coords(
                    routing.walk_back(pred, int(t), n_nodes)[::-1]), end[None]])
                for t, end in zip(targets, ends, strict=True)]

    def nearest(self, lon: float, lat: float, category: str, k: int) -> gpd.GeoDataFrame:
        """Find the ``k`` nearest offers of one point: :meth:`nearest_routes` as a frame.

        Columns ``rank``, ``offer_id``, ``name``, ``category``, ``mode``, ``minutes``,
        ``access_m`` (metres) and the route (LineString, EPSG:4326).
        """
        found = self.nearest_routes(lon, lat, category, k)
        return gpd.GeoDataFrame({
            "rank": np.arange(1, len(found.offer_ids) + 1), "offer_id": found.offer_ids,
            "name": found.names, "category": category, "mode": self.mode,
            "minutes": to_minutes(found.seconds), "access_m": found.access_m,
        }, geometry=[shapely.linestrings(r) for r in found.routes], crs="EPSG:4326")

    # ------------------------------------------------------------------ isochrones

    def isochrones(self, lon: float, lat: float, budgets: Sequence[float]
                   ) -> gpd.GeoDataFrame:
        """Street-following areas reachable from a point within each budget.

        ``budgets`` are minutes, largest first; columns ``minutes``, ``mode``, ``area_km2``,
        polygons in EPSG:4326.
        """
        snap, x, y = self.snap_point(lon, lat)
        with self.data.lock:
            if self._cutter is None:
                self._cutter = EdgeCutter(self.graph.net)
        start = float(snap.seconds[0])
        dist = dijkstra(self.graph.graph, indices=int(snap.node[0]),
                        limit=max(budgets[0] * 60.0 - start, 0.0)) + start
        polys = self._cutter.polygons(dist, [m * 60.0 for m in budgets], (x, y),
                                      self.settings.access.isochrone_buffer_m)
        out = gpd.GeoDataFrame({"minutes": budgets, "mode": self.mode,
                                "area_km2": [p.area / 1e6 for p in polys]},
                               geometry=polys, crs=METRIC_CRS)
        return out.to_crs("EPSG:4326")

    # ------------------------------------------------------------------ what-if, supply

    def what_if(self, category: str, add: Sequence[tuple[float, float]],
                remove: Sequence[str]) -> WhatIf:
        """Add and/or remove offers (:func:`geo.engine.what_if.what_if`)."""
        return scenario.what_if(self, category, add, remove)

    def supply(self, category: str) -> Supply:
        """E2SFCA supply per child (:func:`geo.engine.supply.street_supply`)."""
        return e2sfca.street_supply(self, category)

    def not_connected(self, categories: Sequence[str]) -> dict[str, Any]:
        """Count children cells, inhabitant cells and offers beyond the snap cut-off."""
        return {"children_cells": int((~self.cell_snap("children").connected).sum()),
                "inhabitant_cells": int((~self.cell_snap("inhabitants").connected).sum()),
                "offers": {c: int((~self.offer_set(c).snap.connected).sum())
                           for c in categories}}
