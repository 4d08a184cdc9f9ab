"""``erreichbar layers build``: boundaries, population grids and offers of a region on disk.

Everything goes to ``<processed>/<region>/layers/`` (atomic writes):

* ``boundaries.gpkg`` — layers ``county``, ``unit``, ``gemeinde``, ``youth_office`` (EPSG:3035)
* ``inhabitants_1km.parquet`` (with the 1 km indicators ``share_under18``,
  ``share_foreign_nationals``, ``mean_household_size``, ``vacancy_rate``),
  ``children_100m.parquet``, ``need_100m.parquet`` (families with minors, single-parent
  families, foreign nationals; :mod:`geo.sources.need`) — census cells (GeoParquet,
  EPSG:3035); the population cells carry ``population_basis``
* ``inhabitants_1km.tif``, ``share_under18_1km.tif``, ``share_foreign_nationals_1km.tif``,
  ``mean_household_size_1km.tif``, ``vacancy_rate_1km.tif``, ``children_under10_100m.tif``,
  ``families_with_minors_100m.tif``, ``single_parent_families_100m.tif``,
  ``foreign_nationals_100m.tif`` — Cloud-Optimised GeoTIFFs on the INSPIRE grid
  (EPSG:3035, nodata −1; population GeoTIFFs tagged with ``population_basis``)
* ``population_units.csv``, ``population_gemeinden.csv`` — sums per unit / Gemeinde
  (units: with the official 2019 population and the difference)

With a county's own population table (``--population FILE`` or
``settings.population.own_file``, :mod:`geo.sources.population_table`) inhabitants (1 km)
and children (100 m) are scaled to its totals; the summary's ``population_basis`` says so.
* ``offers.geojson``, ``offers.parquet``, ``offers.csv`` — the offer catalogue (EPSG:4326)
* ``offer_tile_changes.csv`` — what differs between the 2021 and 2026 tile POIs
* ``offer_merged.csv`` — duplicate Kitas merged (:func:`geo.sources.offer_quality.dedupe`)
* ``manifest.json`` — input digest and the summary; a build with unchanged inputs and
  settings returns this summary without rebuilding.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo._io import BuildManifest, atomic_path, clean_stray_tmp, files_digest, neutralise_frame
from geo.settings import Region, Settings, get_region
from geo.sources.boundaries import load_units, vg5000_files
from geo.sources.population_table import PopulationTable, read_population_table
from geo.vocabulary import CATEGORIES, LEVELS

log = logging.getLogger(__name__)

#: Bumped when the layout or meaning of the outputs changes (part of the cache key).
FORMAT_VERSION = 3


def layers_dir(settings: Settings) -> Path:
    """Folder of the built layers of the settings' region."""
    return settings.processed_dir / get_region(settings.region).name / "layers"


