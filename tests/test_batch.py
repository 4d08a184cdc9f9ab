"""``erreichbar batch``: the 20 municipal units as Dask tasks, compared with the county run.

Real data: the county's walk network, its active Grundschulen, the Zensus 2011 children
cells. Walk only and one category keep the test short; the equality is cell for cell over
every children cell of the county.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from geo.engine.access import Accessibility
from geo.networks.network import Network
from geo.products.batch import clip_network, halo_metres, run_batch
from geo.products.batch_combine import edge_effect
from geo.settings import Settings
from geo.sources.boundaries import load_units

CATEGORY, MODE = "grundschule", "walk"


@pytest.fixture(scope="module")
def units(settings: Settings) -> gpd.GeoDataFrame:
    return load_units(settings, "unit")


@pytest.fixture(scope="module")
def county(settings: Settings, networks: dict[str, Network]) -> pd.DataFrame:
    """The single county run: every children cell's minutes and nearest Grundschule."""
    return Accessibility(settings).cells(CATEGORY, MODE, "children")


def _batch(settings: Settings, units: gpd.GeoDataFrame, out: Path, halo: float | None
           ) -> tuple[dict, pd.DataFrame]:
    summary = run_batch(settings, list(units["ags"]), out, modes=[MODE],
                        categories=[CATEGORY], halo_m=halo, workers=2)
    cells = pd.concat([pd.read_parquet(out / f"region={a}" / "cells.parquet")
                       for a in units["ags"]], ignore_index=True)
    return summary, cells[cells["grid"] == "children"]


