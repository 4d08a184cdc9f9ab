"""Boundaries from the Germany-wide VG5000 files: counts, keys, youth-office area."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo.errors import RegionError
from geo.settings import Settings
from geo.sources.boundaries import load_units, read_vg5000, youth_office_area
from geo.vocabulary import METRIC_CRS


@pytest.fixture(scope="module")
def levels(settings: Settings) -> dict[str, gpd.GeoDataFrame]:
    return {level: load_units(settings, level)
            for level in ("county", "unit", "gemeinde", "youth_office")}


def test_counts_and_crs(levels: dict[str, gpd.GeoDataFrame]) -> None:
    counts = [len(levels[k]) for k in ("county", "unit", "gemeinde", "youth_office")]
    assert counts == [1, 20, 40, 1]
    for frame in levels.values():
        assert frame.crs == METRIC_CRS
        assert {"ags", "name", "level", "geometry"} <= set(frame.columns)
    assert levels["county"]["ags"].tolist() == ["03159"]
    units = levels["unit"]
    assert units["ags"].str.len().eq(9).all()
    assert (units["bez"] == "Samtgemeinde").sum() == 4
    assert "Harz (Landkreis Göttingen)" in set(units["name"])  # the unincorporated area
    gemeinden = levels["gemeinde"]
    assert gemeinden["ags"].str.len().eq(8).all()
    assert set(gemeinden["unit_ags"]) == set(units["ags"])
    assert gemeinden.loc[gemeinden["name"] == "Göttingen", "ags"].tolist() == ["03159016"]


def test_same_units_as_county_extract(levels: dict[str, gpd.GeoDataFrame], data_dir) -> None:
    """The Germany-wide shapefiles filtered by ARS give the units of the county extract."""
    extract = gpd.read_file(data_dir / "goettingen" / "boundaries_vg5000_2021.geojson")
    for level, layer in (("unit", "VG5000_VWG"), ("gemeinde", "VG5000_GEM")):
        assert set(levels[level]["ars"]) == set(extract.loc[extract["layer"] == layer, "ARS"])
    county = extract.loc[extract["layer"] == "VG5000_KRS"].to_crs(METRIC_CRS).geometry.iloc[0]
    ours = levels["county"].geometry.iloc[0]
    # the extract is rounded WGS84 (coordinates shift by ~0.3 m), hence a tolerance
    assert ours.symmetric_difference(county).area < 1e-3 * ours.area


def test_units_tile_the_county(levels: dict[str, gpd.GeoDataFrame]) -> None:
    county = levels["county"].geometry.iloc[0]
    for level in ("unit", "gemeinde"):
        union = shapely.union_all(levels[level].geometry.values)
        assert union.symmetric_difference(county).area < 1.0  # m²
        assert levels[level].area.sum() == pytest.approx(county.area, rel=1e-9)


def test_youth_office_area_excludes_goettingen_only(levels: dict[str, gpd.GeoDataFrame]) -> None:
    area = levels["youth_office"].geometry.iloc[0]
    gemeinden = levels["gemeinde"]
    inside = shapely.contains(area, shapely.point_on_surface(gemeinden.geometry.values))
    assert gemeinden.loc[~inside, "ags"].tolist() == ["03159016"]
    goettingen = gemeinden.loc[gemeinden["ags"] == "03159016"].geometry.iloc[0]
    assert area.area + goettingen.area == pytest.approx(
        levels["county"].geometry.iloc[0].area, rel=1e-9)
    assert levels["youth_office"]["excluded_ags"].iloc[0] == "03159016"
    assert area.intersection(goettingen).area < 1.0


def test_any_county(data_dir) -> None:
    """Not only 03159: Landkreis Northeim (03155) from the same files."""
    county = read_vg5000(data_dir, "03155", "county")
    gemeinden = read_vg5000(data_dir, "03155", "gemeinde")
    assert county["name"].tolist() == ["Northeim"]
    assert len(gemeinden) > 10 and gemeinden["ags"].str.startswith("03155").all()
    whole = youth_office_area(county, gemeinden, [])
    assert whole.geometry.iloc[0].area == pytest.approx(county.geometry.iloc[0].area)


def test_bad_keys(data_dir) -> None:
    with pytest.raises(RegionError, match="99999"):
        read_vg5000(data_dir, "99999", "unit")
    with pytest.raises(RegionError, match="5-digit"):
        read_vg5000(data_dir, "3159", "unit")
    county = read_vg5000(data_dir, "03159", "county")
    gemeinden = read_vg5000(data_dir, "03159", "gemeinde")
    with pytest.raises(RegionError, match="03152001"):
        youth_office_area(county, gemeinden, ["03152001"])
