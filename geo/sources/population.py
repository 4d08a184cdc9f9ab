"""Census population grids of a region: 1 km inhabitants, under-18 share, 100 m under-10s.

Which census is read is a setting (:class:`geo.settings.CensusSettings`): offline the data
directory holds the **Zensus 2011** grids (census day 09.05.2011); every output names it.

The grids are read from the Germany-wide parquet files (x/y = cell centre, EPSG:3035,
INSPIRE grid) and clipped to the region: **a cell belongs to the region, to a municipal
unit and to a Gemeinde when its centre lies inside the polygon** (centroid assignment).

Why centroid and not area-weighted: the census counts people at their addresses, not
spread evenly over a cell, so splitting a cell by area share invents fractional people
where nobody lives (a 1 km cell cut by a border usually has its village on one side).
Centroid assignment keeps counts integer and each person in exactly one unit, so unit
sums add up to the county total exactly. Its error is at the border only and is small
against VG5000's own generalisation (borders off by several hundred metres at 1:5,000,000);
for the 100 m grid it is negligible.

1 km inhabitants are **not** allocated to 100 m cells: the 100 m grid only lists cells
with at least 3 under-10s, so any allocation rule (e.g. proportional to children) would
put all adults where children live and none elsewhere. Use the 1 km grid for
inhabitants and the 100 m grid for children.

Negative values in the source mean "suppressed / no data"; those cells are left out
(inhabitants) or their share is NaN (under-18 share).

**Current totals.** With ``settings.population.own_file`` (a county's own population table,
:mod:`geo.sources.population_table`) the settings-based loaders :func:`load_inhabitants_1km`
and :func:`load_children_100m` scale the census cells inside each listed area to the area's
current total, keeping their distribution; the census value stays in ``<column>_census``.
:func:`population_basis` says which basis the figures have ("Zensus 2011 (09.05.2011)" or
"Zensus 2011-Verteilung, skaliert auf <source, date>"); every output must show it.

**Zensus 2022.** With ``census.name = "zensus2022"`` the grids are read from the download
cache ``<work_dir>/raw/zensus2022`` filled by ``erreichbar layers download``
(:mod:`geo.sources.census_download`), converted to the same layout as the 2011 files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import rasterio
import rasterio.shutil
import shapely
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from geo._io import atomic_path
from geo.errors import DataError
from geo.settings import Settings, get_region
from geo.sources.boundaries import load_units
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

#: 1 km inhabitants (int, -1 = suppressed/unpopulated).
INHABITANTS_FILE: Final = "continuous_Einwohner.parquet"
#: 1 km share of inhabitants under 18 in percent (negative = suppressed).
UNDER18_FILE: Final = "continuous_unter18_A.parquet"
#: 100 m persons aged under 10 (10-year age group 1; cells with < 3 persons omitted).
CHILDREN_FILE: Final = "demography_ALTER_10JG_1.parquet"


def census_dir(settings: Settings) -> Path:
    """Folder of the Germany-wide grids of the settings' census.

    Zensus 2011: ``<data_dir>/germany/zensus2011`` (offline, in the data directory).
    Zensus 2022: ``<work_dir>/raw/zensus2022``, where ``erreichbar layers download`` puts
    the Destatis grids converted to the 2011 layout.
    """
    if settings.census.name == "zensus2022":
        return settings.raw_dir / "zensus2022"
    return settings.data_dir / settings.census.folder


def population_files(census: Path) -> list[Path]:
    """Return the census files the population layers are read from (for cache keys)."""
    return [census / f for f in (INHABITANTS_FILE, UNDER18_FILE, CHILDREN_FILE)]


def cell_ids(x: np.ndarray, y: np.ndarray, size_m: int) -> np.ndarray:
    """INSPIRE cell ids (``CRS3035RES{size}mN{north}E{east}``, lower-left corner) of centres.

    Parameters
    ----------
    x, y
        Cell centres in EPSG:3035 metres.
    size_m
        Cell size in metres (100 or 1000).

    Returns
    -------
    numpy.ndarray of str
        The Zensus/INSPIRE ids, e.g. ``CRS3035RES1000mN3132000E4300000``.
    """
    half = size_m // 2
    north = (np.asarray(y, dtype=np.int64) - half).astype(str)
    east = (np.asarray(x, dtype=np.int64) - half).astype(str)
    return np.char.add(np.char.add(f"CRS3035RES{size_m}mN", north), np.char.add("E", east))


def _read_grid(path: Path, column: str, bounds: tuple[float, float, float, float]) -> pd.DataFrame:
    """Read ``x``, ``y`` and ``column`` of the cells whose centre lies in ``bounds`` (EPSG:3035)."""
    if not path.exists():
        hint = (" (the Zensus 2022 grids come from Destatis: run `erreichbar layers download`)"
                if path.parent.name == "zensus2022" else "")
        raise DataError(f"{path}: census grid file not found{hint}")
    minx, miny, maxx, maxy = bounds
    try:
        table = pq.read_table(path, columns=["x", "y", column],
                              filters=[("x", ">=", minx), ("x", "<=", maxx),
                                       ("y", ">=", miny), ("y", "<=", maxy)])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: cannot read column {column!r}: {exc}") from exc
    log.info("read %d cells of %s from %s", table.num_rows, column, path)
    return table.to_pandas()


def assign_cells(x: np.ndarray, y: np.ndarray, gemeinden: gpd.GeoDataFrame) -> np.ndarray:
    """Index of the Gemeinde whose polygon contains each cell centre (centroid assignment).

    Parameters
    ----------
    x, y
        Cell centres in EPSG:3035 metres.
    gemeinden
        Gemeinde polygons in EPSG:3035 (non-overlapping).

    Returns
    -------
    numpy.ndarray of int
        Row position in ``gemeinden`` per cell, -1 where the centre lies in none.
    """
    owner = np.full(len(x), -1, dtype=np.int64)
    for i, polygon in enumerate(gemeinden.geometry.values):  # one vectorised test per polygon
        shapely.prepare(polygon)
        inside = shapely.contains_xy(polygon, x, y) & (owner < 0)
        owner[inside] = i
    return owner


def _clip(frame: pd.DataFrame, values: list[str], size_m: int,
          gemeinden: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the cells whose centre lies in a Gemeinde; add ids, owners and cell polygons."""
    x = frame["x"].to_numpy()
    y = frame["y"].to_numpy()
    owner = assign_cells(x, y, gemeinden)
    keep = owner >= 0
    x, y, owner = x[keep], y[keep], owner[keep]
    half = size_m / 2
    out = gpd.GeoDataFrame(
        {
            "cell_id": cell_ids(x, y, size_m),
            "x": x,
            "y": y,
            **{value: frame[value].to_numpy()[keep] for value in values},
            "unit_ags": gemeinden["unit_ags"].to_numpy()[owner],
            "gemeinde_ags": gemeinden["ags"].to_numpy()[owner],
        },
        geometry=shapely.box(x - half, y - half, x + half, y + half),
        crs=METRIC_CRS,
    )
    return out.sort_values(["y", "x"], ascending=[False, True], ignore_index=True)