def build_layers(settings: Settings, offers_file: Path | None = None,
                 force: bool = False, population_file: Path | None = None) -> dict[str, Any]:
    """Build and store all data layers of the settings' region.

    Parameters
    ----------
    settings
        Settings (region, data directory, work directory).
    offers_file
        A county's own offer list (CSV/XLSX/GeoJSON, see
        :func:`geo.sources.offers.read_offer_file`), added to the default catalogue. Any bad
        row stops the build with a full report.
    force
        Rebuild even when inputs and settings are unchanged.
    population_file
        A county's own population table (CSV/XLSX, see
        :mod:`geo.sources.population_table`; default ``settings.population.own_file``): the
        census cells are scaled to its totals. Any bad row stops the build with a full report.

    Returns
    -------
    dict
        The JSON summary: ``units``, ``gemeinden``, ``census`` (which census and its day),
        ``population_basis`` (German description of the population figures: census or
        scaled to the own table), ``population_scaling`` (per figure, see
        :func:`geo.sources.population_table.scale_cells`; empty without a table),
        ``population`` (inhabitants, 1 km cells by centre), ``children_under_10`` (100 m
        cells by centre), ``families_with_minors``, ``single_parent_families``,
        ``foreign_nationals`` (sums of the published 100 m counts), ``offers`` (active offers
        per category), ``offers_planned``, ``offers_closed``, ``offers_unlocated``,
        ``tile_changes``, ``youth_office_area`` (``population``, ``children_under_10``,
        ``excluded``), ``units_grid_vs_official``, ``out_dir``.
    """
    from geo.sources import offers as offer_mod
    from geo.sources import population as pop
    from geo.sources.need import need_files

    offers_file = offers_file or settings.offers.own_file
    population_file = population_file or settings.population.own_file
    region = get_region(settings.region)
    out = layers_dir(settings)
    census = pop.census_dir(settings)
    inputs = [*vg5000_files(settings.data_dir), *pop.population_files(census),
              *need_files(census), *offer_mod.default_inputs(settings)]
    official = settings.data_dir / region.name / "population_units_2019.csv"
    inputs += [Path(p) for p in (official, offers_file, population_file)
               if p is not None and Path(p).is_file()]
    digest = files_digest(inputs, extra=json.dumps([
        FORMAT_VERSION, region.model_dump(), settings.offers.model_dump(mode="json"),
        settings.census.model_dump(), str(offers_file), str(population_file)]))
    manifest = BuildManifest(out / "manifest.json")
    clean_stray_tmp(out)
    if not force and (stored := manifest.is_current(digest, verify="size")) is not None:
        log.info("layers of %s are up to date (%s)", region.name, manifest.path)
        return stored

    levels = {level: load_units(settings, level) for level in LEVELS}
    table = (read_population_table(population_file, levels["unit"], levels["gemeinde"])
             if population_file is not None else None)  # a bad table stops before any write
    manifest.invalidate()  # a build killed from here on never looks current
    _write_boundaries(levels, out)
    summary: dict[str, Any] = {
        "region": region.name,
        "census": {"name": settings.census.title,
                   "census_day": settings.census.census_day.isoformat()},
        "units": len(levels["unit"]),
        "gemeinden": len(levels["gemeinde"]),
    }
    summary |= _write_population(settings, region, levels, table, out)
    summary |= _write_offers(settings, offers_file, out)
    summary["out_dir"] = str(out)
    outputs = sorted(p for p in out.iterdir() if p.is_file() and p != manifest.path)
    manifest.record(digest, outputs, summary)
    log.info("layers of %s written to %s (%d files)", region.name, out, len(outputs))
    return summary


