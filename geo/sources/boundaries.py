"""Administrative boundaries of a county from BKG VG5000: county, municipal units, Gemeinden.

Levels (column ``level``):

``county``
    the Landkreis (VG5000_KRS), ``ags`` = 5-digit key, e.g. ``03159``.
``unit``
    municipal units (VG5000_VWG): Samtgemeinden, Einheitsgemeinden and the unincorporated
    areas (gemeindefreie Gebiete). Verwaltungsgemeinschaften have no AGS, so ``ags`` holds
    their 9-digit regional key (ARS), e.g. ``031590016`` (Göttingen), ``031595401``
    (Samtgemeinde Dransfeld).
``gemeinde``
    Gemeinden (VG5000_GEM, incl. gemeindefreie Gebiete), ``ags`` = 8-digit AGS, e.g.
    ``03159016``; ``unit_ags`` = the ARS of the unit they belong to.
``youth_office``
    the youth-office area (Jugendamtsbezirk) of the county: the county minus the
    municipalities with their own Jugendamt (``Region.own_youth_office``), one row.

All frames are returned in EPSG:3035 (ETRS89-LAEA, metres), the CRS of the Zensus grid.
VG5000 is generalised for 1:5,000,000; borders are off by up to several hundred metres.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import geopandas as gpd
import pandas as pd
import shapely

from geo.errors import DataError, RegionError
from geo.settings import Settings, get_region
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

#: CRS of every frame this module returns (ETRS89-LAEA Europe, metres).
#: Levels read from VG5000 and the VG5000 layer each comes from.
VG5000_LAYERS: Final[dict[str, str]] = {"county": "KRS", "unit": "VWG", "gemeinde": "GEM"}
#: Folder of the Germany-wide VG5000 shapefiles inside the data directory.
VG5000_DIR: Final = Path("germany") / "vg5000"


def vg5000_files(data_dir: Path) -> list[Path]:
    """Return the VG5000 files the boundaries are read from (for cache keys).

    Parameters
    ----------
    data_dir
        The data directory.

    Returns
    -------
    list of Path
        ``.shp``, ``.dbf``, ``.shx`` and ``.prj`` of the KRS, VWG and GEM layers.
    """
    return [data_dir / VG5000_DIR / f"VG5000_{layer}.{ext}"
            for layer in VG5000_LAYERS.values() for ext in ("shp", "dbf", "shx", "prj")]


def read_vg5000(data_dir: Path, county_ars: str, level: str) -> gpd.GeoDataFrame:
    """Read one VG5000 level of one county from the Germany-wide shapefiles.

    Parameters
    ----------
    data_dir
        The data directory holding ``germany/vg5000/VG5000_{KRS,VWG,GEM}.shp``.
    county_ars
        5-digit regional key (ARS = AGS at county level) of any German county, e.g. ``03159``.
    level
        ``county``, ``unit`` or ``gemeinde``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``ags``, ``ars``, ``name``, ``bez`` (official designation), ``level``,
        ``unit_ags`` (gemeinde level only), ``geometry`` in EPSG:3035, sorted by ``ars``.

    Raises
    ------
    DataError
        The shapefile is missing or unreadable.
    RegionError
        No feature has the key ``county_ars``.
    """
    if level not in VG5000_LAYERS:
        raise RegionError(f"unknown boundary level {level!r}; use one of "
                          f"{', '.join([*VG5000_LAYERS, 'youth_office'])}")
    if not (len(county_ars) == 5 and county_ars.isdigit()):
        raise RegionError(f"county key {county_ars!r} is not a 5-digit ARS/AGS like '03159'")
    path = data_dir / VG5000_DIR / f"VG5000_{VG5000_LAYERS[level]}.shp"
    if not path.exists():
        raise DataError(f"{path}: VG5000 shapefile not found (BKG VG5000, 01.01.2021)")
    try:
        raw = gpd.read_file(path, where=f"ARS LIKE '{county_ars}%'",
                            columns=["ARS", "AGS", "GEN", "BEZ"])
    except Exception as exc:  # pyogrio raises several error types for corrupt files
        raise DataError(f"{path}: cannot read VG5000 shapefile: {exc}") from exc
    if raw.empty:
        raise RegionError(f"{path}: no {level} with regional key {county_ars!r} "
                          "(is it a German county key?)")
    frame = gpd.GeoDataFrame(
        {
            "ags": raw["ARS"] if level == "unit" else raw["AGS"],
            "ars": raw["ARS"],
            "name": raw["GEN"],
            "bez": raw["BEZ"],
            "level": level,
        },
        geometry=raw.geometry.values,
        crs=raw.crs,
    ).to_crs(METRIC_CRS)
    if level == "gemeinde":
        frame.insert(4, "unit_ags", frame["ars"].str[:9])
    frame = frame.sort_values("ars", ignore_index=True)
    log.info("read %d %s features of %s from %s", len(frame), level, county_ars, path)
    return frame


def youth_office_area(county: gpd.GeoDataFrame, gemeinden: gpd.GeoDataFrame,
                      own_youth_office: list[str]) -> gpd.GeoDataFrame:
    """Return the county's youth-office area.

    That is the county minus the municipalities with their own Jugendamt.

    Parameters
    ----------
    county
        One-row frame of the county (level ``county``), EPSG:3035.
    gemeinden
        The county's Gemeinden (level ``gemeinde``), EPSG:3035.
    own_youth_office
        8-digit AGS of the Gemeinden with their own youth office (e.g. ``["03159016"]``,
        Stadt Göttingen). Empty: the area is the whole county.

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``ags`` = county key, ``name``, ``level`` = ``youth_office``,
        ``excluded_ags`` (comma-separated), ``geometry`` (EPSG:3035).

    Raises
    ------
    RegionError
        An AGS in ``own_youth_office`` is not a Gemeinde of the county.
    """
    unknown = sorted(set(own_youth_office) - set(gemeinden["ags"]))
    if unknown:
        raise RegionError(f"own_youth_office lists {', '.join(unknown)}, which are not "
                          f"Gemeinden of county {county['ags'].iloc[0]}")
    excluded = gemeinden[gemeinden["ags"].isin(own_youth_office)]
    # VG5000 levels share their vertices, so the difference leaves no slivers.
    geometry = shapely.difference(county.geometry.iloc[0],
                                  shapely.union_all(excluded.geometry.values))
    name = f"{county['bez'].iloc[0]} {county['name'].iloc[0]}"
    if len(excluded):
        name += f" ohne {', '.join(excluded['bez'] + ' ' + excluded['name'])}"
    return gpd.GeoDataFrame(
        {"ags": [county["ags"].iloc[0]], "name": [name], "level": ["youth_office"],
         "excluded_ags": [",".join(excluded["ags"])]},
        geometry=[geometry], crs=county.crs,
    )


def load_units(settings: Settings, level: str) -> gpd.GeoDataFrame:
    """Boundaries of the settings' region at one level.

    Parameters
    ----------
    settings
        Settings; ``settings.region`` names the region, ``settings.data_dir`` the data.
    level
        ``county``, ``unit``, ``gemeinde`` or ``youth_office`` (see module docstring).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``ags``, ``name``, ``level``, ``geometry`` (EPSG:3035) and per level
        ``ars``, ``bez``, ``unit_ags`` or ``excluded_ags``.
    """
    region = get_region(settings.region)
    if level == "youth_office":
        county = read_vg5000(settings.data_dir, region.ags, "county")
        gemeinden = read_vg5000(settings.data_dir, region.ags, "gemeinde")
        return youth_office_area(county, gemeinden, region.own_youth_office)
    return read_vg5000(settings.data_dir, region.ags, level)


def all_levels(settings: Settings) -> gpd.GeoDataFrame:
    """All four levels of the region in one frame (for export), EPSG:3035."""
    frames = [load_units(settings, level) for level in (*VG5000_LAYERS, "youth_office")]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=METRIC_CRS)
