"""The accessibility engine: travel times from every home to the nearest family offers.

:class:`Accessibility` answers, for one region, on its walk/bike/car networks:

* :meth:`~Accessibility.surface` — time from every network node to the nearest active
  offer of a category, and which offer (one multi-source Dijkstra, see :mod:`geo.networks.routing`);
* :meth:`~Accessibility.cells` — the same per Zensus cell (long form, minutes);
* :meth:`~Accessibility.nearest` / :meth:`~Accessibility.nearest_many` — the k nearest
  offers of any point, with routes for a single point;
* :meth:`~Accessibility.isochrones` — street-following reach polygons (GeoJSON-ready);
* :meth:`~Accessibility.coverage` — shares of children / inhabitants within 5…30 min per
  county, unit, Gemeinde or youth-office area, mean/median/p90, white spots;
* :meth:`~Accessibility.supply` — E2SFCA supply per child (:mod:`geo.engine.supply`);
* :meth:`~Accessibility.what_if` — add/remove offers and get the changed surface and the
  coverage change per Gemeinde in well under a second.

Mode ``transit`` (walk + public transport for a date and departure window, window median;
:mod:`geo.engine.transit_access`) answers :meth:`~Accessibility.cells`,
:meth:`~Accessibility.coverage`, :meth:`~Accessibility.nearest` (with the connections) and
:meth:`~Accessibility.isochrones` once a timetable is loaded for the region
(``erreichbar gtfs load PATH|URL --region R``); without one they raise the loader's
"no public-transport timetable is loaded" error.

Times are seconds internally and minutes in every output. Networks, snapped cells,
surfaces and nearest-offer tables are cached in the object, so a long-lived process (the
API) answers point queries in milliseconds. :func:`compute` is the batch job behind
``erreichbar access compute``.

A trip's time is: access leg (home → nearest node of the mode's network, straight line ×
detour factor at the access speed, :mod:`geo.networks.snap`) + network time + the offer's own access
leg (its node → the offer). Only ``active`` offers count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.engine import coverage as cov
from geo.engine.isochrones import EdgeCutter
from geo.engine.supply import e2sfca
from geo.errors import EmptyResultError, ErreichbarError, RegionError
from geo.networks import routing
from geo.networks.network import Network, load_network, network_dir
from geo.networks.snap import NodeIndex, Snap, to_metric
from geo.settings import Settings, get_region
from geo.sources.boundaries import load_units
from geo.vocabulary import CATEGORIES, LEVELS, METRIC_CRS, STREET_MODES, Mode

if TYPE_CHECKING:
    from geo.engine.transit_access import TransitAccess, TransitCells

log = logging.getLogger(__name__)

#: Cell grids: Zensus 100 m cells with children under 10, 1 km cells with inhabitants.
GRIDS: dict[str, str] = {"children": "children_under_10", "inhabitants": "inhabitants"}


class AccessInputError(ErreichbarError, ValueError):
    """A request names an unknown category, mode, level or offer, or has unusable values."""


def _check_choice(kind: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise AccessInputError(f"unknown {kind} {value!r}; {kind}s: {', '.join(choices)}")


@dataclass
class _ModeData:
    """One mode's network with the structures derived from it (built on first use)."""

    net: Network
    graph: csr_matrix  #: travel time, seconds, fastest parallel edge
    graph_t: csr_matrix  #: the same, transposed (to-offer runs)
    index: NodeIndex
    edges: routing.EdgeLookup | None = None
    cutter: EdgeCutter | None = None


@dataclass(frozen=True)
class OfferSet:
    """The active offers of one category joined to one mode's network."""

    category: str
    mode: str
    frame: gpd.GeoDataFrame  #: the offers (catalogue columns), rows 0..m-1
    snap: Snap  #: per row: node, metres, access seconds (offer node → offer)

    @cached_property
    def ids(self) -> np.ndarray:
        """Offer ids (str) per row."""
        return self.frame["id"].to_numpy(dtype=object)

    @cached_property
    def names(self) -> np.ndarray:
        """Offer names (str) per row."""
        return self.frame["name"].to_numpy(dtype=object)

    @cached_property
    def lonlat(self) -> np.ndarray:
        """Offer locations per row (m × 2, lon/lat WGS84 degrees)."""
        return self.frame[["lon", "lat"]].to_numpy(float)

    @property
    def seeds(self) -> np.ndarray:
        """Rows of the connected offers (the ones routing starts from)."""
        return np.flatnonzero(self.snap.connected)


@dataclass(frozen=True)
class Surface:
    """Time from every node of a mode's network to the nearest offer of a category.

    ``node_offer`` indexes ``offer_ids``; ``pred`` (base surfaces only) is the predecessor
    array of the seeded transposed graph: the next node towards the offer.
    """

    category: str
    mode: str
    node_seconds: np.ndarray  #: float64 per node, inf = no offer reachable
    node_offer: np.ndarray  #: int64 per node, -1 = none
    offer_ids: np.ndarray  #: object (str) per offer
    pred: np.ndarray | None = None

    def at(self, snap: Snap) -> tuple[np.ndarray, np.ndarray]:
        """Seconds to the nearest offer and its index into ``offer_ids`` for snapped points
        (inf / -1 where the point is not connected or no offer is reachable)."""
        ok = snap.connected
        node = np.where(ok, snap.node, 0)
        seconds = np.where(ok, snap.seconds + self.node_seconds[node], np.inf)
        offer = np.where(ok & np.isfinite(seconds), self.node_offer[node], -1)
        return seconds, offer


@dataclass(frozen=True)
class NearestRoutes:
    """The k nearest offers of one point with their routes (:meth:`Accessibility.nearest_routes`),
    arrays by rank (1 = nearest)."""

    offer_ids: np.ndarray  #: object (str) offer id per rank
    names: np.ndarray  #: object (str) offer name per rank
    seconds: np.ndarray  #: float64 door-to-door seconds per rank (transit: window median)
    access_m: float  #: straight-line metres from the point to its network node (transit: NaN)
    #: per rank: route vertices (m × 2, lon/lat WGS84 degrees): point, streets (transit:
    #: stops), offer
    routes: list[np.ndarray]


