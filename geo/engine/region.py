"""What every mode engine of a region shares: offers, census cells, areas and points.

:class:`RegionData` loads each input once (thread-safe) and answers the questions that do
not depend on a travel mode: which offers are active, which cells and areas there are,
where the 100 m raster cells of the county lie, whether query points lie in the region,
and the coverage table of given per-cell times (:mod:`geo.engine.coverage`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.engine import coverage as cov
from geo.errors import AccessInputError, EmptyResultError, RegionError
from geo.networks.snap import to_metric
from geo.settings import Settings, get_region
from geo.sources.boundaries import load_units
from geo.sources.need import NEED_COLUMNS
from geo.vocabulary import CATEGORIES, LEVELS, Weight

#: Every weight column of each grid: census 100 m cells with children under 10, 1 km cells
#: with inhabitants, 100 m cells of the need layers (:data:`geo.sources.need.NEED_COLUMNS`).
GRID_WEIGHTS: dict[str, tuple[str, ...]] = {
    "children": ("children_under_10",), "inhabitants": ("inhabitants",), "need": NEED_COLUMNS}
#: Each grid's main weight (its first column).
GRIDS: dict[str, str] = {grid: columns[0] for grid, columns in GRID_WEIGHTS.items()}
#: Coverage weights by name: (grid, column). ``children`` and ``inhabitants`` keep their
#: grid names as column prefixes; each need layer is named by its column.
WEIGHTS: dict[str, tuple[str, str]] = {
    "children": ("children", "children_under_10"),
    "inhabitants": ("inhabitants", "inhabitants"),
    **{column: ("need", column) for column in NEED_COLUMNS}}

def weight_key(weight: str) -> str:
    """Coverage weight name of a :class:`~geo.vocabulary.Weight` (children → ``children``)."""
    check_choice("weight", weight, [w.value for w in Weight])
    return "children" if weight == Weight.children_under_10 else weight


def coverage_weights(weight: str | Sequence[str] | None) -> list[str]:
    """Weights of a coverage table: children, inhabitants and the other ``weight``(s)."""
    extra = [weight] if isinstance(weight, str) else list(weight or ())
    names = ["children", "inhabitants"]
    names += [k for k in map(weight_key, extra) if k not in names]
    return names


def weight_grid(weight: str) -> str:
    """Return the grid whose cells carry ``weight`` (a :class:`~geo.vocabulary.Weight`)."""
    return WEIGHTS[weight_key(weight)][0]


#: Every 100 m cell of the county (the pixels of the minute rasters), besides :data:`GRIDS`.
RASTER = "raster"

#: Per-cell minutes (inf = none) and connected flag of one grid (a coverage input).
CellMinutes = Callable[[str], tuple[np.ndarray, np.ndarray]]


def check_choice(kind: str, value: str, choices: Sequence[str]) -> None:
    """Raise :class:`AccessInputError` naming ``value`` and the choices unless it is one.

    Parameters
    ----------
    kind
        What the value is (``mode``, ``category``, ``level``, ``grid``).
    value
        The value asked for.
    choices
        The values allowed.
    """
    if value not in choices:
        raise AccessInputError(f"unknown {kind} {value!r}; {kind}s: {', '.join(choices)}")


def to_minutes(seconds: np.ndarray) -> np.ndarray:
    """Convert seconds to minutes (float; inf stays inf)."""
    return np.asarray(seconds, float) / 60.0


class RegionData:
    """Offers, Zensus cells, areas and the raster grid of one region (cached, thread-safe).

    Parameters
    ----------
    settings
        Settings: region, data/work directories, :class:`~geo.settings.AccessSettings`.
    offers
        Offer catalogue (EPSG:4326, columns of :func:`geo.sources.offers.load_offers`);
        default: the region's catalogue, loaded on first use.
    children, inhabitants
        Zensus cells (:func:`geo.sources.population.load_children_100m` /
        :func:`~geo.sources.population.load_inhabitants_1km`); default: loaded on first use.
    """

    def __init__(self, settings: Settings, offers: gpd.GeoDataFrame | None = None,
                 children: gpd.GeoDataFrame | None = None,
                 inhabitants: gpd.GeoDataFrame | None = None) -> None:
        self.settings = settings
        self.region = get_region(settings.region)
        self.lock = threading.RLock()
        self._offers = offers
        self._cells: dict[str, gpd.GeoDataFrame | None] = {
            "children": children, "inhabitants": inhabitants, "need": None}
        self._units: dict[str, gpd.GeoDataFrame] = {}
        self._area: shapely.Geometry | None = None
        self._grid: pd.DataFrame | None = None

    @property
    def offers(self) -> gpd.GeoDataFrame:
        """The offer catalogue (all statuses)."""
        with self.lock:
            if self._offers is None:
                from geo.sources.offers import load_offers

                self._offers = load_offers(self.settings)
            return self._offers

    @property
    def active(self) -> gpd.GeoDataFrame:
        """The active offers (all categories), rows in catalogue order."""
        return self.offers[self.offers["status"] == "active"]

    def active_offers(self, category: str) -> gpd.GeoDataFrame:
        """Return the active offers of ``category``, rows 0..m-1.

        Raises
        ------
        AccessInputError
            Unknown category.
        EmptyResultError
            No active offer of the category.
        """
        check_choice("category", category, CATEGORIES)
        active = self.active
        frame = active[active["category"] == category].reset_index(drop=True)
        if frame.empty:
            raise EmptyResultError(f"no active offers of category {category!r} in "
                                   f"{self.region.title}")
        return frame

    def categories(self) -> list[str]:
        """Categories with at least one active offer."""
        active = self.active["category"]
        return [c for c in CATEGORIES if (active == c).any()]

    def cell_frame(self, grid: str) -> gpd.GeoDataFrame:
        """Census cells of ``grid`` (``children``, ``need``: 100 m; ``inhabitants``: 1 km)."""
        check_choice("grid", grid, list(GRIDS))
        with self.lock:
            frame = self._cells[grid]
            if frame is None:
                from geo.sources import population

                loaders = {"children": population.load_children_100m,
                           "inhabitants": population.load_inhabitants_1km,
                           "need": population.load_need_100m}
                frame = loaders[grid](self.settings)
                self._cells[grid] = frame
            return frame

    def points(self, grid: str) -> pd.DataFrame:
        """Return the cells of ``grid`` or of :data:`RASTER` (``x``, ``y``: EPSG:3035 centres)."""
        check_choice("grid", grid, [*GRIDS, RASTER])
        return self.raster_grid() if grid == RASTER else self.cell_frame(grid)

    def units(self, level: str) -> gpd.GeoDataFrame:
        """Areas of ``level`` (see :class:`geo.vocabulary.Level`), EPSG:3035."""
        check_choice("level", level, LEVELS)
        with self.lock:
            if level not in self._units:
                self._units[level] = load_units(self.settings, level)
            return self._units[level]

    def raster_grid(self) -> pd.DataFrame:
        """Centres of the pixels of the minute rasters.

        Every 100 m INSPIRE cell whose centre lies in the county: ``x``, ``y`` (EPSG:3035
        metres).
        """
        with self.lock:
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

    def _area_shape(self) -> shapely.Geometry:
        """County polygon buffered by the offers' region tolerance (EPSG:3035), prepared."""
        with self.lock:
            if self._area is None:
                county = self.units("county").geometry.iloc[0]
                self._area = shapely.buffer(county, self.settings.offers.region_tolerance_m)
                shapely.prepare(self._area)
            return self._area

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return whether EPSG:3035 points (metres) lie in the region.

        Inside = within :attr:`~geo.settings.OfferSettings.region_tolerance_m` of the county
        polygon: the one rule for offers, query points and the API.
        """
        return shapely.contains_xy(self._area_shape(), x, y)

    def check_points(self, lon: np.ndarray | float, lat: np.ndarray | float
                     ) -> tuple[np.ndarray, np.ndarray]:
        """EPSG:3035 coordinates (metres) of WGS84 points (degrees).

        Raises
        ------
        AccessInputError
            Coordinates that are not finite or of unequal count.
        RegionError
            A point lies outside the region; the message names the first one.
        """
        lon, lat = np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
        if lon.shape != lat.shape or not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise AccessInputError("lon and lat must be finite numbers of equal count")
        x, y = to_metric(lon, lat)
        outside = np.flatnonzero(~self.inside(x, y))
        if len(outside):
            i = outside[0]
            raise RegionError(f"point (lon {lon[i]:.5f}, lat {lat[i]:.5f}) lies outside "
                              f"{self.region.title}" + (f" ({len(outside)} points outside)"
                                                        if len(outside) > 1 else ""))
        return x, y

    def thresholds(self, minutes: Sequence[int] | None) -> tuple[int, ...]:
        """Coverage thresholds, minutes: ``minutes`` or the settings' (all positive)."""
        values = tuple(minutes) if minutes is not None else self.settings.access.thresholds_min
        if not values or any(m <= 0 for m in values):
            raise AccessInputError(f"minutes must be positive, got {list(values)!r}")
        return values

    def coverage(self, level: str, cell_minutes: CellMinutes, thresholds: Sequence[int],
                 weights: Sequence[str] = ("children", "inhabitants")) -> gpd.GeoDataFrame:
        """Coverage table per area of ``level`` of the times ``cell_minutes(grid)`` gives.

        Parameters
        ----------
        level
            ``county``, ``unit``, ``gemeinde`` or ``youth_office``.
        cell_minutes
            Per grid: minutes (inf = none) and connected flag per cell of the grid.
        thresholds
            Minutes of the ``_within_`` shares.
        weights
            The weights to report (keys of :data:`WEIGHTS`); each names its columns.
            Suppressed need counts (NaN) weigh 0, so need sums are lower bounds.

        Returns
        -------
        geopandas.GeoDataFrame
            :func:`geo.engine.coverage.table` (``ags``, ``name``, ``level``, figures per
            grid, area polygons in EPSG:3035).
        """
        areas = self.units(level)
        parts = []
        for name in weights:
            grid, column = WEIGHTS[name]
            frame = self.cell_frame(grid)
            minutes, connected = cell_minutes(grid)
            weight = np.nan_to_num(frame[column].to_numpy(dtype=float), nan=0.0)
            parts.append(cov.summarise(minutes, connected, weight,
                                       cov.area_keys(frame, level, areas), name, thresholds,
                                       self.settings.access.white_spot_min))
        return cov.table(areas, level, parts)

    def cell_table(self, grid: str, columns: dict[str, object]) -> pd.DataFrame:
        """Build the long-form cell table of ``grid`` around mode-specific ``columns``.

        Columns: ``cell_id``, ``columns`` (times), then the grid's weights
        (:data:`GRID_WEIGHTS`), ``unit_ags``, ``gemeinde_ags``, ``x``, ``y`` (EPSG:3035
        metres).
        """
        frame = self.cell_frame(grid)
        return pd.DataFrame({
            "cell_id": frame["cell_id"].to_numpy(), **columns,
            **{w: frame[w].to_numpy() for w in GRID_WEIGHTS[grid]},
            "unit_ags": frame["unit_ags"].to_numpy(),
            "gemeinde_ags": frame["gemeinde_ags"].to_numpy(),
            "x": frame["x"].to_numpy(), "y": frame["y"].to_numpy(),
        })
