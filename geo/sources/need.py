"""Need layers from the census: families with minors, single parents, foreign nationals.

The 100 m counts come from the Germany-wide census grids of the configured census (files
``families_FAMTYP_KIND_{2,5,8,10,12}.parquet`` and ``demography_STAATSANGE_KURZ_2.parquet``:
``value`` = count, ``quality``, ``x``/``y`` = cell centre in EPSG:3035) and are clipped to the
region exactly like the children grid (:func:`geo.sources.population.read_children_100m`): a
cell belongs to the Gemeinde containing its centre.

What the 100 m counts are, and are not
--------------------------------------
* They are **SAFE-perturbed** (Zensus 2011 secrecy procedure): each published count may
  differ from the true count by a small random amount; sums over many cells are close.
* A count below 3 is **not published**: the cell is absent from the source file. Here such a
  count is NaN, never 0: an absent count is unknown (0, 1 or 2), not zero.
* ``families_with_minors`` is the sum of the *published* family types of a cell (married,
  registered, unmarried couples, single fathers, single mothers, each with a child under
  18). Where some types are suppressed it is a **lower bound**; NaN where none is published.
  ``single_parent_families`` likewise (single fathers + single mothers).
* **No share column at 100 m**: a share of two perturbed counts of which either may be
  suppressed (e.g. single parents / families with minors) is not exact and is biased
  upwards where the denominator misses suppressed types. Shares are published by the
  census itself on the 1 km grid (``share_foreign_nationals``); compute other shares over
  whole areas (sums of many cells), not per cell.

1 km indicators (negative source values = suppressed → NaN) are joined to the populated
1 km cells by :func:`add_indicators_1km`: share of foreign nationals and vacancy rate as
fractions 0–1 (the source gives percent), mean household size in persons.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.sources.population import _clip, _read_grid

log = logging.getLogger(__name__)

#: Core-family types with at least one child under 18 ("Typ der Kernfamilie (nach Kindern)",
#: FAMTYP_KIND code → column).
FAMILY_TYPES: Final[dict[int, str]] = {
    2: "couples_married_with_minor",
    5: "couples_registered_with_minor",
    8: "couples_unmarried_with_minor",
    10: "single_fathers_with_minor",
    12: "single_mothers_with_minor",
}
#: The single-parent types among :data:`FAMILY_TYPES`.
SINGLE_PARENT_TYPES: Final[tuple[int, ...]] = (10, 12)
#: 100 m persons with a foreign nationality (STAATSANGE_KURZ code 2).
FOREIGN_FILE: Final = "demography_STAATSANGE_KURZ_2.parquet"
#: The 100 m need columns (counts; NaN = not published).
NEED_COLUMNS: Final[tuple[str, ...]] = (
    "families_with_minors", "single_parent_families", "foreign_nationals")
#: 1 km indicators: output column → (file, source column, factor to the output unit).
INDICATORS_1KM: Final[dict[str, tuple[str, str, float]]] = {
    "share_foreign_nationals": ("continuous_Auslaender_A.parquet", "Auslaender_A", 0.01),
    "mean_household_size": ("continuous_HHGroesse_D.parquet", "HHGroesse_D", 1.0),
    "vacancy_rate": ("continuous_Leerstandsquote.parquet", "Leerstandsquote", 0.01),
}


def family_file(code: int) -> str:
    """File name of one core-family type's 100 m counts, e.g. ``families_FAMTYP_KIND_2.parquet``."""
    return f"families_FAMTYP_KIND_{code}.parquet"


def need_files(census: Path) -> list[Path]:
    """Return the census files the need layers are read from (for cache keys).

    Parameters
    ----------
    census
        Folder of the Germany-wide census grids (:func:`geo.sources.population.census_dir`).

    Returns
    -------
    list of Path
        The five family-type files, the foreign-nationals file and the three 1 km indicators.
    """
    names = [family_file(code) for code in FAMILY_TYPES] + [FOREIGN_FILE]
    names += [file for file, _, _ in INDICATORS_1KM.values()]
    return [census / name for name in names]


def read_need_100m(census: Path, gemeinden: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Census 100 m cells with families with minors, single parents or foreign nationals.

    Parameters
    ----------
    census
        Folder of the Germany-wide census grids (:func:`geo.sources.population.census_dir`).
    gemeinden
        The region's Gemeinden (``ags``, ``unit_ags``, polygons in EPSG:3035).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell with any published count: ``cell_id``, ``x``, ``y`` (cell centre,
        EPSG:3035 metres), the five :data:`FAMILY_TYPES` columns (families, NaN = not
        published), ``families_with_minors`` (families with a child under 18: sum of the
        published types, a lower bound where some are suppressed, NaN where none is
        published), ``single_parent_families`` (single fathers + single mothers, same rule),
        ``foreign_nationals`` (persons, NaN = not published), ``unit_ags``,
        ``gemeinde_ags``, ``geometry`` (the 100 m square). Counts are float (NaN) and
        SAFE-perturbed; cells with fewer than 3 are not published. No share column: see the
        module docstring.
    """
    bounds = tuple(gemeinden.total_bounds)
    sources = {name: census / family_file(code) for code, name in FAMILY_TYPES.items()}
    sources["foreign_nationals"] = census / FOREIGN_FILE
    long = pd.concat([_read_grid(path, "value", bounds).assign(name=name)
                      for name, path in sources.items()], ignore_index=True)
    long = long[long["value"] >= 0]  # negative = suppressed / no data
    grid = (long.pivot(index=["x", "y"], columns="name", values="value")
            .reindex(columns=list(sources)).astype(float).reset_index())
    types = list(FAMILY_TYPES.values())
    grid["families_with_minors"] = grid[types].sum(axis=1, min_count=1)
    singles = [FAMILY_TYPES[code] for code in SINGLE_PARENT_TYPES]
    grid["single_parent_families"] = grid[singles].sum(axis=1, min_count=1)
    cells = _clip(grid, [*types, *NEED_COLUMNS], 100, gemeinden)
    log.info("%d 100 m need cells: %s", len(cells),
             ", ".join(f"{c} {cells[c].sum():,.0f}" for c in NEED_COLUMNS))
    return cells


def add_indicators_1km(cells: gpd.GeoDataFrame, census: Path) -> gpd.GeoDataFrame:
    """Join the 1 km census indicators to 1 km cells (by cell centre).

    Parameters
    ----------
    cells
        1 km cells with ``x``, ``y`` (centre, EPSG:3035 metres), e.g. from
        :func:`geo.sources.population.read_inhabitants_1km`.
    census
        Folder of the Germany-wide census grids.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cells`` (same rows, same order) plus ``share_foreign_nationals`` (fraction 0–1 of
        inhabitants with a foreign nationality), ``mean_household_size`` (persons per
        private household) and ``vacancy_rate`` (fraction 0–1 of dwellings vacant); NaN
        where the source suppresses the value (negative) or lists no value.
    """
    x, y = cells["x"].to_numpy(), cells["y"].to_numpy()
    bounds = (x.min(), y.min(), x.max(), y.max()) if len(cells) else (0.0, 0.0, -1.0, -1.0)
    out = cells.copy()
    index = pd.MultiIndex.from_arrays([x, y])
    for column, (file, source, factor) in INDICATORS_1KM.items():
        grid = _read_grid(census / file, source, bounds)
        values = pd.Series(grid[source].to_numpy(dtype=float),
                           index=pd.MultiIndex.from_frame(grid[["x", "y"]]))
        values = values[~values.index.duplicated()]
        joined = values.reindex(index).to_numpy()
        out[column] = np.where(joined >= 0, joined * factor, np.nan)
    return out