def _write_boundaries(levels: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    """Write ``boundaries.gpkg`` (one layer per level)."""
    with atomic_path(out / "boundaries.gpkg") as tmp:
        gpkg = tmp.with_name(tmp.name + ".gpkg")  # GDAL wants the extension
        for level, frame in levels.items():
            frame.to_file(gpkg, layer=level, driver="GPKG")
        os.replace(gpkg, tmp)


def _read_population(settings: Settings, levels: dict[str, gpd.GeoDataFrame],
                     table: PopulationTable | None) -> dict[str, Any]:
    """Read the census cells (1 km with indicators, 100 m children, 100 m need).

    They are scaled to the own table if there is one. Return them with their bases and the
    scaling reports.
    """
    from geo.sources import need
    from geo.sources import population as pop
    from geo.sources import population_table as pt

    census, gemeinden = pop.census_dir(settings), levels["gemeinde"]
    cells = {"inhabitants": need.add_indicators_1km(
                 pop.read_inhabitants_1km(census, gemeinden), census),
             "children_under_10": pop.read_children_100m(census, gemeinden)}
    scaling: dict[str, Any] = {}
    for value in pt.VALUES:
        if table is not None:
            cells[value], scaling[value] = pt.scale_cells(cells[value], table, value)
        cells[value]["population_basis"] = pt.describe_basis(settings.census, table, value)
    need_cells = need.read_need_100m(census, gemeinden)
    need_cells["population_basis"] = pt.describe_basis(settings.census, None)
    return {"inhabitants": cells["inhabitants"], "children": cells["children_under_10"],
            "need": need_cells, "scaling": scaling,
            "basis": pt.describe_basis(settings.census, table)}


def _write_population(settings: Settings, region: Region, levels: dict[str, gpd.GeoDataFrame],
                      table: PopulationTable | None, out: Path) -> dict[str, Any]:
    """Write the population and need layers; return their part of the summary."""
    from geo.sources import population as pop

    data = _read_population(settings, levels, table)
    inhabitants, children, need_cells = data["inhabitants"], data["children"], data["need"]
    for name, frame in (("inhabitants_1km", inhabitants), ("children_100m", children),
                        ("need_100m", need_cells)):
        with atomic_path(out / f"{name}.parquet") as tmp:
            frame.to_parquet(tmp)
    bounds = tuple(levels["county"].total_bounds)
    rasters = [("inhabitants_1km", inhabitants, "inhabitants", 1000),
               ("children_under10_100m", children, "children_under_10", 100)]
    rasters += [(f"{c}_1km", inhabitants, c, 1000) for c in (
        "share_under18", "share_foreign_nationals", "mean_household_size", "vacancy_rate")]
    rasters += [(f"{c}_100m", need_cells, c, 100) for c in (
        "families_with_minors", "single_parent_families", "foreign_nationals")]
    for name, frame, value, size in rasters:
        whole = pd.api.types.is_integer_dtype(frame[value]) or value in need_cells
        counts = size == 100 or value == "inhabitants"  # not the 1 km indicators
        tags = ({"population_basis": str(frame["population_basis"].iloc[0])}
                if counts and len(frame) else None)
        pop.write_cog(out / f"{name}.tif", frame, value, size, bounds,
                      "int32" if whole else "float32", -1, tags=tags)
    units = pop.unit_table(settings, inhabitants, children, "unit", need_cells)
    gemeinde_table = pop.unit_table(settings, inhabitants, children, "gemeinde", need_cells)
    for name, frame in (("population_units", units), ("population_gemeinden", gemeinde_table)):
        frame["population_basis"] = data["basis"]
        with atomic_path(out / f"{name}.csv") as tmp:
            neutralise_frame(frame).to_csv(tmp, index=False)
    census_column = "inhabitants_census" if "inhabitants_census" in units else "inhabitants"
    in_area = ~children["gemeinde_ags"].isin(region.own_youth_office)
    in_area_1km = ~inhabitants["gemeinde_ags"].isin(region.own_youth_office)
    return {
        "population_basis": data["basis"],
        "population_scaling": data["scaling"],
        "population": round(float(inhabitants["inhabitants"].sum())),
        "children_under_10": round(float(children["children_under_10"].sum())),
        **{c: round(float(need_cells[c].sum())) for c in (
            "families_with_minors", "single_parent_families", "foreign_nationals")},
        "populated_cells_1km": len(inhabitants),
        "child_cells_100m": len(children),
        "need_cells_100m": len(need_cells),
        "youth_office_area": {
            "population": round(float(inhabitants.loc[in_area_1km, "inhabitants"].sum())),
            "children_under_10": round(float(
                children.loc[in_area, "children_under_10"].sum())),
            "excluded": region.own_youth_office,
        },
        "units_grid_vs_official": {
            r.name: {"census_grid": int(getattr(r, census_column)),
                     "official_2019": None if pd.isna(r.official_2019)
                     else int(r.official_2019)}
            for r in units.itertuples()} if "official_2019" in units else {},
    }


def _write_offers(settings: Settings, offers_file: Path | None, out: Path) -> dict[str, Any]:
    """Write the offer catalogue and the tile-change report; return their part of the summary."""
    from geo.sources import offers as offer_mod

    catalogue, report = offer_mod.build_catalogue(settings)
    n_default = len(catalogue)
    catalogue = offer_mod.add_own_offers(catalogue, settings, offers_file)
    for suffix in ("geojson", "parquet", "csv"):
        offer_mod.write_offers(catalogue, out / f"offers.{suffix}")
    with atomic_path(out / "offer_tile_changes.csv") as tmp:
        neutralise_frame(report["changes"]).to_csv(tmp, index=False)
    with atomic_path(out / "offer_merged.csv") as tmp:
        neutralise_frame(report["merged"]).to_csv(tmp, index=False)

    def per_category(status: str) -> dict[str, int]:
        counts = catalogue.loc[catalogue["status"] == status, "category"].value_counts()
        return {c: int(counts.get(c, 0)) for c in CATEGORIES
                if status == "active" or counts.get(c, 0)}

    return {
        "offers": per_category("active"),
        "offers_planned": per_category("planned"),
        "offers_closed": per_category("closed"),
        "offers_unlocated": report["unlocated"],
        "offers_own_file": len(catalogue) - n_default,
        "tile_changes": report["tile_changes"],
        "offers_merged": len(report["merged"]),
    }
