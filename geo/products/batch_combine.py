"""Combine the partitions of a batch (:mod:`geo.products.batch`) into one result.

Writes beside the partitions ``region=<ARS>/``:

* ``coverage.parquet`` — one GeoParquet table of every region at ``county`` level
  (recomputed from the regions' cells: each county whose units all ran), ``unit`` and
  ``gemeinde`` level, with ``category`` and ``mode``; readable with geopandas or
  dask-geopandas (``dask_geopandas.read_parquet``). The cells stay partitioned:
  ``geopandas.read_parquet(out / "region=…/cells.parquet")`` or the whole folder with
  ``dask_geopandas.read_parquet(out / "region=*/cells.parquet")``;
* ``minutes_<category>_<mode>.vrt`` — a GDAL VRT mosaic of the regions' minute COGs (all
  on the 100 m INSPIRE grid, EPSG:3035, nodata −1);
* ``uebersicht.html`` — an overview map: the regions coloured by the share of children
  within 15 minutes of the first category and mode, with each region's figures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from geo._io import atomic_path
from geo.messages import text
from geo.products.batch import coverage_of_cells
from geo.products.maps import new_map, save_map
from geo.settings import Settings
from geo.sources.boundaries import load_units
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)


def combine(settings: Settings, out: Path, regions: Sequence[str]) -> dict[str, Path]:
    """Combine the partitions of ``regions`` in ``out``; return the written paths by name."""
    folders = [out / f"region={r}" for r in regions]
    coverage = pd.concat([gpd.read_parquet(f / "coverage.parquet") for f in folders],
                         ignore_index=True)
    cells = pd.concat([pd.read_parquet(f / "cells.parquet", columns=[
        "region", "category", "mode", "grid", "minutes", "connected", "children_under_10",
        "inhabitants", "unit_ags"]) for f in folders], ignore_index=True)
    table = gpd.GeoDataFrame(pd.concat([county_rows(settings, cells, regions), coverage],
                                       ignore_index=True), crs=METRIC_CRS)
    written = {"coverage": out / "coverage.parquet"}
    with atomic_path(written["coverage"]) as tmp:
        table.to_parquet(tmp)
    for path in sorted({p.name for f in folders for p in f.glob("minutes_*.tif")}):
        sources = [f / path for f in folders if (f / path).is_file()]
        written[path.removesuffix(".tif")] = write_vrt(out / path.replace(".tif", ".vrt"),
                                                       sources)
    for stale in set(out.glob("minutes_*.vrt")) - set(written.values()):
        stale.unlink()  # a mosaic of a former run's category or mode
    written["map"] = save_map(overview_map(settings, table), out / "uebersicht.html")
    log.info("combined %d regions into %s", len(regions), out)
    return written


def county_rows(settings: Settings, cells: pd.DataFrame, regions: Sequence[str]
                ) -> pd.DataFrame:
    """County-level coverage from the regions' cells (empty unless every unit ran).

    A county row needs every cell of the county; a county task (5-digit key) has them
    itself, its row comes from the unit level of that task's cells alike.
    """
    county = load_units(settings, "county")
    units = set(load_units(settings, "unit")["ags"])
    ags = county["ags"].iloc[0]
    if not (units <= set(regions) or ags in regions):
        return pd.DataFrame()
    cells = cells[cells["region"] == ags] if ags in regions else cells
    rows = [coverage_of_cells(settings, group, county, "county").assign(region=ags)
            for _, group in cells.groupby(["category", "mode"], sort=False)]
    return pd.concat(rows, ignore_index=True)


def write_vrt(target: Path, sources: Sequence[Path]) -> Path:
    """Write a VRT mosaic of single-band rasters on one grid (same CRS, pixel size, dtype)."""
    metas = []
    for path in sources:
        with rasterio.open(path) as src:
            metas.append((path, src.transform, src.width, src.height, src.crs, src.nodata))
    size = metas[0][1].a
    x0 = min(t.c for _, t, *_ in metas)
    y1 = max(t.f for _, t, *_ in metas)
    x1 = max(t.c + w * size for _, t, w, *_ in metas)
    y0 = min(t.f - h * size for _, t, _, h, *_ in metas)
    width, height = round((x1 - x0) / size), round((y1 - y0) / size)
    nodata = metas[0][5]
    parts = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
             f"<SRS>{escape(metas[0][4].to_wkt())}</SRS>",
             f"<GeoTransform>{x0}, {size}, 0, {y1}, 0, {-size}</GeoTransform>",
             '<VRTRasterBand dataType="Float32" band="1">',
             f"<NoDataValue>{nodata}</NoDataValue>"]
    for path, t, w, h, _, _ in metas:
        xoff, yoff = round((t.c - x0) / size), round((y1 - t.f) / size)
        parts.append(
            f'<ComplexSource><SourceFilename relativeToVRT="1">'
            f"{escape(path.relative_to(target.parent).as_posix())}</SourceFilename>"
            f"<SourceBand>1</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
            f'<DstRect xOff="{xoff}" yOff="{yoff}" xSize="{w}" ySize="{h}"/>'
            f"<NODATA>{nodata}</NODATA></ComplexSource>")
    parts += ["</VRTRasterBand>", "</VRTDataset>"]
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(parts), "utf-8")
    return target


def overview_map(settings: Settings, table: gpd.GeoDataFrame) -> folium.Map:
    """Regions coloured by the children's 15-minute share of the table's first pair."""
    units = table[table["level"] == "unit"]
    category, mode = units["category"].iloc[0], units["mode"].iloc[0]
    units = units[(units["category"] == category) & (units["mode"] == mode)]
    column = "children_within_15min_share"
    title = text("batch.overview_title", "de", category=text(f"labels.category.{category}",
                                                              "de"),
                 mode=text(f"labels.mode.{mode}", "de"))
    m = new_map(settings, title)
    shown = units[["ags", "name", column, "children", "geometry"]].to_crs("EPSG:4326")
    shown["share"] = (shown[column] * 100).round(1)
    folium.GeoJson(
        shown.drop(columns=[column]).to_json(),
        style_function=lambda f: {"fillColor": _colour(f["properties"]["share"]),
                                  "color": "#333", "weight": 1, "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(
            ["name", "ags", "children", "share"],
            aliases=[text(f"batch.field.{k}", "de") for k in ("name", "ags", "children",
                                                              "share")]),
    ).add_to(m)
    return m


def _colour(share: float | None) -> str:
    """Fill colour of a 15-minute share in percent (red low, green high, grey none)."""
    if share is None or not np.isfinite(share):
        return "#bbbbbb"
    steps = ((90, "#1a9641"), (75, "#a6d96a"), (50, "#fdae61"))
    return next((c for limit, c in steps if share >= limit), "#d7191c")


def county_reference(settings: Settings, modes: Sequence[str], categories: Sequence[str]
                     ) -> pd.DataFrame:
    """Children cells of the single county run: minutes and nearest offer per category/mode."""
    from geo.engine.access import Accessibility

    acc = Accessibility(settings)
    available = acc.categories()
    return pd.concat([acc.cells(c, m, "children") for c in categories if c in available
                      for m in modes], ignore_index=True)


def edge_effect(reference: pd.DataFrame, batch: pd.DataFrame, max_minutes: float
                ) -> dict[str, object]:
    """Compare the batch's children cells with the county run's, cell for cell.

    Parameters
    ----------
    reference
        :func:`county_reference` (``cell_id``, ``category``, ``mode``, ``minutes`` with
        inf = none, ``offer_id``, ``children_under_10``, ``unit_ags``).
    batch
        The batch's cells (``grid`` = ``children``; minutes NaN = none).
    max_minutes
        Longest studied time (minutes): above it the batch's minutes are not exact.

    Returns
    -------
    dict
        Over pairs (cell × category × mode) whose county time is within ``max_minutes``:
        ``pairs`` compared, ``missing`` (in the county run, not in the batch), ``changed``
        (minutes or nearest offer differ), ``cells_changed`` (distinct cells),
        ``children_changed`` (children under 10 of the changed pairs), ``lost`` /
        ``children_lost`` (the batch finds no offer within ``max_minutes``),
        ``longer`` (batch later, offer still within ``max_minutes``) with
        ``max_diff_minutes``, ``mean_diff_minutes``, ``median_diff_minutes``,
        ``shorter`` (batch earlier: must be 0), ``other_offer`` (same minutes, another
        offer), ``beyond_violations`` (county beyond ``max_minutes``, batch within),
        ``by_unit`` (per unit ARS: ``pairs``, ``children``, ``lost``,
        ``max_diff_minutes``) and ``by_mode`` (changed pairs per mode).
    """
    keys = ["cell_id", "category", "mode"]
    b = batch[batch["grid"] == "children"][[*keys, "minutes", "offer_id"]]
    joined = reference[[*keys, "minutes", "offer_id", "children_under_10", "unit_ags"]].merge(
        b, on=keys, how="left", suffixes=("", "_batch"), indicator=True)
    ref = joined["minutes"].to_numpy(float)
    got = joined["minutes_batch"].fillna(np.inf).to_numpy(float)
    within = ref <= max_minutes
    same_offer = (joined["offer_id"].fillna("") == joined["offer_id_batch"].fillna("")
                  ).to_numpy()
    changed = within & ((got != ref) | ~same_offer)
    rows = joined[changed].assign(diff=(got - ref)[changed],
                                  lost=~(got[changed] <= max_minutes))
    rows["later"] = rows["diff"].where(~rows["lost"] & (rows["diff"] > 0))
    later = rows["later"].dropna()
    by_unit = rows.groupby("unit_ags").agg(
        pairs=("diff", "size"), children=("children_under_10", "sum"), lost=("lost", "sum"),
        max_diff_minutes=("later", "max"))
    return {
        "pairs": int(within.sum()), "missing": int((joined["_merge"] == "left_only").sum()),
        "changed": int(changed.sum()), "cells_changed": int(rows["cell_id"].nunique()),
        "children_changed": int(rows["children_under_10"].sum()),
        "lost": int(rows["lost"].sum()),
        "children_lost": int(rows.loc[rows["lost"], "children_under_10"].sum()),
        "longer": len(later),
        "max_diff_minutes": round(float(later.max()), 2) if len(later) else 0.0,
        "mean_diff_minutes": round(float(later.mean()), 2) if len(later) else 0.0,
        "median_diff_minutes": round(float(later.median()), 2) if len(later) else 0.0,
        "shorter": int((rows["diff"] < 0).sum()),
        "other_offer": int((rows["diff"] == 0).sum()),
        "beyond_violations": int((~within & (got <= max_minutes)).sum()),
        "by_unit": {str(k): {"pairs": int(v.pairs), "children": int(v.children),
                             "lost": int(v.lost),
                             "max_diff_minutes": None if pd.isna(v.max_diff_minutes)
                             else round(float(v.max_diff_minutes), 2)}
                    for k, v in by_unit.iterrows()},
        "by_mode": {str(k): int(v) for k, v in rows.groupby("mode").size().items()},
    }
