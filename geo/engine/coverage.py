"""Coverage: which share of the children (or inhabitants) of an area reach an offer in time.

Cells belong to areas by their centre (see :mod:`geo.sources.population`): ``unit``/``gemeinde``
by the cells' ``unit_ags``/``gemeinde_ags``, ``youth_office`` = every cell whose Gemeinde
is not excluded from the county's youth-office area, ``county`` = all cells.

Figures per area and weight (``children`` = Zensus 100 m under-10s, ``inhabitants`` =
Zensus 1 km inhabitants):

* ``<w>_within_<m>min_share``: weight whose time is at most ``m`` minutes / all weight
  of the area. Not connected and unreachable cells count as not within.
* ``<w>_mean_minutes``, ``<w>_median_minutes``, ``<w>_p90_minutes``: weighted over the
  cells *with* a finite time (the others are counted separately).
* ``<w>_beyond_<t>min``: weight beyond the white-spot threshold ``t`` (incl. unreachable
  and not connected) — the white spots.
* ``<w>_not_connected``: weight in cells farther than the snap cut-off from the network.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import AccessInputError
from geo.vocabulary import Level


def area_keys(cells: pd.DataFrame, level: str, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Give every cell the ``ags`` of its area at ``level`` (None where in no area).

    Parameters
    ----------
    cells
        Cells with ``unit_ags`` and ``gemeinde_ags``.
    level
        One of :class:`geo.vocabulary.Level`.
    areas
        The areas of that level (:func:`geo.sources.boundaries.load_units`).
    """
    if level == "unit":
        return cells["unit_ags"].to_numpy(dtype=object)
    if level == "gemeinde":
        return cells["gemeinde_ags"].to_numpy(dtype=object)
    if level == "county":
        return np.full(len(cells), areas["ags"].iloc[0], dtype=object)
    if level == "youth_office":
        excluded = str(areas["excluded_ags"].iloc[0]).split(",")
        keys = np.full(len(cells), None, dtype=object)
        keys[~cells["gemeinde_ags"].isin(excluded).to_numpy()] = areas["ags"].iloc[0]
        return keys
    raise AccessInputError(f"unknown level {level!r}; levels: {', '.join(Level)}")


def _weighted_quantiles(frame: pd.DataFrame, qs: Sequence[float]) -> pd.DataFrame:
    """Weighted quantiles of ``minutes`` per ``key`` (rows sorted by key, minutes).

    The quantile q is the smallest time at which the cumulative weight reaches q of the
    group's total weight.
    """
    grouped = frame.groupby("key", sort=False)["weight"]
    cum = grouped.cumsum().to_numpy()
    total = grouped.transform("sum").to_numpy()
    out = {}
    for q in qs:
        hit = frame.loc[cum >= q * total - 1e-9, ["key", "minutes"]]
        out[q] = hit.groupby("key", sort=False)["minutes"].first()
    return pd.DataFrame(out)


def summarise(minutes: np.ndarray, connected: np.ndarray, weight: np.ndarray,
              key: np.ndarray, name: str, thresholds: Sequence[int],
              white_spot: int) -> pd.DataFrame:
    """Coverage figures of one weight per area key (see the module docstring).

    Parameters
    ----------
    minutes
        Time per cell, minutes (inf = unreachable or not connected).
    connected
        bool per cell: within the snap cut-off.
    weight
        Persons per cell.
    key
        Area per cell (None = in no area; left out).
    name
        Prefix of the columns (``children``, ``inhabitants``).
    thresholds
        Minutes of the ``_within_`` shares.
    white_spot
        Minutes of the ``_beyond_`` count.

    Returns
    -------
    pandas.DataFrame
        One row per key (index ``ags``).
    """
    frame = pd.DataFrame({"key": key, "minutes": minutes, "weight": weight.astype(float),
                          "connected": connected})
    frame = frame[frame["key"].notna()]
    by = frame.groupby("key")
    total = by["weight"].sum()
    cols: dict[str, pd.Series] = {name: total}
    for m in thresholds:
        within = frame["weight"].where(frame["minutes"] <= m, 0.0)
        cols[f"{name}_within_{m}min_share"] = within.groupby(frame["key"]).sum() / total
    finite = frame[np.isfinite(frame["minutes"])].sort_values(["key", "minutes"])
    fw = finite["weight"] * finite["minutes"]
    cols[f"{name}_mean_minutes"] = (fw.groupby(finite["key"]).sum()
                                    / finite.groupby("key")["weight"].sum())
    quant = _weighted_quantiles(finite, (0.5, 0.9))
    cols[f"{name}_median_minutes"] = quant[0.5]
    cols[f"{name}_p90_minutes"] = quant[0.9]
    beyond = frame["weight"].where(~(frame["minutes"] <= white_spot), 0.0)
    cols[f"{name}_beyond_{white_spot}min"] = beyond.groupby(frame["key"]).sum()
    cols[f"{name}_not_connected"] = (frame["weight"].where(~frame["connected"], 0.0)
                                     .groupby(frame["key"]).sum())
    out = pd.DataFrame(cols)
    out.index.name = "ags"
    return out


def table(areas: gpd.GeoDataFrame, level: str, parts: Sequence[pd.DataFrame]
          ) -> gpd.GeoDataFrame:
    """Join areas (``ags``, ``name``, ``level``, geometry) with summaries by ``ags``.

    Areas without cells get zero weights and NaN figures.
    """
    out = areas[["ags", "name", "geometry"]].copy()
    out.insert(2, "level", level)
    for part in parts:
        out = out.merge(part, left_on="ags", right_index=True, how="left")
    counts = [c for c in out.columns
              if c in ("children", "inhabitants") or "_beyond_" in c or c.endswith("_connected")]
    out[counts] = out[counts].fillna(0.0)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=areas.crs)
