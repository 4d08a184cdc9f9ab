"""``erreichbar layers build``: boundaries, population grids and offers of a region on disk.

Everything goes to ``<processed>/<region>/layers/`` (atomic writes):

* ``boundaries.gpkg`` — layers ``county``, ``unit``, ``gemeinde``, ``youth_office`` (EPSG:3035)
* ``inhabitants_1km.parquet``, ``children_100m.parquet`` — Zensus cells (GeoParquet, EPSG:3035)
* ``inhabitants_1km.tif``, ``share_under18_1km.tif``, ``children_under10_100m.tif`` —
  Cloud-Optimised GeoTIFFs on the INSPIRE grid (EPSG:3035)
* ``population_units.csv``, ``population_gemeinden.csv`` — sums per unit / Gemeinde
  (units: with the official 2019 population and the difference)
* ``offers.geojson``, ``offers.parquet``, ``offers.csv`` — the offer catalogue (EPSG:4326)
* ``offer_tile_changes.csv`` — what differs between the 2021 and 2026 tile POIs
* ``manifest.json`` — input digest and the summary; a build with unchanged inputs and
  settings returns this summary without rebuilding.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from geo._io import atomic_path, files_digest, write_json
from geo.settings import Settings, get_region
from geo.sources.boundaries import load_units, vg5000_files
from geo.vocabulary import LEVELS

log = logging.getLogger(__name__)

#: Bumped when the layout or meaning of the outputs changes (part of the cache key).
FORMAT_VERSION = 1


def layers_dir(settings: Settings) -> Path:
    """Folder of the built layers of the settings' region."""
    return settings.processed_dir / get_region(settings.region).name / "layers"


def build_layers(settings: Settings, offers_file: Path | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Build and store all data layers of the settings' region.

    Parameters
    ----------
    settings
        Settings (region, data directory, work directory).
    offers_file
        A county's own offer list (CSV/XLSX/GeoJSON, see :func:`geo.sources.offers.read_offer_file`),
        added to the default catalogue. Any bad row stops the build with a full report.
    force
        Rebuild even when inputs and settings are unchanged.

    Returns
    -------
    dict
        The JSON summary: ``units``, ``gemeinden``, ``census`` (which census and its day), ``population`` (census inhabitants,
        1 km cells by centre), ``children_under_10`` (100 m cells by centre), ``offers``
        (active offers per category), ``offers_planned``, ``offers_closed``,
        ``offers_unlocated``, ``tile_changes``, ``youth_office_area`` (``population``,
        ``children_under_10``, ``excluded``), ``units_grid_vs_official``, ``out_dir``.
    """
    from geo.sources import offers as offer_mod
    from geo.sources import population as pop

    offers_file = offers_file or settings.offers.own_file
    region = get_region(settings.region)
    out = layers_dir(settings)
    inputs = [*vg5000_files(settings.data_dir), *pop.population_files(pop.census_dir(settings)),
              *offer_mod.default_inputs(settings)]
    official = settings.data_dir / region.name / "population_units_2019.csv"
    inputs += [p for p in (official, offers_file) if p is not None and Path(p).is_file()]
    digest = files_digest(inputs, extra=json.dumps([
        FORMAT_VERSION, region.model_dump(), settings.offers.model_dump(),
        settings.census.model_dump(),
        str(offers_file)]))
    manifest = out / "manifest.json"
    if not force and manifest.is_file():
        stored = json.loads(manifest.read_text("utf-8"))
        if stored.get("digest") == digest:
            log.info("layers of %s are up to date (%s)", region.name, manifest)
            return stored["summary"]

    # boundaries
    levels = {level: load_units(settings, level) for level in LEVELS}
    with atomic_path(out / "boundaries.gpkg") as tmp:
        gpkg = tmp.with_name(tmp.name + ".gpkg")  # GDAL wants the extension
        for level, frame in levels.items():
            frame.to_file(gpkg, layer=level, driver="GPKG")
        os.replace(gpkg, tmp)

    # population
    gemeinden = levels["gemeinde"]
    inhabitants = pop.read_inhabitants_1km(pop.census_dir(settings), gemeinden)
    children = pop.read_children_100m(pop.census_dir(settings), gemeinden)
    for name, frame in (("inhabitants_1km", inhabitants), ("children_100m", children)):
        with atomic_path(out / f"{name}.parquet") as tmp:
            frame.to_parquet(tmp)
    bounds = tuple(levels["county"].total_bounds)
    pop.write_cog(out / "inhabitants_1km.tif", inhabitants, "inhabitants", 1000, bounds,
                  "int32", -1)
    pop.write_cog(out / "share_under18_1km.tif", inhabitants, "share_under18", 1000, bounds,
                  "float32", -1.0)
    pop.write_cog(out / "children_under10_100m.tif", children, "children_under_10", 100,
                  bounds, "int32", -1)
    units = pop.unit_table(settings, inhabitants, children, "unit")
    gemeinde_table = pop.unit_table(settings, inhabitants, children, "gemeinde")
    for name, table in (("population_units", units), ("population_gemeinden", gemeinde_table)):
        with atomic_path(out / f"{name}.csv") as tmp:
            table.to_csv(tmp, index=False)
    in_area = ~children["gemeinde_ags"].isin(region.own_youth_office)
    in_area_1km = ~inhabitants["gemeinde_ags"].isin(region.own_youth_office)

    # offers
    catalogue, report = offer_mod.build_catalogue(settings)
    n_default = len(catalogue)
    catalogue = offer_mod.add_own_offers(catalogue, settings, offers_file)
    for suffix in ("geojson", "parquet", "csv"):
        offer_mod.write_offers(catalogue, out / f"offers.{suffix}")
    with atomic_path(out / "offer_tile_changes.csv") as tmp:
        report["changes"].to_csv(tmp, index=False)

    def per_category(status: str) -> dict[str, int]:
        counts = catalogue.loc[catalogue["status"] == status, "category"].value_counts()
        return {c.value: int(counts.get(c.value, 0)) for c in offer_mod.Category
                if status == "active" or counts.get(c.value, 0)}

    summary: dict[str, Any] = {
        "region": region.name,
        "census": {"name": settings.census.title,
                   "census_day": settings.census.census_day.isoformat()},
        "units": len(levels["unit"]),
        "gemeinden": len(gemeinden),
        "population": int(inhabitants["inhabitants"].sum()),
        "children_under_10": int(children["children_under_10"].sum()),
        "populated_cells_1km": len(inhabitants),
        "child_cells_100m": len(children),
        "offers": per_category("active"),
        "offers_planned": per_category("planned"),
        "offers_closed": per_category("closed"),
        "offers_unlocated": report["unlocated"],
        "offers_own_file": len(catalogue) - n_default,
        "tile_changes": report["tile_changes"],
        "youth_office_area": {
            "population": int(inhabitants.loc[in_area_1km, "inhabitants"].sum()),
            "children_under_10": int(children.loc[in_area, "children_under_10"].sum()),
            "excluded": region.own_youth_office,
        },
        "units_grid_vs_official": {
            r.name: {"census_grid": int(r.inhabitants),
                     "official_2019": None if pd.isna(r.official_2019)
                     else int(r.official_2019)}
            for r in units.itertuples()} if "official_2019" in units else {},
        "out_dir": str(out),
    }
    write_json(manifest, {"digest": digest, "summary": summary})
    log.info("layers of %s written to %s", region.name, out)
    return summary