@dataclass(frozen=True)
class _TransitSurface:
    """Stands for the transit times of a category in coverage tables (the times are per
    cell, :meth:`Accessibility.transit_cells`, not per network node)."""

    category: str
    mode: str = Mode.transit


@dataclass(frozen=True)
class WhatIf:
    """The result of :meth:`Accessibility.what_if`."""

    surface: Surface  #: the changed surface (added offers are ``new-1``, ``new-2``, …)
    gemeinden: pd.DataFrame  #: coverage per Gemeinde before, after and the change
    cells: pd.DataFrame  #: children cells whose time changed: before/after minutes, offer
    seconds: float  #: wall time of the computation


@dataclass(frozen=True)
class Supply:
    """E2SFCA result (see :mod:`geo.engine.supply`)."""

    cells: gpd.GeoDataFrame  #: children cells: cell_id, children_under_10, access, access_per_1000
    offers: pd.DataFrame  #: offer_id, name, supply, ratio (supply per weighted child)
    basis: str  #: "capacity (places)" or "offers (capacity unknown)"


def _minutes(seconds: np.ndarray) -> np.ndarray:
    """Seconds → minutes (inf stays inf)."""
    return np.asarray(seconds, float) / 60.0


class Accessibility:
    """Travel-time accessibility of the offers of one region (cached, thread-safe).

    Parameters
    ----------
    settings
        Settings: region, data/work directories, speeds, :class:`AccessSettings`.
    offers
        Offer catalogue (EPSG:4326, columns of :func:`geo.sources.offers.load_offers`); default:
        the region's catalogue, loaded on first use.
    children, inhabitants
        Zensus cells (:func:`geo.sources.population.load_children_100m` /
        :func:`~geo.sources.population.load_inhabitants_1km`); default: loaded on first use.

    Notes
    -----
    The networks must have been built (``erreichbar network build``).
    """

    def __init__(self, settings: Settings, offers: gpd.GeoDataFrame | None = None,
                 children: gpd.GeoDataFrame | None = None,
                 inhabitants: gpd.GeoDataFrame | None = None) -> None:
        self.settings = settings
        self.region = get_region(settings.region)
        self._lock = threading.RLock()
        self._offers = offers
        self._cells: dict[str, gpd.GeoDataFrame | None] = {"children": children,
                                                           "inhabitants": inhabitants}
        self._modes: dict[str, _ModeData] = {}
        self._offer_sets: dict[tuple[str, str], OfferSet] = {}
        self._surfaces: dict[tuple[str, str], Surface] = {}
        self._tables: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._snaps: dict[tuple[str, str], Snap] = {}
        self._units: dict[str, gpd.GeoDataFrame] = {}
        self._area: shapely.Geometry | None = None
        self._grid: pd.DataFrame | None = None
        self._transit: TransitAccess | None = None
        self._transit_cells: dict[tuple[str, str], TransitCells] = {}

    # ------------------------------------------------------------------ data (cached)

    @property
    def offers(self) -> gpd.GeoDataFrame:
        """The offer catalogue (all statuses)."""
        with self._lock:
            if self._offers is None:
                from geo.sources.offers import load_offers

                self._offers = load_offers(self.settings)
            return self._offers

    def cell_frame(self, grid: str) -> gpd.GeoDataFrame:
        """Zensus cells of ``grid`` (``children``: 100 m, ``inhabitants``: 1 km)."""
        _check_choice("grid", grid, list(GRIDS))
        with self._lock:
            if self._cells[grid] is None:
                from geo.sources import population

                self._cells[grid] = (population.load_children_100m(self.settings)
                                     if grid == "children"
                                     else population.load_inhabitants_1km(self.settings))
            return self._cells[grid]

    def units(self, level: str) -> gpd.GeoDataFrame:
        """Areas of ``level`` (see :class:`geo.vocabulary.Level`), EPSG:3035."""
        _check_choice("level", level, LEVELS)
        with self._lock:
            if level not in self._units:
                self._units[level] = load_units(self.settings, level)
            return self._units[level]

    def _mode(self, mode: str) -> _ModeData:
        if mode == Mode.transit:
            raise AccessInputError(
                "mode 'transit' has no street network of its own: surfaces, what-if and "
                "supply are walk/bike/car only; for transit use cells, coverage, nearest, "
                "isochrones or raster_minutes")
        _check_choice("mode", mode, STREET_MODES)
        with self._lock:
            if mode not in self._modes:
                net = load_network(self.settings, mode)
                graph = net.csr()
                self._modes[mode] = _ModeData(net, graph, routing.transpose(graph),
                                              NodeIndex(net, self.settings))
            return self._modes[mode]

    def network(self, mode: str) -> Network:
        """The network of ``mode`` (loaded once)."""
        return self._mode(mode).net

    def transit(self) -> TransitAccess:
        """Walk + public transport on the region's stored GTFS feed (loaded once).

        Walks use the region's street walk network when it has been built, else crow-fly
        × detour factor; date: ``settings.transit.date`` or a regular Tuesday of the feed.

        Raises
        ------
        DataError
            No timetable is loaded for the region; the message says how to load one.
        """
        with self._lock:
            if self._transit is None:
                from geo.engine.transit_access import TransitAccess
                from geo.sources import gtfs
                from geo.transit import transit

                feed = gtfs.load_region_feed(self.settings)
                walk = (transit.NetworkWalk.from_settings(self.network("walk"), self.settings)
                        if (network_dir(self.settings) / "walk.npz").exists() else None)
                self._transit = TransitAccess(
                    feed, self.settings, self.offers[self.offers["status"] == "active"],
                    date=self.settings.transit.date, walk=walk)
            return self._transit

    def transit_cells(self, category: str, grid: str = "children") -> TransitCells:
        """Walk + transit times of every cell of ``grid`` (``children``, ``inhabitants``
        or ``raster``: every 100 m cell of the county) to the nearest ``category`` offer
        (:meth:`geo.engine.transit_access.TransitAccess.cell_times`); walking the whole way is the
        street walk surface when the walk network has been built."""
        _check_choice("category", category, CATEGORIES)
        _check_choice("grid", grid, [*GRIDS, "raster"])
        with self._lock:
            key = (category, grid)
            if key not in self._transit_cells:
                access = self.transit()
                frame = self._raster_grid() if grid == "raster" else self.cell_frame(grid)
                walk_s = (self.surface(category, "walk").at(self._cell_snap(grid, "walk"))[0]
                          if (network_dir(self.settings) / "walk.npz").exists() else None)
                self._transit_cells[key] = access.cell_times(
                    category, frame[["x", "y"]].to_numpy(float), walk_s)
            return self._transit_cells[key]

    def offer_set(self, category: str, mode: str) -> OfferSet:
        """Active offers of ``category`` snapped to the network of ``mode``.

        Raises
        ------
        AccessInputError
            Unknown category or mode.
        EmptyResultError
            No active offer of the category, or none within reach of the network.
        """
        _check_choice("category", category, CATEGORIES)
        data = self._mode(mode)
        with self._lock:
            key = (category, mode)
            if key not in self._offer_sets:
                offers = self.offers
                frame = offers[(offers["category"] == category)
                               & (offers["status"] == "active")].reset_index(drop=True)
                if frame.empty:
                    raise EmptyResultError(f"no active offers of category {category!r} in "
                                           f"{self.region.title}")
                snap = data.index.snap(frame["lon"].to_numpy(), frame["lat"].to_numpy())
                lost = frame.loc[~snap.connected, "name"].tolist()
                if len(lost) == len(frame):
                    raise EmptyResultError(f"no {category!r} offer lies within "
                                           f"{self.settings.access.snap_max_m:g} m of the "
                                           f"{mode} network")
                if lost:
                    log.warning("%d %s offers not connected to the %s network: %s",
                                len(lost), category, mode, "; ".join(lost))
                self._offer_sets[key] = OfferSet(category, mode, frame, snap)
            return self._offer_sets[key]

    def categories(self) -> list[str]:
        """Categories with at least one active offer."""
        active = self.offers.loc[self.offers["status"] == "active", "category"]
        return [c for c in CATEGORIES if (active == c).any()]

    def _cell_snap(self, grid: str, mode: str) -> Snap:
        """Snap of the cells of ``grid`` (or ``raster``: every 100 m cell of the region)."""
        with self._lock:
            key = (grid, mode)
            if key not in self._snaps:
                frame = self._raster_grid() if grid == "raster" else self.cell_frame(grid)
                snap = self._mode(mode).index.snap_xy(frame["x"].to_numpy(),
                                                      frame["y"].to_numpy())
                if grid != "raster" and not snap.connected.all():
                    lost = (~snap.connected).sum()
                    log.warning("%d %s cells (%d persons) are farther than %g m from the %s "
                                "network: not connected", lost, grid,
                                frame[GRIDS[grid]].to_numpy()[~snap.connected].sum(),
                                self.settings.access.snap_max_m, mode)
                self._snaps[key] = snap
            return self._snaps[key]

    def _region_area(self) -> shapely.Geometry:
        """County polygon buffered by the offers' region tolerance (EPSG:3035), prepared."""
        with self._lock:
            if self._area is None:
                county = self.units("county").geometry.iloc[0]
                self._area = shapely.buffer(county, self.settings.offers.region_tolerance_m)
                shapely.prepare(self._area)
            return self._area

    def _raster_grid(self) -> pd.DataFrame:
        """Centres (``x``, ``y``, EPSG:3035) of every 100 m INSPIRE cell whose centre lies
        in the county: the pixels of the minute rasters."""
        with self._lock:
            if self._grid is None:
                county = self.units("county").geometry.iloc[0]
                x0, y0, x1, y1 = county.bounds
                xs = np.arange(np.floor(x0 / 100) * 100 + 50, x1, 100.0)
                ys = np.arange(np.floor(y0 / 100) * 100 + 50, y1, 100.0)
                gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
                shapely.prepare(county)
                inside = shapely.contains_xy(county, gx, gy)
                self._grid = pd.DataFrame({"x": gx[inside], "y": gy[inside]})
            return self._grid

    def _check_points(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EPSG:3035 coordinates of WGS84 points; RegionError naming the first outside."""
        lon, lat = np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
        if lon.shape != lat.shape or not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise AccessInputError("lon and lat must be finite numbers of equal count")
        x, y = to_metric(lon, lat)
        outside = np.flatnonzero(~shapely.contains_xy(self._region_area(), x, y))
        if len(outside):
            i = outside[0]
            raise RegionError(f"point (lon {lon[i]:.5f}, lat {lat[i]:.5f}) lies outside "
                              f"{self.region.title}" + (f" ({len(outside)} points outside)"
                                                        if len(outside) > 1 else ""))
        return x, y

    def snap(self, lon: np.ndarray, lat: np.ndarray, mode: str) -> Snap:
        """Join WGS84 points (degrees) to the network of ``mode``: node, metres, access
        seconds (node -1 / inf seconds beyond the snap cut-off).

        Raises
        ------
        RegionError
            A point lies outside the region.
        """
        return self._mode(mode).index.snap_xy(*self._check_points(lon, lat))

    def _snap_point(self, lon: float, lat: float, mode: str) -> tuple[Snap, float, float]:
        """Snap one query point; RegionError if outside or not connected."""
        x, y = self._check_points(lon, lat)
        snap = self._mode(mode).index.snap_xy(x, y)
        if not snap.connected[0]:
            raise RegionError(f"point (lon {lon:.5f}, lat {lat:.5f}) is {snap.distance_m[0]:.0f} m "
                              f"from the nearest {mode} street (cut-off "
                              f"{self.settings.access.snap_max_m:g} m): not connected")
        return snap, float(x[0]), float(y[0])

    # ------------------------------------------------------------------ surfaces

    def surface(self, category: str, mode: str) -> Surface:
        """Time from every node to the nearest active offer of ``category`` by ``mode``.

        One Dijkstra on the transposed graph from all offers at once (each offer seeded
        with its own access seconds), so one-way streets are travelled home → offer.

        Parameters
        ----------
        category
            One of :data:`CATEGORIES`.
        mode
            ``walk``, ``bike`` or ``car``.

        Returns
        -------
        Surface
            Seconds and nearest offer per node (cached).
        """
        offers = self.offer_set(category, mode)
        with self._lock:
            key = (category, mode)
            if key not in self._surfaces:
                t0 = time.perf_counter()
                seeds = offers.seeds
                field = routing.multi_source(self._mode(mode).graph_t, offers.snap.node[seeds],
                                             offers.snap.seconds[seeds])
                node_offer = np.where(field.seed >= 0, seeds[np.maximum(field.seed, 0)], -1)
                self._surfaces[key] = Surface(category, mode, field.seconds, node_offer,
                                              offers.ids, field.pred)
                log.debug("surface %s/%s in %.3f s", category, mode, time.perf_counter() - t0)
            return self._surfaces[key]

    def cells(self, category: str, mode: str, grid: str = "children") -> pd.DataFrame:
        """Minutes from every Zensus cell to the nearest offer, long form.

        Parameters
        ----------
        category, mode
            As in :meth:`surface`.
        grid
            ``children`` (100 m cells, under-10s) or ``inhabitants`` (1 km cells).

        Returns
        -------
        pandas.DataFrame
            ``cell_id``, ``category``, ``mode``, ``minutes`` (inf = unreachable or not
            connected), ``offer_id`` (None there), ``connected`` (within the snap cut-off),
            ``access_m`` (metres to the network), the weight column (``children_under_10``
            or ``inhabitants``), ``unit_ags``, ``gemeinde_ags``, ``x``, ``y`` (EPSG:3035).
            Mode ``transit``: ``minutes`` is the window median, plus ``best_minutes`` and
            ``walk_minutes`` (walking the whole way); ``offer_id`` is the offer reached at
            the median departure; ``connected`` = reachable at all; ``access_m`` is NaN.
        """
        frame = self.cell_frame(grid)
        if mode == Mode.transit:
            t = self.transit_cells(category, grid)
            ids = self.transit().offer_rows(category)["id"].to_numpy()
            return pd.DataFrame({
                "cell_id": frame["cell_id"].to_numpy(), "category": category, "mode": mode,
                "minutes": _minutes(t.median_s), "best_minutes": _minutes(t.best_s),
                "walk_minutes": _minutes(t.walk_s),
                "offer_id": np.where(t.offer >= 0, ids[np.maximum(t.offer, 0)], None),
                "connected": np.isfinite(t.median_s), "access_m": np.nan,
                GRIDS[grid]: frame[GRIDS[grid]].to_numpy(),
                "unit_ags": frame["unit_ags"].to_numpy(),
                "gemeinde_ags": frame["gemeinde_ags"].to_numpy(),
                "x": frame["x"].to_numpy(), "y": frame["y"].to_numpy(),
            })
        surface = self.surface(category, mode)
        snap = self._cell_snap(grid, mode)
        seconds, offer = surface.at(snap)
        return pd.DataFrame({
            "cell_id": frame["cell_id"].to_numpy(), "category": category, "mode": mode,
            "minutes": _minutes(seconds),
            "offer_id": np.where(offer >= 0, surface.offer_ids[np.maximum(offer, 0)], None),
            "connected": snap.connected, "access_m": snap.distance_m,
            GRIDS[grid]: frame[GRIDS[grid]].to_numpy(),
            "unit_ags": frame["unit_ags"].to_numpy(),
            "gemeinde_ags": frame["gemeinde_ags"].to_numpy(),
            "x": frame["x"].to_numpy(), "y": frame["y"].to_numpy(),
        })

    def raster_minutes(self, category: str, mode: str) -> pd.DataFrame:
        """Minutes to the nearest offer for every 100 m cell of the region (``x``, ``y``
        EPSG:3035 centres, ``minutes``; NaN = not connected or unreachable). Mode
        ``transit``: the window median."""
        seconds = (self.transit_cells(category, "raster").median_s if mode == Mode.transit
                   else self.surface(category, mode).at(self._cell_snap("raster", mode))[0])
        grid = self._raster_grid()
        minutes = _minutes(seconds)
        return pd.DataFrame({"x": grid["x"], "y": grid["y"],
                             "minutes": np.where(np.isfinite(minutes), minutes, np.nan)})

    # ------------------------------------------------------------------ nearest

    def _table(self, category: str, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Per node the ``k_max`` nearest offers within ``nearest_max_min``: seconds and
        offer row (n × k), cached."""
        offers = self.offer_set(category, mode)
        with self._lock:
            key = (category, mode)
            if key not in self._tables:
                t0 = time.perf_counter()
                a = self.settings.access
                seeds = offers.seeds
                seconds, seed = routing.top_k(self._mode(mode).graph_t, offers.snap.node[seeds],
                                              offers.snap.seconds[seeds], a.k_max,
                                              a.nearest_max_min * 60.0)
                self._tables[key] = (seconds, np.where(seed >= 0, seeds[np.maximum(seed, 0)], -1))
                log.info("nearest table %s/%s (%d offers) in %.2f s", category, mode,
                         len(seeds), time.perf_counter() - t0)
            return self._tables[key]

    def _check_k(self, k: int) -> None:
        if not 1 <= k <= self.settings.access.k_max:
            raise AccessInputError(f"k={k} is not between 1 and {self.settings.access.k_max}")

    def nearest_many(self, lon: np.ndarray, lat: np.ndarray, category: str, mode: str,
                     k: int = 3) -> pd.DataFrame:
        """The ``k`` nearest offers of many points (no routes), vectorised.

        Parameters
        ----------
        lon, lat
            WGS84 degrees (arrays of equal length).
        category, mode
            As in :meth:`surface`.
        k
            1 … ``AccessSettings.k_max``.

        Returns
        -------
        pandas.DataFrame
            Long form: ``point`` (input position), ``rank`` (1 = nearest), ``offer_id``,
            ``minutes``. Only offers within ``AccessSettings.nearest_max_min`` are listed;
            points farther than the snap cut-off from the network have no rows.

        Raises
        ------
        RegionError
            A point lies outside the region.
        DataError
            Mode ``transit`` and no timetable is loaded (as in :meth:`nearest`).

        Notes
        -----
        Mode ``transit`` has no table: each point is one
        :meth:`geo.engine.transit_access.TransitAccess.nearest` (window median, seconds per point).
        """
        self._check_k(k)
        if mode == Mode.transit:
            _check_choice("category", category, CATEGORIES)
            px, py = self._check_points(lon, lat)
            access, columns = self.transit(), ["point", "rank", "offer_id", "minutes"]
            found = [access.nearest(float(xi), float(yi), category, k,
                                    self.settings.access.nearest_max_min).assign(point=i)
                     for i, (xi, yi) in enumerate(zip(px, py, strict=True))]
            return (pd.DataFrame(pd.concat(found, ignore_index=True)[columns]) if found
                    else pd.DataFrame(columns=columns))
        offers = self.offer_set(category, mode)
        x, y = self._check_points(lon, lat)
        snap = self._mode(mode).index.snap_xy(x, y)
        table_s, table_o = self._table(category, mode)
        point = np.flatnonzero(snap.connected)
        node = snap.node[point]
        seconds = table_s[node, :k] + snap.seconds[point, None]
        offer = table_o[node, :k]
        found = offer >= 0
        rows, rank = np.nonzero(found)
        return pd.DataFrame({"point": point[rows], "rank": rank + 1,
                             "offer_id": offers.ids[offer[found]],
                             "minutes": _minutes(seconds[found])})

    def nearest_routes(self, lon: float, lat: float, category: str, mode: str,
                       k: int = 3) -> NearestRoutes:
        """The ``k`` nearest offers of one point with their routes, as plain arrays (the
        API's fast path; :meth:`nearest` turns it into a GeoDataFrame).

        One forward Dijkstra from the point's node: bounded by the k-th offer when the
        nearest-offer table of (category, mode) is cached (well under a millisecond), else
        by ``AccessSettings.nearest_max_min`` (tens of milliseconds; no table is built).

        Parameters
        ----------
        lon, lat
            WGS84 degrees.
        category, mode
            As in :meth:`nearest` (mode ``transit``: :meth:`nearest`'s frame as arrays,
            without the connections' details).
        k
            1 … ``AccessSettings.k_max``.

        Returns
        -------
        NearestRoutes
            Offers by rank, door-to-door seconds, access metres and route vertices. Fewer
            than ``k`` offers when fewer lie within ``AccessSettings.nearest_max_min``.

        Raises
        ------
        RegionError
            The point lies outside the region or farther than the cut-off from the network.
        """
        if mode == Mode.transit:
            frame = self.nearest(lon, lat, category, mode, k)
            return NearestRoutes(frame["offer_id"].to_numpy(object),
                                 frame["name"].to_numpy(object),
                                 frame["minutes"].to_numpy(float) * 60.0, np.nan,
                                 [shapely.get_coordinates(g) for g in frame.geometry])
        self._check_k(k)
        offers = self.offer_set(category, mode)
        snap, _, _ = self._snap_point(lon, lat, mode)
        data = self._mode(mode)
        node = int(snap.node[0])
        limit = self.settings.access.nearest_max_min * 60.0
        table = self._tables.get((category, mode))
        if table is not None:  # choose from the cached table; route only to the k-th offer
            rows = table[1][node, :k][table[1][node, :k] >= 0]
            bound = float((table[0][node, :len(rows)] - offers.snap.seconds[rows])
                          .max(initial=0.0)) + 1e-6
        else:  # no table yet: one forward run finds the offers (tens of ms, no table build)
            bound = limit
        dist, pred = dijkstra(data.graph, indices=node, limit=bound, return_predecessors=True)
        if table is None:
            seeds = offers.seeds
            times = dist[offers.snap.node[seeds]] + offers.snap.seconds[seeds]
            order = np.argsort(times, kind="stable")[:k]
            rows = seeds[order[times[order] <= limit]]
        target = offers.snap.node[rows]
        if data.edges is None:
            data.edges = routing.EdgeLookup(data.net)
        start = np.array([[lon, lat]], float)
        ends = offers.lonlat[rows]
        routes = [np.vstack([start, data.edges.path_coords(
                      routing.walk_back(pred, int(t), data.net.n_nodes)[::-1]), end[None]])
                  for t, end in zip(target, ends, strict=True)]
        return NearestRoutes(offer_ids=offers.ids[rows], names=offers.names[rows],
                             seconds=dist[target] + offers.snap.seconds[rows] + snap.seconds[0],
                             access_m=float(snap.distance_m[0]), routes=routes)

    def nearest(self, lon: float, lat: float, category: str, mode: str,
                k: int = 3) -> gpd.GeoDataFrame:
        """The ``k`` nearest offers of one point with their routes (:meth:`nearest_routes`
        as a GeoDataFrame).

        Parameters
        ----------
        lon, lat
            WGS84 degrees.
        category, mode
            As in :meth:`surface`, or ``transit``.
        k
            1 … ``AccessSettings.k_max``.

        Returns
        -------
        geopandas.GeoDataFrame
            ``rank``, ``offer_id``, ``name``, ``category``, ``mode``, ``minutes``,
            ``access_m`` (point → network, metres) and the route (LineString, EPSG:4326:
            point, streets, offer). Fewer than ``k`` rows when fewer offers lie within
            ``AccessSettings.nearest_max_min``.

        Raises
        ------
        RegionError
            The point lies outside the region or farther than the cut-off from the network.

        Notes
        -----
        Mode ``transit`` answers with :meth:`geo.engine.transit_access.TransitAccess.nearest`:
        ``minutes`` = window median, ``best_minutes``, ``walk_minutes``, ``departure``,
        ``arrival`` and ``legs`` (line, stops, departure, arrival, walk legs) of the median
        departure's journey; the geometry runs through the stops.
        """
        if mode == Mode.transit:
            self._check_k(k)
            _check_choice("category", category, CATEGORIES)
            x, y = self._check_points(lon, lat)
            return self.transit().nearest(float(x[0]), float(y[0]), category, k,
                                          self.settings.access.nearest_max_min)
        found = self.nearest_routes(lon, lat, category, mode, k)
        return gpd.GeoDataFrame({
            "rank": np.arange(1, len(found.offer_ids) + 1), "offer_id": found.offer_ids,
            "name": found.names, "category": category, "mode": mode,
            "minutes": _minutes(found.seconds), "access_m": found.access_m,
        }, geometry=[shapely.linestrings(r) for r in found.routes], crs="EPSG:4326")

    # ------------------------------------------------------------------ isochrones

    def isochrones(self, lon: float, lat: float, mode: str,
                   minutes: Sequence[float] = (5, 10, 15)) -> gpd.GeoDataFrame:
        """Areas reachable from a point within each time budget, along the streets.

        Parameters
        ----------
        lon, lat
            WGS84 degrees.
        mode
            ``walk``, ``bike``, ``car`` or ``transit`` (walk + public transport, window
            median: :meth:`geo.engine.transit_access.TransitAccess.isochrones`).
        minutes
            Time budgets, minutes (> 0).

        Returns
        -------
        geopandas.GeoDataFrame
            ``minutes``, ``mode``, ``area_km2`` and a (Multi)Polygon per budget, EPSG:4326,
            largest first; ``.to_json()`` / ``.__geo_interface__`` give GeoJSON.
        """
        budgets = sorted({float(m) for m in minutes}, reverse=True)
        if not budgets or budgets[-1] <= 0:
            raise AccessInputError(f"minutes must be positive numbers, got {list(minutes)!r}")
        if mode == Mode.transit:
            px, py = self._check_points(lon, lat)
            return self.transit().isochrones(float(px[0]), float(py[0]), tuple(budgets))
        snap, x, y = self._snap_point(lon, lat, mode)
        data = self._mode(mode)
        if data.cutter is None:
            data.cutter = EdgeCutter(data.net)
        start = float(snap.seconds[0])
        dist = dijkstra(data.graph, indices=int(snap.node[0]),
                        limit=max(budgets[0] * 60.0 - start, 0.0)) + start
        polys = data.cutter.polygons(dist, [m * 60.0 for m in budgets], (x, y),
                                     self.settings.access.isochrone_buffer_m)
        out = gpd.GeoDataFrame({"minutes": budgets, "mode": mode,
                                "area_km2": [p.area / 1e6 for p in polys]},
                               geometry=polys, crs=METRIC_CRS)
        return out.to_crs("EPSG:4326")

    # ------------------------------------------------------------------ coverage

    def _cell_minutes(self, surface: Surface | _TransitSurface, grid: str
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Minutes (inf = none) and connected flag per cell of ``grid`` on ``surface``."""
        if isinstance(surface, _TransitSurface):
            t = self.transit_cells(surface.category, grid)
            return _minutes(t.median_s), np.isfinite(t.median_s)
        snap = self._cell_snap(grid, surface.mode)
        seconds, _ = surface.at(snap)
        return _minutes(seconds), snap.connected

    def _coverage_of(self, surface: Surface | _TransitSurface, level: str, thresholds: Sequence[int],
                     grids: Sequence[str] = tuple(GRIDS)) -> gpd.GeoDataFrame:
        """Coverage table of ``surface`` per area of ``level`` weighted by ``grids``."""
        areas = self.units(level)
        parts = []
        for grid in grids:
            weight = GRIDS[grid]
            frame = self.cell_frame(grid)
            minutes, connected = self._cell_minutes(surface, grid)
            parts.append(cov.summarise(minutes, connected, frame[weight].to_numpy(),
                                       cov.area_keys(frame, level, areas), grid, thresholds,
                                       self.settings.access.white_spot_min))
        out = cov.table(areas, level, parts)
        out.insert(3, "category", surface.category)
        out.insert(4, "mode", surface.mode)
        return out

    def _thresholds(self, minutes: Sequence[int] | None) -> tuple[int, ...]:
        values = tuple(minutes) if minutes is not None else self.settings.access.thresholds_min
        if not values or any(m <= 0 for m in values):
            raise AccessInputError(f"minutes must be positive, got {list(values)!r}")
        return values

    def coverage(self, level: str, category: str, mode: str,
                 minutes: Sequence[int] | None = None) -> gpd.GeoDataFrame:
        """Coverage of ``category`` by ``mode`` per area of ``level``.

        Parameters
        ----------
        level
            ``county``, ``unit``, ``gemeinde`` or ``youth_office``.
        category, mode
            As in :meth:`surface`.
        minutes
            Thresholds, minutes (default ``AccessSettings.thresholds_min``: 5, 10, 15,
            20, 30).

        Returns
        -------
        geopandas.GeoDataFrame
            One row per area: ``ags``, ``name``, ``level``, ``category``, ``mode``, then
            for ``children`` (100 m, under-10s) and ``inhabitants`` (1 km): the weight,
            ``*_within_<m>min_share``, ``*_mean_minutes``, ``*_median_minutes``,
            ``*_p90_minutes``, ``*_beyond_<white_spot_min>min`` and ``*_not_connected``
            (see :mod:`geo.engine.coverage`); area polygons, EPSG:3035. The cells behind the
            figures: :meth:`cells`.
        """
        _check_choice("level", level, LEVELS)
        surface = (_TransitSurface(category) if mode == Mode.transit
                   else self.surface(category, mode))
        return self._coverage_of(surface, level, self._thresholds(minutes))

    # ------------------------------------------------------------------ what-if

    def what_if(self, category: str, mode: str,
                add: Sequence[tuple[float, float]] = (),
                remove: Sequence[str] = ()) -> WhatIf:
        """Add hypothetical offers and/or remove existing ones; see what changes.

        Removing re-runs the multi-source search without the removed offers; each added
        offer improves the surface only where it is faster, so the added sites get one
        multi-source run bounded by the current worst time of any snappable node (exact,
        and cheaper than a full run).

        Parameters
        ----------
        category, mode
            As in :meth:`surface`.
        add
            ``(lon, lat)`` of new sites (WGS84 degrees); they become offers ``new-1``, …
        remove
            Offer ids of active offers of the category to close.

        Returns
        -------
        WhatIf
            Changed surface, per-Gemeinde coverage before/after/change, changed cells.

        Raises
        ------
        AccessInputError
            Nothing to change or an unknown offer id.
        RegionError
            An added site outside the region or not connected to the network.
        """
        t0 = time.perf_counter()
        if not add and not remove:
            raise AccessInputError("nothing to change: give sites to add or offer ids to remove")
        offers = self.offer_set(category, mode)
        base = self.surface(category, mode)
        data = self._mode(mode)
        unknown = sorted(set(remove) - set(offers.ids))
        if unknown:
            raise AccessInputError(f"no active {category!r} offer with id "
                                   f"{', '.join(map(repr, unknown))}")
        seconds, offer, ids = base.node_seconds, base.node_offer, offers.ids
        if remove:
            keep = offers.seeds[~np.isin(offers.ids[offers.seeds], list(remove))]
            field = routing.multi_source(data.graph_t, offers.snap.node[keep],
                                         offers.snap.seconds[keep])
            seconds = field.seconds
            offer = np.where(field.seed >= 0, keep[np.maximum(field.seed, 0)], -1)
        if add:
            sites = np.asarray(add, float).reshape(-1, 2)
            x, y = self._check_points(sites[:, 0], sites[:, 1])
            snap = data.index.snap_xy(x, y)
            if not snap.connected.all():
                i = int(np.flatnonzero(~snap.connected)[0])
                raise RegionError(f"site (lon {sites[i, 0]:.5f}, lat {sites[i, 1]:.5f}) is "
                                  f"{snap.distance_m[i]:.0f} m from the nearest {mode} street: "
                                  "not connected")
            bound = float(seconds[data.index.candidates].max())
            field = routing.multi_source(data.graph_t, snap.node, snap.seconds, limit=bound)
            better = field.seconds < seconds
            seconds = np.where(better, field.seconds, seconds)
            offer = np.where(better, len(ids) + field.seed, offer)
            ids = np.concatenate([ids, np.array([f"new-{i + 1}" for i in range(len(sites))],
                                                dtype=object)])
        surface = Surface(category, mode, seconds, offer, ids)
        thresholds = self.settings.access.thresholds_min
        before = self._coverage_of(base, "gemeinde", thresholds, ["children"])
        after = self._coverage_of(surface, "gemeinde", thresholds, ["children"])
        white = f"children_beyond_{self.settings.access.white_spot_min}min"
        change = pd.DataFrame({"ags": before["ags"], "name": before["name"],
                               "children": before["children"]})
        for m in thresholds:
            col = f"children_within_{m}min_share"
            change[f"{col}_before"] = before[col]
            change[f"{col}_after"] = after[col]
            change[f"children_within_{m}min_change"] = \
                ((after[col] - before[col]) * before["children"]).round().fillna(0).astype(int)
        change[f"{white}_before"] = before[white]
        change[f"{white}_after"] = after[white]
        minutes_before, _ = self._cell_minutes(base, "children")
        minutes_after, _ = self._cell_minutes(surface, "children")
        _, cell_offer = surface.at(self._cell_snap("children", mode))
        changed = np.flatnonzero(minutes_after != minutes_before)
        children = self.cell_frame("children")
        cells = pd.DataFrame({
            "cell_id": children["cell_id"].to_numpy()[changed],
            "gemeinde_ags": children["gemeinde_ags"].to_numpy()[changed],
            "children_under_10": children["children_under_10"].to_numpy()[changed],
            "minutes_before": minutes_before[changed], "minutes_after": minutes_after[changed],
            "offer_id": np.where(cell_offer[changed] >= 0,
                                 ids[np.maximum(cell_offer[changed], 0)], None),
        })
        return WhatIf(surface, change, cells, time.perf_counter() - t0)

    # ------------------------------------------------------------------ supply

    def supply(self, category: str = "kita", mode: str = "walk") -> Supply:
        """E2SFCA supply per child of ``category`` by ``mode`` (see :mod:`geo.engine.supply`).

        Supply is each offer's ``capacity`` (places) when every offer of the category has
        one; otherwise every offer counts 1 and the index is offers per child — capacities
        are never invented. Travel times: children cells → each offer within the last
        E2SFCA zone (per-offer bounded Dijkstra runs).

        Returns
        -------
        Supply
            Cells (``access`` per child and ``access_per_1000`` children), offers
            (``supply``, ``ratio``) and the ``basis`` of the supply figures.
        """
        offers = self.offer_set(category, mode)
        a = self.settings.access
        children = self.cell_frame("children")
        snap = self._cell_snap("children", mode)
        conn = np.flatnonzero(snap.connected)
        seeds = offers.seeds
        minutes = np.full((len(children), len(offers.frame)), np.inf)
        graph_t = self._mode(mode).graph_t
        limit = max(a.e2sfca_zones_min) * 60.0
        for part, dist in routing.per_source(graph_t, offers.snap.node[seeds],
                                             offers.snap.seconds[seeds], limit):
            minutes[np.ix_(conn, seeds[part])] = _minutes(
                dist[:, snap.node[conn]].T + snap.seconds[conn, None])
        capacity = offers.frame["capacity"]
        if capacity.notna().all():
            supply, basis = capacity.to_numpy(dtype=float), "capacity (places)"
        else:
            supply = np.ones(len(offers.frame))
            basis = (f"offers (capacity unknown for {capacity.isna().sum()} of "
                     f"{len(capacity)} offers; each offer counts 1)")
            log.warning("%s: %s", category, basis)
        access, ratio = e2sfca(minutes, children["children_under_10"].to_numpy(), supply,
                               a.e2sfca_zones_min, a.e2sfca_weights)
        cells = gpd.GeoDataFrame({
            "cell_id": children["cell_id"], "category": category, "mode": mode,
            "children_under_10": children["children_under_10"],
            "access": access, "access_per_1000": access * 1000, "connected": snap.connected,
            "gemeinde_ags": children["gemeinde_ags"]}, geometry=children.geometry, crs=METRIC_CRS)
        table = pd.DataFrame({"offer_id": offers.ids, "name": offers.frame["name"],
                              "supply": supply, "ratio": ratio})
        return Supply(cells, table, basis)


# ---------------------------------------------------------------------- batch job


def access_dir(settings: Settings) -> Path:
    """Folder of the accessibility outputs of the settings' region."""
    return network_dir(settings).parent / "access"


def compute(settings: Settings, engine: Accessibility | None = None) -> dict[str, Any]:
    """Compute every (category, mode) surface and write the outputs.

    Writes to :func:`access_dir`: ``minutes_<category>_<mode>.tif`` (COG, float32 minutes
    on the 100 m Zensus grid, EPSG:3035, nodata -1), ``cells.parquet`` (GeoParquet long
    form, the cells behind every coverage figure: :meth:`Accessibility.cells` of both
    grids, ``grid`` = ``children`` (100 m) or ``inhabitants`` (1 km), centre points),
    ``coverage.parquet`` (GeoParquet, every level × category × mode) and
    ``supply_kita.parquet`` (E2SFCA per children cell and mode).

    Mode ``transit`` (window median) joins the outputs when a timetable is loaded for the region; otherwise it is skipped and ``skipped_modes`` says
    why and how to load one.

    Returns
    -------
    dict
        CLI summary: ``surfaces``, ``seconds``, ``coverage`` (county figures per category
        and mode), ``skipped`` (categories without active offers), ``skipped_modes``
        (``{"transit": reason}`` without a timetable), ``not_connected``,
        ``supply_basis``, ``outputs``.
    """
    from geo.sources.population import write_cog

    t0 = time.perf_counter()
    engine = engine or Accessibility(settings)
    folder = access_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    available = engine.categories()
    skipped = {c: "no active offers" for c in CATEGORIES if c not in available}
    for c in skipped:
        log.warning("category %s skipped: no active offers in %s", c, engine.region.title)
    bounds = tuple(engine.units("county").total_bounds)
    modes, skipped_modes = list(STREET_MODES), {}
    try:
        engine.transit()
        modes.append(Mode.transit)
    except ErreichbarError as exc:
        skipped_modes[Mode.transit] = str(exc)
        log.warning("mode transit skipped: %s", exc)
    cells, tables, summary = [], [], {}
    t_surf = 0.0
    for category in available:
        summary[category] = {}
        for mode in modes:
            t1 = time.perf_counter()
            if mode == Mode.transit:
                engine.transit_cells(category)
            else:
                engine.surface(category, mode)
            t_surf += time.perf_counter() - t1
            cells += [engine.cells(category, mode, grid).assign(grid=grid) for grid in GRIDS]
            tables += [engine.coverage(level, category, mode) for level in LEVELS]
            county = tables[-len(LEVELS)].iloc[0]
            figures = {k: round(float(county[k]), 4) for k in county.index
                       if k.startswith(("children_", "inhabitants_within_"))}
            summary[category][mode] = figures
            write_cog(folder / f"minutes_{category}_{mode}.tif",
                      engine.raster_minutes(category, mode), "minutes", 100, bounds,
                      "float32", -1.0)
    long = pd.concat(cells, ignore_index=True)
    long["minutes"] = long["minutes"].where(np.isfinite(long["minutes"]))
    gpd.GeoDataFrame(long, geometry=gpd.points_from_xy(long["x"], long["y"]), crs=METRIC_CRS) \
        .to_parquet(folder / "cells.parquet")
    gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), crs=METRIC_CRS) \
        .to_parquet(folder / "coverage.parquet")
    basis = {}
    if "kita" in available:
        supplies = [engine.supply("kita", mode) for mode in STREET_MODES]
        basis = {mode: s.basis for mode, s in zip(STREET_MODES, supplies, strict=True)}
        gpd.GeoDataFrame(pd.concat([s.cells for s in supplies], ignore_index=True), crs=METRIC_CRS) \
            .to_parquet(folder / "supply_kita.parquet")
    not_connected = {
        mode: {"children_cells": int((~engine._cell_snap("children", mode).connected).sum()),
               "inhabitant_cells": int((~engine._cell_snap("inhabitants", mode).connected).sum()),
               "offers": {c: int((~engine.offer_set(c, mode).snap.connected).sum())
                          for c in available}}
        for mode in STREET_MODES}
    return {"surfaces": len(available) * len(modes), "seconds": round(time.perf_counter() - t0, 2),
            "surface_seconds": round(t_surf, 3), "coverage": summary, "skipped": skipped,
            "skipped_modes": skipped_modes,
            "not_connected": not_connected, "supply_basis": basis, "outputs": str(folder)}