def _joined(county: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    return county.merge(cells, on="cell_id", how="outer", suffixes=("", "_b"), indicator=True)


@pytest.fixture(scope="module")
def sufficient(settings: Settings, units: gpd.GeoDataFrame,
               tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("batch")
    return (*_batch(settings, units, out, None), out)


def test_halo_is_thirty_minutes_at_walking_speed_plus_the_snap_cut_off(
        settings: Settings, networks: dict[str, Network]) -> None:
    halo, ok = halo_metres(settings, [MODE])
    fastest = float(np.max(networks[MODE].length / networks[MODE].travel_time)) * 3.6
    assert fastest == pytest.approx(4.8)  # no walk edge is faster than the walking speed
    assert ok and halo == pytest.approx(30 / 60 * 4.8 * 1000 + 1000)


def test_clip_keeps_the_edges_inside_and_their_geometry(networks: dict[str, Network]) -> None:
    net = networks[MODE]
    from geo.networks.snap import to_metric

    x, y = to_metric(net.lon, net.lat)
    box = shapely.box(np.median(x) - 3000, np.median(y) - 3000, np.median(x) + 3000,
                      np.median(y) + 3000)
    part = clip_network(net, box)
    inside = shapely.contains_xy(box, x, y)
    both = inside[net.u] & inside[net.v]
    assert part.n_nodes == inside.sum() and part.n_edges == both.sum()
    np.testing.assert_array_equal(part.node_id[part.u], net.node_id[net.u[both]])
    np.testing.assert_array_equal(part.travel_time, net.travel_time[both])
    first = np.flatnonzero(both)[0]
    a, b = net.geom_offsets[first], net.geom_offsets[first + 1]
    np.testing.assert_array_equal(part.geom_lon[part.geom_offsets[0]:part.geom_offsets[1]],
                                  net.geom_lon[a:b])


def test_twenty_units_with_sufficient_halo_equal_the_county_run_cell_for_cell(
        settings: Settings, county: pd.DataFrame, sufficient: tuple) -> None:
    summary, cells, _ = sufficient
    assert summary["done"] == 20 and summary["failed"] == [] and summary["halo_sufficient"]
    joined = _joined(county, cells)
    assert (joined["_merge"] == "both").all()  # every county cell once, in its own unit
    assert len(joined) == len(county) == 5348  # children cells of the county (Zensus 2011)
    assert (joined["unit_ags"] == joined["region"]).all()
    within = joined["minutes"] <= 30
    assert 0 < within.sum() < len(joined)  # both kinds of cell are there to compare
    np.testing.assert_array_equal(joined.loc[within, "minutes_b"], joined.loc[within, "minutes"])
    assert (joined.loc[within, "offer_id_b"] == joined.loc[within, "offer_id"]).all()
    assert joined.loc[within, "exact"].all()
    beyond = joined[~within]  # not guaranteed by the halo, but never within 30 minutes
    assert not (beyond["minutes_b"] <= 30).any()


def test_combined_table_mosaic_and_map(settings: Settings, county: pd.DataFrame,
                                       sufficient: tuple, units: gpd.GeoDataFrame) -> None:
    summary, _, out = sufficient
    table = gpd.read_parquet(out / "coverage.parquet")
    assert sorted(table["level"].unique()) == ["county", "gemeinde", "unit"]
    assert set(table.loc[table["level"] == "unit", "ags"]) == set(units["ags"])
    row = table[table["level"] == "county"].iloc[0]
    kids = county["children_under_10"].to_numpy(float)
    assert row["children"] == pytest.approx(kids.sum())
    assert row["children_within_15min_share"] == pytest.approx(
        kids[county["minutes"] <= 15].sum() / kids.sum())
    unit_rows = table[table["level"] == "unit"]
    assert unit_rows["children"].sum() == pytest.approx(kids.sum())
    with rasterio.open(out / f"minutes_{CATEGORY}_{MODE}.vrt") as vrt:
        assert vrt.res == (100.0, 100.0) and vrt.crs.to_epsg() == 3035
        band = vrt.read(1)
    cx, cy = county["x"].to_numpy(), county["y"].to_numpy()
    r, c = rasterio.transform.rowcol(vrt.transform, cx, cy)
    got = band[np.asarray(r), np.asarray(c)]
    finite = np.isfinite(county["minutes"].to_numpy()) & (county["minutes"] <= 30).to_numpy()
    np.testing.assert_allclose(got[finite], county["minutes"].to_numpy()[finite], rtol=1e-6)
    html = (out / "uebersicht.html").read_text("utf-8")
    assert "Kommunen im Vergleich" in html and "Kinder unter 10" in html
    assert all(ags in html for ags in units["ags"])
    assert json.loads((out / "batch.json").read_text())["done"] == 20
    assert all(0 < mb < 1500 for mb in summary["peak_rss_mb"].values())


def test_halo_zero_shows_the_edge_effect(settings: Settings, units: gpd.GeoDataFrame,
                                         county: pd.DataFrame,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """Without a halo, children near a unit border lose the school across it.

    Measured 2026-11-30 (walk, Grundschule): of the 4,143 children cells within 30 minutes
    of a school in the county run, 19 (62 children under 10) have none within 30 minutes
    when their unit runs alone — 14 in Bad Grund (Harz), 3 in Hann. Münden, 1 each in
    Göttingen and Hattorf am Harz —, and every changed cell lies within 3.4 km (30 min
    walking + the snap cut-off) of its unit's border.
    """
    summary, cells = _batch(settings, units, tmp_path_factory.mktemp("halo0"), 0.0)
    assert summary["halo_m"] == 0.0 and summary["done"] == 20
    joined = _joined(county, cells)
    within = joined["minutes"] <= 30
    got = joined["minutes_b"].fillna(np.inf)
    changed = within & ((got != joined["minutes"]) | (joined["offer_id_b"] != joined["offer_id"]))
    assert changed.sum() > 0, "a unit alone must miss schools across its border"
    assert not (got[changed] < joined.loc[changed, "minutes"]).any()  # never shorter
    effect = edge_effect(county.assign(category=CATEGORY, mode=MODE),
                         cells.assign(category=CATEGORY, mode=MODE), 30)
    assert effect["changed"] == changed.sum()
    assert effect["children_changed"] == joined.loc[changed, "children_under_10"].sum()
    lost = changed & ~(got <= 30)
    assert effect["lost"] == lost.sum()
    assert sum(u["pairs"] for u in effect["by_unit"].values()) == changed.sum()
    # the edge effect lives at the borders: every changed cell is near its unit's edge
    border = units.set_index("ags").boundary
    moved = joined[changed]
    dist = [border[a].distance(shapely.Point(x, y))
            for a, x, y in zip(moved["unit_ags"], moved["x"], moved["y"], strict=True)]
    assert max(dist) <= 30 / 60 * 4800 + 1000


def test_a_failing_unit_leaves_the_others_complete_and_a_rerun_finishes_it(
        settings: Settings, networks: dict[str, Network],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("fail")
    regions = ["031590036", "031595401", "031590034"]  # Walkenried, Dransfeld, Staufenberg
    first = run_batch(settings, regions, out, modes=[MODE], categories=[CATEGORY],
                      workers=2, fail=["031595401"])
    assert first["done"] == 2 and first["skipped"] == 0
    assert [f["region"] for f in first["failed"]] == ["031595401"]
    assert "031595401" in first["failed"][0]["error"]
    tasks = {t["ars"]: t for t in json.loads((out / "batch.json").read_text())["tasks"]}
    assert tasks["031595401"]["attempts"] == settings.batch.retries + 1
    assert not (out / "region=031595401" / "manifest.json").exists()
    for ars in ("031590036", "031590034"):
        assert (out / f"region={ars}" / "manifest.json").is_file()
        assert len(pd.read_parquet(out / f"region={ars}" / "cells.parquet")) > 0
    table = gpd.read_parquet(out / "coverage.parquet")
    assert set(table.loc[table["level"] == "unit", "ags"]) == {"031590036", "031590034"}
    before = {a: (out / f"region={a}" / "cells.parquet").stat().st_mtime_ns
              for a in ("031590036", "031590034")}
    second = run_batch(settings, regions, out, modes=[MODE], categories=[CATEGORY], workers=2)
    assert (second["done"], second["skipped"], second["failed"]) == (1, 2, [])
    assert before == {a: (out / f"region={a}" / "cells.parquet").stat().st_mtime_ns
                      for a in before}
    cells = pd.read_parquet(out / "region=031595401" / "cells.parquet")
    assert (cells["unit_ags"] == "031595401").all() and len(cells) > 0


def test_bad_region_keys_are_named(settings: Settings) -> None:
    from geo.errors import DataError
    from geo.products.batch import resolve_regions

    with pytest.raises(DataError, match="'0315x'"):
        resolve_regions(settings, ["03159", "0315x"], None)
    with pytest.raises(DataError, match="either"):
        resolve_regions(settings, None, None)
    lower_saxony = resolve_regions(settings, None, "03")
    assert "03159" in lower_saxony and all(k.startswith("03") for k in lower_saxony)
