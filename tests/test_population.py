"""Zensus 2011 grids clipped to the county: totals, per-unit sums (vs sjoin), GeoTIFFs."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from geo.settings import Settings
from geo.sources.boundaries import load_units
from geo.sources.population import (
    cell_ids,
    load_children_100m,
    load_inhabitants_1km,
    unit_table,
    write_cog,
)
from geo.vocabulary import METRIC_CRS


@pytest.fixture(scope="module")
def inhabitants(settings: Settings) -> gpd.GeoDataFrame:
    return load_inhabitants_1km(settings)


@pytest.fixture(scope="module")
def children(settings: Settings) -> gpd.GeoDataFrame:
    return load_children_100m(settings)


@pytest.fixture(scope="module")
def units(settings: Settings, inhabitants, children) -> pd.DataFrame:
    return unit_table(settings, inhabitants, children, "unit")


def test_totals_match_county_extracts(inhabitants, children, data_dir: Path) -> None:
    """Clipping the Germany-wide files gives the county CSV extracts, cell by cell."""
    one_km = pd.read_csv(data_dir / "goettingen" / "zensus2011_einwohner_1km.csv")
    one_km = one_km[one_km["einwohner"] > 0]
    assert len(inhabitants) == len(one_km) == 782
    assert inhabitants["inhabitants"].sum() == one_km["einwohner"].sum() == 322_185
    assert set(zip(inhabitants["x"], inhabitants["y"])) == set(
        zip(one_km["x_3035"], one_km["y_3035"]))
    hundred = pd.read_csv(data_dir / "goettingen" / "zensus2011_alter_10jg_1_100m.csv")
    assert len(children) == len(hundred) == 5_348
    assert children["children_under_10"].sum() == hundred["alter_10jg_1"].sum() == 24_735


def test_cells_are_inspire_squares(inhabitants, children) -> None:
    for cells, size in ((inhabitants, 1000), (children, 100)):
        assert cells.crs == METRIC_CRS
        assert ((cells["x"] - size // 2) % size == 0).all()
        assert np.allclose(cells.area, size * size)
        assert np.allclose(cells.centroid.x, cells["x"])
        assert np.allclose(cells.centroid.y, cells["y"])
        assert cells["cell_id"].is_unique
    assert cell_ids(np.array([4300500]), np.array([3132500]), 1000)[0] == \
        "CRS3035RES1000mN3132000E4300000"
    share = inhabitants["share_under18"]
    assert share.dropna().between(0, 1).all() and share.notna().sum() > 700


@pytest.mark.parametrize("value, fixture, level", [
    ("inhabitants", "inhabitants", "unit"), ("children_under_10", "children", "unit"),
    ("inhabitants", "inhabitants", "gemeinde"), ("children_under_10", "children", "gemeinde"),
])
def test_unit_sums_match_sjoin(settings: Settings, request, value: str, fixture: str,
                               level: str, inhabitants, children) -> None:
    """The fast path (contains_xy per polygon) equals a geopandas sjoin of the cell centres."""
    cells = request.getfixturevalue(fixture)
    polygons = load_units(settings, level)
    centres = gpd.GeoDataFrame(cells[[value]], geometry=gpd.points_from_xy(cells.x, cells.y),
                               crs=METRIC_CRS)
    expected = gpd.sjoin(centres, polygons, predicate="within").groupby("ags")[value].sum()
    table = unit_table(settings, inhabitants, children, level).set_index("ags")[value]
    pd.testing.assert_series_equal(table[table > 0].sort_index(), expected.sort_index(),
                                   check_names=False, check_dtype=False)
    assert table.sum() == cells[value].sum()  # every cell in exactly one unit


def test_youth_office_sums(settings: Settings, inhabitants, children, units) -> None:
    area = load_units(settings, "youth_office")
    for cells, value in ((inhabitants, "inhabitants"), (children, "children_under_10")):
        centres = gpd.GeoDataFrame(cells[[value]],
                                   geometry=gpd.points_from_xy(cells.x, cells.y), crs=METRIC_CRS)
        inside = gpd.sjoin(centres, area, predicate="within")[value].sum()
        assert inside == units.loc[units["youth_office"], value].sum()
        assert inside == cells[value].sum() - units.loc[units["name"] == "Göttingen", value].item()
    assert units.loc[~units["youth_office"], "name"].tolist() == ["Göttingen"]


def test_grid_vs_official_2019(units) -> None:
    official = units.dropna(subset=["official_2019"])
    assert len(official) == 19 and official["official_2019"].sum() == 325_817
    assert units.loc[units["official_2019"].isna(), "name"].tolist() == \
        ["Harz (Landkreis Göttingen)"]
    goettingen = units.set_index("name").loc["Göttingen"]
    assert (goettingen.inhabitants, goettingen.official_2019) == (116_072, 121_150)
    # census 2011 vs register 2019: a few percent per unit, never a different order
    assert official["difference_pct"].abs().max() < 15


def test_geotiffs(settings: Settings, inhabitants, children, tmp_path: Path) -> None:
    bounds = tuple(load_units(settings, "county").total_bounds)
    for cells, value, size, dtype in ((inhabitants, "inhabitants", 1000, "int32"),
                                      (children, "children_under_10", 100, "int32")):
        path = write_cog(tmp_path / f"{value}.tif", cells, value, size, bounds, dtype, -1)
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 3035
            assert src.nodata == -1
            t = src.transform
            assert (t.a, t.e, t.b, t.d) == (size, -size, 0, 0)
            assert t.c % size == 0 and t.f % size == 0  # INSPIRE-aligned origin
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            band = src.read(1, masked=True)
            assert band.count() == len(cells)
            assert band.sum() == cells[value].sum()
            # the pixel under each cell centre holds that cell's value
            sample = np.array([v[0] for v in src.sample(zip(cells.x, cells.y))])
            assert (sample == cells[value].to_numpy()).all()
