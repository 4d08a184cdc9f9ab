"""The batch job behind ``erreichbar access compute``.

Every surface, cell table, coverage table and minute raster of a region, written
atomically beside the other derived data.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._io import BuildManifest, atomic_path, clean_stray_tmp, files_digest
from geo.engine.access import GRIDS, Accessibility
from geo.networks.network import network_dir
from geo.settings import Settings
from geo.sources.need import NEED_COLUMNS
from geo.sources.population import write_cog
from geo.vocabulary import CATEGORIES, LEVELS, METRIC_CRS, MODES, STREET_MODES

log = logging.getLogger(__name__)


def access_dir(settings: Settings) -> Path:
    """Folder of the accessibility outputs of the settings' region."""
    return network_dir(settings).parent / "access"


def compute(settings: Settings, engine: Accessibility | None = None) -> dict[str, Any]:
    """Compute every (category, mode) surface and write the outputs.

    Writes to :func:`access_dir`: ``minutes_<category>_<mode>.tif`` (COG, float32 minutes
    on the 100 m Zensus grid, EPSG:3035, nodata -1), ``cells.parquet`` (GeoParquet long
    form, the cells behind every coverage figure: :meth:`Accessibility.cells` of both
    grids, ``grid`` = ``children`` (100 m), ``inhabitants`` (1 km) or ``need`` (100 m),
    centre points),
    ``coverage.parquet`` (GeoParquet, every level × category × mode, weighted by children,
    inhabitants and the need layers: families with minors, single-parent families,
    foreign nationals) and
    ``supply_kita.parquet`` (E2SFCA per children cell and street mode). Every file is
    written to a temporary name and renamed: readers never see half a file.

    Optional modes (``transit``, window median) join the outputs when their data is there
    (a timetable loaded for the region); otherwise they are skipped and ``skipped_modes``
    says why and how to load one.

    Parameters
    ----------
    settings
        Region, data and work directories.
    engine
        The engine to use (default: a new one on ``settings``).

    Returns
    -------
    dict
        CLI summary: ``surfaces``, ``seconds`` (wall time), ``surface_seconds`` (time of
        the travel times alone), ``coverage`` (county figures per category and mode),
        ``skipped`` (categories without active offers), ``skipped_modes`` (``{mode:
        reason}``), ``not_connected``, ``supply_basis``, ``outputs``.
    """
    t0 = time.perf_counter()
    acc = engine or Accessibility(settings)
    folder = access_dir(settings)
    manifest = _start(folder)
    available = acc.categories()
    skipped = {c: "no active offers" for c in CATEGORIES if c not in available}
    for c in skipped:
        log.warning("category %s skipped: no active offers in %s", c, acc.region.title)
    modes, skipped_modes = _modes(acc)
    cells: list[pd.DataFrame] = []
    tables: list[gpd.GeoDataFrame] = []
    summary: dict[str, dict[str, dict[str, float]]] = {}
    t_surf = 0.0
    bounds = tuple(acc.units("county").total_bounds)
    for category in available:
        summary[category] = {}
        for mode in modes:
            t1 = time.perf_counter()
            acc.engine(mode).cell_minutes(category, "children")
            t_surf += time.perf_counter() - t1
            cells += [acc.cells(category, mode, grid).assign(grid=grid) for grid in GRIDS]
            tables += [acc.coverage(level, category, mode, weight=NEED_COLUMNS)
                       for level in LEVELS]
            county = tables[-len(LEVELS)].iloc[0]
            summary[category][mode] = {k: round(float(county[k]), 4) for k in county.index
                                       if k.startswith(("children_", "inhabitants_within_",
                                                        "single_parent_families_within_"))}
            write_cog(folder / f"minutes_{category}_{mode}.tif",
                      acc.raster_minutes(category, mode), "minutes", 100, bounds,
                      "float32", -1.0)
    long = pd.concat(cells, ignore_index=True)
    long["minutes"] = long["minutes"].where(np.isfinite(long["minutes"]))
    _write_parquet(gpd.GeoDataFrame(long, geometry=gpd.points_from_xy(long["x"], long["y"]),
                                    crs=METRIC_CRS), folder / "cells.parquet")
    _write_parquet(gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), crs=METRIC_CRS),
                   folder / "coverage.parquet")
    not_connected = {mode: counts for mode in MODES
                     if (counts := acc.engine(mode).not_connected(available)) is not None}
    result = {"surfaces": len(available) * len(modes),
              "seconds": round(time.perf_counter() - t0, 2),
              "surface_seconds": round(t_surf, 3), "coverage": summary, "skipped": skipped,
              "skipped_modes": skipped_modes, "not_connected": not_connected,
              "supply_basis": _supply(acc, available, folder), "outputs": str(folder)}
    _record(manifest, settings, result)
    return result


def _start(folder: Path) -> BuildManifest:
    """Prepare the output folder: no manifest while the run writes, no stray temp files."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = BuildManifest(folder / "manifest.json")
    manifest.invalidate()  # a killed run leaves no manifest: its outputs are not trusted
    clean_stray_tmp(folder)
    return manifest


def _record(manifest: BuildManifest, settings: Settings, result: dict[str, Any]) -> None:
    """Write the manifest of a finished run: every output of the folder with its hash."""
    digest = files_digest([network_dir(settings) / "manifest.json"],
                          extra=settings.access.model_dump_json())
    manifest.record(digest, sorted(p for p in manifest.folder.iterdir()
                                   if p.is_file() and p != manifest.path), result)


def _modes(acc: Accessibility) -> tuple[list[str], dict[str, str]]:
    """Load every mode; return those that load and the reason per optional mode skipped."""
    modes: list[str] = []
    skipped: dict[str, str] = {}
    for mode in MODES:
        why = acc.missing(mode)
        if why is not None:
            skipped[mode] = why
            log.warning("mode %s skipped: %s", mode, why)
            continue
        modes.append(mode)
    return modes, skipped


def _supply(acc: Accessibility, available: list[str], folder: Path) -> dict[str, str]:
    """Write ``supply_kita.parquet`` (E2SFCA per street mode) when there are Kitas.

    Returns the basis of the supply figures per mode.
    """
    if "kita" not in available:
        return {}
    supplies = [acc.supply("kita", mode) for mode in STREET_MODES]
    _write_parquet(gpd.GeoDataFrame(pd.concat([s.cells for s in supplies], ignore_index=True),
                                    crs=METRIC_CRS), folder / "supply_kita.parquet")
    return {mode: s.basis for mode, s in zip(STREET_MODES, supplies, strict=True)}


def _write_parquet(frame: gpd.GeoDataFrame, target: Path) -> None:
    """Write ``frame`` as GeoParquet to ``target`` atomically."""
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp)