def read_children_100m(census: Path, gemeinden: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Census 100 m cells with children under 10 inside the given Gemeinden.

    Parameters
    ----------
    census
        Folder of the Germany-wide census grids (:func:`census_dir`).
    gemeinden
        The region's Gemeinden (``ags``, ``unit_ags``, polygons in EPSG:3035).

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id``, ``x``, ``y`` (cell centre, EPSG:3035 metres), ``children_under_10``
        (persons, >= 3: smaller counts are suppressed in the source), ``unit_ags``,
        ``gemeinde_ags``, ``geometry`` (the 100 m cell square).
    """
    grid = _read_grid(census / CHILDREN_FILE, "value", tuple(gemeinden.total_bounds))
    grid = grid.rename(columns={"value": "children_under_10"})
    grid = grid[grid["children_under_10"] >= 0]
    cells = _clip(grid, ["children_under_10"], 100, gemeinden)
    log.info("%d 100 m cells with %d children under 10 in the region",
             len(cells), cells["children_under_10"].sum())
    return cells


def read_inhabitants_1km(census: Path, gemeinden: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Census populated 1 km cells inside the given Gemeinden.

    Parameters
    ----------
    census
        Folder of the Germany-wide census grids (:func:`census_dir`).
    gemeinden
        The region's Gemeinden (``ags``, ``unit_ags``, polygons in EPSG:3035).

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id``, ``x``, ``y`` (cell centre, EPSG:3035 metres), ``inhabitants``
        (persons, > 0), ``share_under18`` (fraction 0–1 of inhabitants under 18; NaN where
        suppressed; the source gives percent), ``unit_ags``, ``gemeinde_ags``,
        ``geometry`` (the 1 km cell square).
    """
    bounds = tuple(gemeinden.total_bounds)
    grid = _read_grid(census / INHABITANTS_FILE, "Einwohner", bounds)
    share = _read_grid(census / UNDER18_FILE, "unter18_A", bounds)
    grid = grid.merge(share, on=["x", "y"], how="left", validate="one_to_one")
    grid = grid[grid["Einwohner"] > 0]
    grid = pd.DataFrame({
        "x": grid["x"], "y": grid["y"], "inhabitants": grid["Einwohner"],
        "share_under18": grid["unter18_A"].where(grid["unter18_A"] >= 0) / 100.0,
    })
    cells = _clip(grid, ["inhabitants", "share_under18"], 1000, gemeinden)
    log.info("%d populated 1 km cells with %d inhabitants in the region",
             len(cells), cells["inhabitants"].sum())
    return cells


def load_children_100m(settings: Settings) -> gpd.GeoDataFrame:
    """Children under 10 per 100 m cell of the settings' region (see :func:`read_children_100m`).

    With ``settings.population.own_file`` the counts are scaled to the table's current
    totals (float persons; census counts in ``children_under_10_census``).
    """
    cells = read_children_100m(census_dir(settings), load_units(settings, "gemeinde"))
    return _scale_to_own_table(settings, cells, "children_under_10")


def load_inhabitants_1km(settings: Settings) -> gpd.GeoDataFrame:
    """Inhabitants per 1 km cell of the settings' region (see :func:`read_inhabitants_1km`).

    With ``settings.population.own_file`` the counts are scaled to the table's current
    totals (float persons; census counts in ``inhabitants_census``).
    """
    cells = read_inhabitants_1km(census_dir(settings), load_units(settings, "gemeinde"))
    return _scale_to_own_table(settings, cells, "inhabitants")


def load_need_100m(settings: Settings) -> gpd.GeoDataFrame:
    """Load the need layers per 100 m cell of the settings' region.

    See :func:`geo.sources.need.read_need_100m`.

    Census counts as published (SAFE-perturbed, cells under 3 suppressed = NaN); they are
    not scaled to an own population table, which has no family counts.
    """
    from geo.sources.need import read_need_100m

    return read_need_100m(census_dir(settings), load_units(settings, "gemeinde"))


def _scale_to_own_table(settings: Settings, cells: gpd.GeoDataFrame,
                        value: str) -> gpd.GeoDataFrame:
    """``cells`` scaled to the settings' own population table (unchanged without one)."""
    if settings.population.own_file is None:
        return cells
    from geo.sources import population_table

    table = population_table.read_population_table(
        settings.population.own_file, load_units(settings, "unit"),
        load_units(settings, "gemeinde"))
    return population_table.scale_cells(cells, table, value)[0]


def population_basis(settings: Settings, value: str | None = None) -> str:
    """Describe the population figures in German, for reports, maps and the API.

    Parameters
    ----------
    settings
        Settings (census, ``population.own_file``).
    value
        ``inhabitants`` or ``children_under_10`` for the basis of that figure alone; None
        for the figures together.

    Returns
    -------
    str
        ``Zensus 2011 (09.05.2011)`` without an own table (or when the table has no total
        for ``value``), else ``Zensus 2011-Verteilung, skaliert auf <source>, <date>`` (with
        the figures it covers when it covers only some).

    Raises
    ------
    DataError
        The own table is missing or has bad rows.
    """
    from geo.sources import population_table

    table = None
    if settings.population.own_file is not None:
        table = population_table.read_population_table(
            settings.population.own_file, load_units(settings, "unit"),
            load_units(settings, "gemeinde"))
    return population_table.describe_basis(settings.census, table, value)


def aggregate(cells: gpd.GeoDataFrame, value: str, key: str) -> pd.Series:
    """Sum ``value`` of cells per ``key`` (``unit_ags`` or ``gemeinde_ags``), centroid-assigned.

    Returns
    -------
    pandas.Series
        Integer sums indexed by the key; keys without cells are absent.
    """
    return cells.groupby(key)[value].sum()


def unit_table(settings: Settings, inhabitants: gpd.GeoDataFrame,
               children: gpd.GeoDataFrame, level: str = "unit",
               need: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Tabulate the population per unit or Gemeinde.

    For units with an official 2019 figure: grid vs official.

    Parameters
    ----------
    settings
        Settings (region, data directory).
    inhabitants, children
        The 1 km and 100 m cells from :func:`load_inhabitants_1km` / :func:`load_children_100m`
        (scaled or not: a ``<column>_census`` column marks scaled cells).
    level
        ``unit`` or ``gemeinde``.
    need
        Optional 100 m need cells (:func:`geo.sources.need.read_need_100m`).

    Returns
    -------
    pandas.DataFrame
        ``ags``, ``name``, ``bez``, ``inhabitants`` (persons, 1 km cells by centroid),
        ``children_under_10`` (persons, 100 m cells by centroid), for scaled cells also
        ``inhabitants_census`` / ``children_under_10_census`` (the census sums; the scaled
        sums are rounded to whole persons), with ``need`` the sums of the published
        ``families_with_minors``, ``single_parent_families`` (families) and
        ``foreign_nationals`` (persons), ``youth_office`` (bool: in the county's youth-office
        area); for units also ``official_2019`` (LSN, 31.12.2019, where
        ``goettingen``-style ``population_units_2019.csv`` exists), ``difference`` (census
        grid − official) and ``difference_pct``.
    """
    key = {"unit": "unit_ags", "gemeinde": "gemeinde_ags"}[level]
    units = load_units(settings, level)
    table = pd.DataFrame({"ags": units["ags"], "name": units["name"], "bez": units["bez"]})
    sums = {column: cells for cells, value in ((inhabitants, "inhabitants"),
                                               (children, "children_under_10"))
            for column in (value, f"{value}_census") if column in cells}
    for column, cells in sums.items():
        table[column] = table["ags"].map(aggregate(cells, column, key))
    # whole persons: scaled sums (floats) are rounded, census sums are integers anyway
    table[list(sums)] = table[list(sums)].fillna(0).round().astype(np.int64)
    for column in ("families_with_minors", "single_parent_families", "foreign_nationals"):
        if need is not None:
            table[column] = table["ags"].map(aggregate(need, column, key)).fillna(0.0)
    own = get_region(settings.region).own_youth_office
    if level == "unit":  # a unit with any own-youth-office Gemeinde is not (wholly) in it
        gemeinden = load_units(settings, "gemeinde")
        own = gemeinden.loc[gemeinden["ags"].isin(own), "unit_ags"].tolist()
    table["youth_office"] = ~table["ags"].isin(own)
    if level == "unit":
        official = read_official_2019(settings, units)
        if official is not None:
            census = "inhabitants_census" if "inhabitants_census" in table else "inhabitants"
            table["official_2019"] = table["ags"].map(official).astype("Int64")
            table["difference"] = table[census] - table["official_2019"]
            table["difference_pct"] = (100 * table["difference"]
                                       / table["official_2019"]).astype(float).round(1)
    return table


def read_official_2019(settings: Settings, units: gpd.GeoDataFrame) -> pd.Series | None:
    """Official unit populations of 31.12.2019 keyed by unit ARS, or None if the file is absent.

    The file (``<region>/population_units_2019.csv``: unit, osm_relation,
    population_2019_12_31) names units like "Flecken Adelebsen" or "Samtgemeinde
    Dransfeld"; they are matched to VG5000 units by :func:`match_unit_names`.

    Raises
    ------
    DataError
        A unit name in the file matches no VG5000 unit.
    """
    path = settings.data_dir / settings.region / "population_units_2019.csv"
    if not path.exists():
        return None
    official = pd.read_csv(path, dtype={"unit": str})
    keys = match_unit_names(official["unit"], units)
    unknown = [f"row {i + 2}: {u!r}" for i, u in
               zip(np.flatnonzero(keys.isna()), official["unit"][keys.isna()], strict=True)]
    if unknown:
        raise DataError(f"{path}: field 'unit': no VG5000 unit named {'; '.join(unknown)}")
    return pd.Series(official["population_2019_12_31"].to_numpy(), index=keys.to_numpy())


#: Designations official tables put before a unit's name ("Flecken Adelebsen").
UNIT_DESIGNATIONS: Final = r"^(Flecken|Gemeinde|Stadt|Samtgemeinde|Einheitsgemeinde)\s+"


def match_unit_names(names: pd.Series, units: gpd.GeoDataFrame) -> pd.Series:
    """Return the unit ARS each name means: the VG5000 name with or without its designation.

    Parameters
    ----------
    names
        Unit names as official tables write them, e.g. "Flecken Adelebsen", "Samtgemeinde
        Dransfeld", "Göttingen".
    units
        The region's units (``ags`` = ARS, ``name`` = VG5000 name).

    Returns
    -------
    pandas.Series of str
        The ARS per name (same index), NaN where no unit has that name.
    """
    by_name = dict(zip(units["name"], units["ags"], strict=True))
    text = names.astype(str).str.strip()
    return text.map(by_name).fillna(
        text.str.replace(UNIT_DESIGNATIONS, "", regex=True).map(by_name))


def write_cog(target: Path, cells: gpd.GeoDataFrame, value: str, size_m: int,
              bounds: tuple[float, float, float, float], dtype: str, nodata: float,
              tags: dict[str, str] | None = None) -> Path:
    """Write one cell value as a Cloud-Optimised GeoTIFF aligned to the INSPIRE grid.

    Parameters
    ----------
    target
        Output ``.tif`` path (written atomically).
    cells
        Cells with centre ``x``, ``y`` (EPSG:3035 metres) and the ``value`` column.
    value
        Column to write.
    size_m
        Cell size in metres; the raster origin is snapped to multiples of it, so raster
        pixels coincide with the Zensus/INSPIRE cells.
    bounds
        Area to cover (EPSG:3035 metres), e.g. the county's total bounds; snapped outward.
    dtype
        Raster data type (``int32``, ``float32``).
    nodata
        Value of pixels without a cell (outside the region, unpopulated or suppressed).
    tags
        Optional GDAL metadata of the file, e.g. ``{"population_basis": "..."}``.

    Returns
    -------
    Path
        ``target``.
    """
    minx = np.floor(bounds[0] / size_m) * size_m
    miny = np.floor(bounds[1] / size_m) * size_m
    maxx = np.ceil(bounds[2] / size_m) * size_m
    maxy = np.ceil(bounds[3] / size_m) * size_m
    width, height = int((maxx - minx) // size_m), int((maxy - miny) // size_m)
    data = np.full((height, width), nodata, dtype=dtype)
    col = ((cells["x"].to_numpy() - minx) // size_m).astype(np.int64)
    row = ((maxy - cells["y"].to_numpy()) // size_m).astype(np.int64)
    data[row, col] = cells[value].to_numpy(dtype=dtype, na_value=nodata)
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1,
               "dtype": dtype, "crs": METRIC_CRS, "nodata": nodata,
               "transform": Affine(size_m, 0.0, minx, 0.0, -size_m, maxy)}
    with MemoryFile() as mem, mem.open(**profile) as src:
        src.write(data, 1)
        src.set_band_description(1, value)
        if tags:
            src.update_tags(**tags)
        with atomic_path(target) as tmp:
            rasterio.shutil.copy(src, tmp, driver="COG", compress="DEFLATE",
                                 blocksize=256, overview_resampling="nearest")
    log.info("wrote %s (%d x %d px of %d m)", target, width, height, size_m)
    return target
