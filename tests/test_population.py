"""Zensus 2011 grids clipped to the county: totals, per-unit sums (vs sjoin), GeoTIFFs, need
layers, and scaling to a county's own population table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import rasterio

from geo.errors import DataError
from geo.settings import PopulationSettings, Settings
from geo.sources.boundaries import load_units
from geo.sources.need import (
    FAMILY_TYPES,
    INDICATORS_1KM,
    NEED_COLUMNS,
    add_indicators_1km,
    read_need_100m,
)
from geo.sources.population import (
    cell_ids,
    census_dir,
    load_children_100m,
    load_inhabitants_1km,
    population_basis,
    unit_table,
    write_cog,
)
from geo.sources.population_table import (
    MAX_COLUMNS,
    MAX_ROWS,
    PopulationFileError,
    PopulationTable,
    read_population_table,
    scale_cells,
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
    assert set(zip(inhabitants["x"], inhabitants["y"], strict=True)) == set(
        zip(one_km["x_3035"], one_km["y_3035"], strict=True))
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
            sample = np.array([v[0] for v in src.sample(zip(cells.x, cells.y, strict=True))])
            assert (sample == cells[value].to_numpy()).all()


# --------------------------------------------------------------------------- need layers

FAMILIES_CSV = "zensus2011_families_with_minors_100m.csv"
FOREIGN_CSV = "zensus2011_foreign_nationals_100m.csv"


@pytest.fixture(scope="module")
def need_cells(settings: Settings) -> gpd.GeoDataFrame:
    return read_need_100m(census_dir(settings), load_units(settings, "gemeinde"))


def test_need_totals_match_county_extracts(need_cells, data_dir: Path) -> None:
    """The Germany-wide 100 m family and nationality files, clipped to the county, give the
    county extracts of the data directory (README: 24,756 / 3,889 / 16,375)."""
    families = pd.read_csv(data_dir / "goettingen" / FAMILIES_CSV)
    foreign = pd.read_csv(data_dir / "goettingen" / FOREIGN_CSV)
    types = list(FAMILY_TYPES.values())
    singles = ["single_fathers_with_minor", "single_mothers_with_minor"]
    assert families[types].sum().tolist() == [19_544, 3, 1_320, 191, 3_698]
    assert need_cells[types].sum().tolist() == families[types].sum().tolist()
    assert need_cells["families_with_minors"].sum() == families[types].sum().sum() == 24_756
    assert need_cells["single_parent_families"].sum() == families[singles].sum().sum() == 3_889
    assert need_cells["foreign_nationals"].sum() == foreign["foreign_nationals"].sum() == 16_375
    assert need_cells["families_with_minors"].notna().sum() == len(families) == 5_446
    assert need_cells["foreign_nationals"].notna().sum() == len(foreign) == 2_281


def test_need_cells_equal_extract_cell_by_cell(need_cells, data_dir: Path) -> None:
    """Same cells, same counts; an empty extract field (not published) is NaN, never 0."""
    families = pd.read_csv(data_dir / "goettingen" / FAMILIES_CSV)
    types = list(FAMILY_TYPES.values())
    mine = need_cells.set_index(["x", "y"])
    theirs = families.set_index(["x_3035", "y_3035"])[types]
    theirs.index.names = ["x", "y"]
    published = mine.loc[mine["families_with_minors"].notna(), types]
    pd.testing.assert_frame_equal(published.sort_index(), theirs.astype(float).sort_index(),
                                  check_index_type=False)
    counts = need_cells[[*types, *NEED_COLUMNS]]
    assert (counts.fillna(3) >= 3).all().all()  # published counts are >= 3, no zeros
    assert counts["couples_registered_with_minor"].isna().sum() == len(need_cells) - 1
    # a single parent published alone is a lower bound of the cell's families, not a share
    singles = need_cells["single_parent_families"]
    assert (need_cells.loc[singles.notna(), "families_with_minors"] >= singles.dropna()).all()
    assert not any("share" in c for c in need_cells.columns)
    assert need_cells.crs == METRIC_CRS and need_cells["cell_id"].is_unique


def test_indicators_1km(settings: Settings, inhabitants, need_cells) -> None:
    """1 km indicators: fractions/persons, NaN exactly where the source is negative."""
    cells = add_indicators_1km(inhabitants, census_dir(settings))
    assert cells["cell_id"].tolist() == inhabitants["cell_id"].tolist()
    for column, (file, source, factor) in INDICATORS_1KM.items():
        raw = pd.read_parquet(census_dir(settings) / file)
        raw = inhabitants[["x", "y"]].merge(raw, on=["x", "y"], how="left")[source]
        assert (cells[column].isna().to_numpy() == (raw < 0).to_numpy()).all()
        np.testing.assert_allclose(cells[column].dropna(), raw[raw >= 0] * factor)
    assert cells["share_foreign_nationals"].between(0, 1).sum() == 752
    assert cells["vacancy_rate"].between(0, 1).sum() == 632
    assert cells["mean_household_size"].between(1, 6).sum() == 723
    # two publications agree: 1 km share x inhabitants (17,249) vs the published 100 m
    # counts (16,375, which miss the cells with fewer than 3 foreign nationals)
    from_share = (cells["share_foreign_nationals"] * cells["inhabitants"]).sum()
    assert round(from_share) == 17_249
    assert 0.9 < need_cells["foreign_nationals"].sum() / from_share < 1.0


# --------------------------------------------------------------------------- own totals

UNITS_2019 = "population_units_2019.csv"


@pytest.fixture(scope="module")
def table_2019(settings: Settings) -> PopulationTable:
    return read_population_table(settings.data_dir / "goettingen" / UNITS_2019,
                                 load_units(settings, "unit"), load_units(settings, "gemeinde"))


def test_units_2019_is_a_population_table(table_2019: PopulationTable, data_dir: Path) -> None:
    csv = pd.read_csv(data_dir / "goettingen" / UNITS_2019)
    assert table_2019.values == ("inhabitants",)
    assert table_2019.dates == (dt.date(2019, 12, 31),)  # from the column name
    assert table_2019.totals["inhabitants"].tolist() == csv["population_2019_12_31"].tolist()
    assert table_2019.totals["inhabitants"].sum() == 325_817
    assert (table_2019.totals["level"] == "unit").all()
    goettingen = table_2019.totals.set_index("area").loc["031590016", "inhabitants"]
    assert goettingen == 121_150
    assert table_2019.description == "population_units_2019.csv, 31.12.2019"


def test_scaling_reproduces_official_unit_totals(inhabitants, table_2019) -> None:
    scaled, report = scale_cells(inhabitants, table_2019, "inhabitants")
    totals = table_2019.totals.set_index("area")["inhabitants"]
    sums = scaled.groupby("unit_ags")["inhabitants"].sum()
    np.testing.assert_allclose(sums.reindex(totals.index), totals, rtol=0, atol=1e-6)
    assert sums["031590016"] == pytest.approx(121_150, abs=1e-6)
    share = {name: frame["inhabitants"] / frame.groupby("unit_ags")["inhabitants"]
             .transform("sum") for name, frame in (("before", inhabitants), ("after", scaled))}
    np.testing.assert_allclose(share["after"], share["before"], rtol=0, atol=1e-9)
    assert (scaled["inhabitants_census"] == inhabitants["inhabitants"]).all()
    # the unincorporated Harz has census inhabitants but no official figure: kept as census
    harz = scaled["unit_ags"] == "031599501"
    assert (scaled.loc[harz, "inhabitants"] == inhabitants.loc[harz, "inhabitants"]).all()
    assert report == {"scaled": True, "areas": 19, "census": 322_185.0, "total": 327_534.0,
                      "areas_without_cells": [], "census_outside": 1_717.0}
    assert scale_cells(inhabitants, table_2019, "children_under_10")[1] == {"scaled": False}


def test_population_basis(settings: Settings, data_dir: Path) -> None:
    assert population_basis(settings) == "Zensus 2011 (09.05.2011)"
    own = settings.model_copy(update={"population": PopulationSettings(
        own_file=data_dir / "goettingen" / UNITS_2019)})
    scaled = "Zensus 2011-Verteilung, skaliert auf population_units_2019.csv, 31.12.2019"
    assert population_basis(own, "inhabitants") == scaled
    assert population_basis(own, "children_under_10") == "Zensus 2011 (09.05.2011)"
    assert population_basis(own) == (f"{scaled} (nur Einwohner; Kinder unter 10: "
                                     "Zensus 2011 (09.05.2011))")
    cells = load_inhabitants_1km(own)  # the settings-based loader scales too
    assert cells["inhabitants"].sum() == pytest.approx(325_817 + 1_717)


def test_gemeinde_table_from_xlsx_scales_children(settings: Settings, children,
                                                  tmp_path: Path) -> None:
    """A workbook keyed by Gemeinde AGS (numbers: leading zero lost) and one unit name: each
    area's 100 m children add up to its total. The totals are constructed for the test
    (census sum + 7 %), the cells are the real census cells."""
    gemeinden = load_units(settings, "gemeinde")
    census = children.groupby("gemeinde_ags")["children_under_10"].sum()
    dransfeld = gemeinden.loc[gemeinden["unit_ags"] == "031595401", "ags"]
    rows = [(int(ags), round(census.get(ags, 0) * 1.07)) for ags in gemeinden["ags"]
            if ags not in set(dransfeld)]
    rows.append(("Samtgemeinde Dransfeld", round(census[dransfeld].sum() * 1.07)))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["AGS", "Kinder unter 10", "Stand", "Quelle"])
    for key, total in rows:
        sheet.append([key, total, dt.datetime(2023, 12, 31), "Landkreis Göttingen"])
    book.save(tmp_path / "kinder.xlsx")
    table = read_population_table(tmp_path / "kinder.xlsx", load_units(settings, "unit"),
                                  gemeinden)
    assert table.values == ("children_under_10",)
    assert table.totals["level"].value_counts().to_dict() == {"gemeinde": 35, "unit": 1}
    assert table.description == "Landkreis Göttingen, 31.12.2023"
    scaled, report = scale_cells(children, table, "children_under_10")
    given = dict(rows)
    sums = scaled.groupby("gemeinde_ags")["children_under_10"].sum()
    for ags in set(gemeinden["ags"]) - set(dransfeld):
        if census.get(ags, 0):
            assert sums[ags] == pytest.approx(given[int(ags)], abs=1e-6)
    assert sums[dransfeld].sum() == pytest.approx(given["Samtgemeinde Dransfeld"], abs=1e-6)
    assert report["census"] == 24_735 and report["census_outside"] == 0


def test_bad_table_lists_every_bad_row(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bevoelkerung.csv"
    bad.write_text("AGS;Einwohner;Kinder unter 10;Stand\n"
                   "03159016;121.150;9000;31.12.2023\n"      # row 2: fine (and overlaps row 6)
                   "03159999;5000;300;31.12.2023\n"          # row 3: unknown Gemeinde
                   "Rosdorf;-5;400;31.12.2023\n"             # row 4: negative
                   "Bovenden;viele;;31.12.2023\n"            # row 5: not a number, missing
                   "Göttingen;1000;10;2023-13-45\n"          # row 6: overlaps row 2, bad date
                   "Friedland;100;12,5;31.12.2023\n"         # row 7: not whole
                   "Rosdorf;12022;800;31.12.2023\n",         # row 8: duplicate of row 4
                   "utf-8")
    with pytest.raises(PopulationFileError) as info:
        read_population_table(bad, load_units(settings, "unit"), load_units(settings, "gemeinde"))
    message = str(info.value)
    assert "7 of 7 rows are bad, nothing loaded" in message
    for expected in (
            "row 2, field 'AGS': Gemeinde 03159016 lies in unit 031590016, also given in row 6",
            "row 3, field 'AGS': no Gemeinde (AGS), unit (ARS) or unit name '03159999'",
            "row 4, field 'AGS': 031590029 is also given in row 8",
            "row 4, field 'Einwohner': negative number -5",
            "row 5, field 'Einwohner': not a number: 'viele'",
            "row 5, field 'Kinder unter 10': missing value",
            "row 6, field 'AGS': unit 031590016 holds Gemeinde 03159016",
            "row 6, field 'Stand': not a date (DD.MM.YYYY or YYYY-MM-DD): '2023-13-45'",
            "row 7, field 'Kinder unter 10': not a whole number of persons: '12,5'",
            "row 8, field 'AGS': 031590029 is also given in row 4"):
        assert expected in message, expected
    assert {row for row, _, _ in info.value.problems} == {2, 3, 4, 5, 6, 7, 8}


def test_missing_columns_and_size_caps(settings: Settings, tmp_path: Path) -> None:
    units, gemeinden = load_units(settings, "unit"), load_units(settings, "gemeinde")
    no_date = tmp_path / "ohne_stand.csv"
    no_date.write_text("Kommune,Einwohner\nRosdorf,12022\nNirgendwo,5\n", "utf-8")
    with pytest.raises(PopulationFileError, match=r"column 'date': missing.*row 3, field "
                       r"'Kommune': no Gemeinde \(AGS\), unit \(ARS\) or unit name 'Nirgendwo'"):
        read_population_table(no_date, units, gemeinden)
    no_key = tmp_path / "ohne_schluessel.csv"
    no_key.write_text("Einwohner;Stand\n12022;31.12.2023\n", "utf-8")
    with pytest.raises(PopulationFileError, match="column 'key': missing"):
        read_population_table(no_key, units, gemeinden)
    wide = openpyxl.Workbook()
    wide.active.append([f"c{i}" for i in range(MAX_COLUMNS + 1)])
    wide.save(tmp_path / "wide.xlsx")
    with pytest.raises(DataError, match="51 columns; at most 50"):
        read_population_table(tmp_path / "wide.xlsx", units, gemeinden)
    long = tmp_path / "long.csv"
    long.write_text("ags,inhabitants,date\n" + "03159016,1,31.12.2023\n" * (MAX_ROWS + 1))
    with pytest.raises(DataError, match="more than 100,000 rows"):
        read_population_table(long, units, gemeinden)
