"""The accessibility engine: travel times from every home to the nearest family offers.

:class:`Accessibility` is a thin facade over one engine per mode
(:class:`~geo.engine.protocol.ModeEngine`): :class:`~geo.engine.street.StreetEngine` for
walk, bike and car, :class:`~geo.engine.transit_engine.TransitEngine` for walk + public
transport (window median; needs a timetable loaded for the region). It checks what all
modes share — mode, category, level, ``k``, time budgets — and hands the question to the
mode's engine:

* :meth:`~Accessibility.surface` — time from every network node to the nearest active
  offer of a category, and which offer (street modes);
* :meth:`~Accessibility.cells` — the same per Zensus cell (long form, minutes);
* :meth:`~Accessibility.nearest` / :meth:`~Accessibility.nearest_many` — the k nearest
  offers of any point, with routes for a single point;
* :meth:`~Accessibility.isochrones` — reach polygons (GeoJSON-ready);
* :meth:`~Accessibility.coverage` — shares of children / inhabitants within 5…30 min per
  county, unit, Gemeinde or youth-office area, mean/median/p90, white spots;
* :meth:`~Accessibility.supply` — E2SFCA supply per child (:mod:`geo.engine.supply`);
* :meth:`~Accessibility.what_if` — add/remove offers and get the changed surface and the
  coverage change per Gemeinde in well under a second (:mod:`geo.engine.what_if`).

A mode that cannot answer a question raises :class:`~geo.errors.AccessInputError` naming
the mode. Times are seconds internally and minutes in every output. The batch job behind
``erreichbar access compute`` is :func:`geo.products.compute.compute`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.engine.protocol import ModeEngine, NearestRoutes, OfferSet, Supply, Surface, WhatIf
from geo.engine.region import (
    GRIDS,
    RegionData,
    check_choice,
    coverage_weights,
    to_minutes,
    weight_grid,
)
from geo.engine.street import StreetEngine
from geo.engine.transit_access import TransitAccess, TransitCells
from geo.engine.transit_engine import TransitEngine
from geo.errors import AccessInputError, ErreichbarError
from geo.networks.network import Network
from geo.networks.snap import Snap
from geo.settings import Settings
from geo.vocabulary import CATEGORIES, LEVELS, MODES, STREET_MODES, Mode

__all__ = ["GRIDS", "AccessInputError", "Accessibility", "NearestRoutes", "OfferSet",
           "RegionAccess", "Supply", "Surface", "WhatIf"]


class RegionAccess:
    """The engines and shared data of one region.

    The part of :class:`Accessibility` that answers no query; see there for the parameters.
    """

    def __init__(self, settings: Settings, offers: gpd.GeoDataFrame | None = None,
                 children: gpd.GeoDataFrame | None = None,
                 inhabitants: gpd.GeoDataFrame | None = None,
                 networks: Mapping[str, Network] | None = None) -> None:
        self.settings = settings
        self.data = RegionData(settings, offers, children, inhabitants)
        self.region = self.data.region
        streets = {mode: StreetEngine(mode, self.data, (networks or {}).get(mode))
                   for mode in STREET_MODES}
        self._transit = TransitEngine(Mode.transit, self.data, streets[Mode.walk])
        #: the engine of every mode: the one place where the modes are told apart
        self._engines: dict[str, ModeEngine] = {**streets, self._transit.mode: self._transit}

    def engine(self, mode: str) -> ModeEngine:
        """Return the engine of ``mode`` (AccessInputError for an unknown mode)."""
        check_choice("mode", mode, MODES)
        return self._engines[mode]

    def missing(self, mode: str) -> str | None:
        """Return why an optional mode has no data (its loader's message), else None.

        Loads the mode's data (network or timetable) on first call. A mode that is not
        optional (the street modes) raises its loader's error instead: batch jobs skip
        only optional modes, so a region with and one without a timetable run the same code.
        """
        engine = self.engine(mode)
        try:
            engine.load()
        except ErreichbarError as exc:
            if not engine.optional:
                raise
            return str(exc)
        return None

    # ------------------------------------------------------------------ shared data

    @property
    def offers(self) -> gpd.GeoDataFrame:
        """The offer catalogue (all statuses)."""
        return self.data.offers

    def cell_frame(self, grid: str) -> gpd.GeoDataFrame:
        """Census cells of ``grid`` (see :meth:`RegionData.cell_frame`)."""
        return self.data.cell_frame(grid)

    def units(self, level: str) -> gpd.GeoDataFrame:
        """Areas of ``level`` (see :class:`geo.vocabulary.Level`), EPSG:3035."""
        return self.data.units(level)

    def categories(self) -> list[str]:
        """Categories with at least one active offer."""
        return self.data.categories()

    # ------------------------------------------------------------------ per mode

    def network(self, mode: str) -> Network:
        """Return the street network of ``mode`` (loaded once)."""
        return self.engine(mode).network()

    def transit(self) -> TransitAccess:
        """Walk + public transport on the region's stored GTFS feed (loaded once).

        Raises
        ------
        DataError
            No timetable is loaded for the region; the message says how to load one.
        """
        return self._transit.access()

    def transit_cells(self, category: str, grid: str = "children") -> TransitCells:
        """Walk + transit times of every cell of ``grid`` to the nearest ``category`` offer.

        ``grid`` is ``children``, ``inhabitants`` or ``raster`` (every 100 m cell of the
        county); see :meth:`geo.engine.transit_access.TransitAccess.cell_times`.
        """
        check_choice("category", category, CATEGORIES)
        return self._transit.cell_times(category, grid)

    def offer_set(self, category: str, mode: str) -> OfferSet:
        """Active offers of ``category`` snapped to the network of ``mode``.

        Raises
        ------
        AccessInputError
            Unknown category or mode.
        EmptyResultError
            No active offer of the category, or none within reach of the network.
        """
        return self.engine(mode).offer_set(category)

    def snap(self, lon: np.ndarray, lat: np.ndarray, mode: str) -> Snap:
        """Join WGS84 points (degrees) to the network of ``mode``.

        The snap gives node, metres and access seconds per point (node -1 / inf seconds
        beyond the snap cut-off).

        Raises
        ------
        RegionError
            A point lies outside the region.
        """
        return self.engine(mode).snap(lon, lat)


class Accessibility(RegionAccess):
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
    networks
        Street networks by mode to route on instead of the stored ones (a batch region's
        haloed part, :func:`geo.products.batch.clip_network`).

    Notes
    -----
    The networks must have been built (``erreichbar network build``); each engine loads its
    data on first use.
    """

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
        return self.engine(mode).surface(category)

    def cells(self, category: str, mode: str, grid: str = "children",
              weight: str | None = None) -> pd.DataFrame:
        """Minutes from every census cell to the nearest offer, long form.

        Parameters
        ----------
        category, mode
            As in :meth:`surface`, or mode ``transit``.
        grid
            ``children`` (100 m cells, under-10s), ``inhabitants`` (1 km cells) or
            ``need`` (100 m cells of the need layers).
        weight
            A :class:`~geo.vocabulary.Weight`: the cells that carry it (overrides
            ``grid``; ``children_under_10`` → ``children``, the others → ``need``).

        Returns
        -------
        pandas.DataFrame
            ``cell_id``, ``category``, ``mode``, ``minutes`` (inf = unreachable or not
            connected), ``offer_id`` (None there), ``connected`` (within the snap cut-off),
            ``access_m`` (metres to the network), the grid's weight columns
            (``children_under_10``; ``inhabitants``; ``families_with_minors``,
            ``single_parent_families``, ``foreign_nationals``: NaN = suppressed),
            ``unit_ags``, ``gemeinde_ags``, ``x``, ``y`` (EPSG:3035).
            Mode ``transit``: ``minutes`` is the window median, plus ``best_minutes`` and
            ``walk_minutes`` (walking the whole way); ``offer_id`` is the offer reached at
            the median departure; ``connected`` = reachable at all; ``access_m`` is NaN.
        """
        engine = self.engine(mode)
        check_choice("category", category, CATEGORIES)
        grid = weight_grid(weight) if weight is not None else grid
        check_choice("grid", grid, list(GRIDS))
        return engine.cells(category, grid)

    def raster_minutes(self, category: str, mode: str) -> pd.DataFrame:
        """Minutes to the nearest offer for every 100 m cell of the region.

        Columns ``x``, ``y`` (EPSG:3035 centres) and ``minutes`` (NaN = not connected or
        unreachable; mode ``transit``: the window median).
        """
        engine = self.engine(mode)
        check_choice("category", category, CATEGORIES)
        minutes = to_minutes(engine.raster_seconds(category))
        grid = self.data.raster_grid()
        return pd.DataFrame({"x": grid["x"], "y": grid["y"],
                             "minutes": np.where(np.isfinite(minutes), minutes, np.nan)})

    # ------------------------------------------------------------------ nearest

    def _point_query(self, category: str, mode: str, k: int) -> ModeEngine:
        """Check ``category`` and ``k`` (1 … ``k_max``) and return the engine of ``mode``."""
        engine = self.engine(mode)
        check_choice("category", category, CATEGORIES)
        if not 1 <= k <= self.settings.access.k_max:
            raise AccessInputError(f"k={k} is not between 1 and {self.settings.access.k_max}")
        return engine

    def nearest_many(self, lon: np.ndarray, lat: np.ndarray, category: str, mode: str,
                     k: int = 3) -> pd.DataFrame:
        """Find the ``k`` nearest offers of many points (no routes), vectorised.

        Parameters
        ----------
        lon, lat
            WGS84 degrees (arrays of equal length).
        category, mode
            As in :meth:`surface`, or mode ``transit``.
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
        Street modes read the cached nearest-offer table (built on first use: ``k_max``
        multi-source runs). Mode ``transit`` has no table: each point is one
        :meth:`geo.engine.transit_access.TransitAccess.nearest` (window median, seconds per
        point).
        """
        return self._point_query(category, mode, k).nearest_many(lon, lat, category, k)

    def minutes_to(self, lon: float, lat: float, category: str, mode: str,
                   offer_ids: Sequence[str]) -> np.ndarray:
        """Return the minutes from one point (WGS84) to each given offer by a street mode.

        Read from the nearest-offer table where the offer is among the point's ``k_max``
        nearest, else one forward search that stops at the last asked offer
        (:meth:`geo.engine.street.StreetEngine.minutes_to`); inf beyond
        ``AccessSettings.nearest_max_min``, for a point beyond the snap cut-off and for ids
        that are no active offer of ``category``.

        Raises
        ------
        AccessInputError
            Unknown category or mode, or mode ``transit`` (no table).
        RegionError
            The point lies outside the region.
        EmptyResultError
            No offer of ``category`` is connected to the mode's network.
        """
        return self._point_query(category, mode, 1).minutes_to(lon, lat, category, offer_ids)

    def nearest_routes(self, lon: float, lat: float, category: str, mode: str,
                       k: int = 3) -> NearestRoutes:
        """Find the ``k`` nearest offers of one point with their routes, as plain arrays.

        This is the API's fast path; :meth:`nearest` turns it into a GeoDataFrame.

        Street modes: one forward Dijkstra from the point's node, bounded by the k-th offer
        when the nearest-offer table of (category, mode) is cached (well under a
        millisecond), else by ``AccessSettings.nearest_max_min`` (tens of milliseconds; no
        table is built). Mode ``transit``: :meth:`nearest`'s frame as arrays, without the
        connections' details.

        Parameters
        ----------
        lon, lat
            WGS84 degrees.
        category, mode
            As in :meth:`nearest`.
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
        return self._point_query(category, mode, k).nearest_routes(lon, lat, category, k)

    def nearest(self, lon: float, lat: float, category: str, mode: str,
                k: int = 3) -> gpd.GeoDataFrame:
        """Find the ``k`` nearest offers of one point with their routes.

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
        return self._point_query(category, mode, k).nearest(lon, lat, category, k)

    # ------------------------------------------------------------------ isochrones

    def isochrones(self, lon: float, lat: float, mode: str,
                   minutes: Sequence[float] = (5, 10, 15)) -> gpd.GeoDataFrame:
        """Areas reachable from a point within each time budget.

        Parameters
        ----------
        lon, lat
            WGS84 degrees.
        mode
            ``walk``, ``bike``, ``car`` (along the streets) or ``transit`` (walk + public
            transport, window median:
            :meth:`geo.engine.transit_access.TransitAccess.isochrones`).
        minutes
            Time budgets, minutes (> 0).

        Returns
        -------
        geopandas.GeoDataFrame
            ``minutes``, ``mode``, ``area_km2`` and a (Multi)Polygon per budget, EPSG:4326,
            largest first; ``.to_json()`` / ``.__geo_interface__`` give GeoJSON.
        """
        engine = self.engine(mode)
        budgets = sorted({float(m) for m in minutes}, reverse=True)
        if not budgets or budgets[-1] <= 0:
            raise AccessInputError(f"minutes must be positive numbers, got {list(minutes)!r}")
        return engine.isochrones(lon, lat, budgets)

    # ------------------------------------------------------------------ coverage

    def coverage(self, level: str, category: str, mode: str,
                 minutes: Sequence[int] | None = None,
                 weight: str | Sequence[str] | None = None) -> gpd.GeoDataFrame:
        """Coverage of ``category`` by ``mode`` per area of ``level``.

        Parameters
        ----------
        level
            ``county``, ``unit``, ``gemeinde`` or ``youth_office``.
        category, mode
            As in :meth:`surface`, or mode ``transit`` (window median).
        minutes
            Thresholds, minutes (default ``AccessSettings.thresholds_min``: 5, 10, 15,
            20, 30).
        weight
            :class:`~geo.vocabulary.Weight` (one or several) reported besides children and
            inhabitants (e.g. ``single_parent_families``: ``single_parent_families_*``).

        Returns
        -------
        geopandas.GeoDataFrame
            One row per area: ``ags``, ``name``, ``level``, ``category``, ``mode``, then
            for ``children`` (100 m, under-10s), ``inhabitants`` (1 km) and ``weight``:
            the weight,
            ``*_within_<m>min_share``, ``*_mean_minutes``, ``*_median_minutes``,
            ``*_p90_minutes``, ``*_beyond_<white_spot_min>min`` and ``*_not_connected``
            (see :mod:`geo.engine.coverage`); area polygons, EPSG:3035. The cells behind the
            figures: :meth:`cells`.
        """
        check_choice("level", level, LEVELS)
        engine = self.engine(mode)
        check_choice("category", category, CATEGORIES)
        out = self.data.coverage(level, lambda grid: engine.cell_minutes(category, grid),
                                 self.data.thresholds(minutes), coverage_weights(weight))
        out.insert(3, "category", category)
        out.insert(4, "mode", mode)
        return out

    # ------------------------------------------------------------------ what-if, supply

    def what_if(self, category: str, mode: str,
                add: Sequence[tuple[float, float]] = (),
                remove: Sequence[str] = ()) -> WhatIf:
        """Add hypothetical offers and/or remove existing ones; see what changes.

        Parameters
        ----------
        category, mode
            As in :meth:`cells`; for transit the cells' times are combined from kept
            stop-to-stop scans and ``surface`` is None
            (:meth:`~geo.engine.transit_engine.TransitEngine.what_if`).
        add
            ``(lon, lat)`` of new sites (WGS84 degrees); they become offers ``new-1``, …
        remove
            Offer ids of active offers of the category to close.

        Returns
        -------
        WhatIf
            Changed surface, per-Gemeinde coverage before/after/change, changed cells
            (:func:`geo.engine.what_if.what_if`).

        Raises
        ------
        AccessInputError
            Nothing to change or an unknown offer id.
        RegionError
            An added site outside the region or not connected to the network.
        """
        return self.engine(mode).what_if(category, add, remove)

    def supply(self, category: str = "kita", mode: str = "walk") -> Supply:
        """E2SFCA supply per child of ``category`` by ``mode`` (street modes).

        See :func:`geo.engine.supply.street_supply`.

        Returns
        -------
        Supply
            Cells (``access`` per child and ``access_per_1000`` children), offers
            (``supply``, ``ratio``) and the ``basis`` of the supply figures.
        """
        return self.engine(mode).supply(category)
