"""``erreichbar layers build`` on the real data: the JSON summary, the files, the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from geo.cli import app
from geo.settings import REPO_ROOT, Settings
from geo.sources.boundaries import load_units
from geo.sources.layers import layers_dir
from geo.vocabulary import METRIC_CRS

TEMPLATE = REPO_ROOT / "geo" / "sources" / "data" / "offer_template.csv"
UNITS_2019 = "population_units_2019.csv"


def _run(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(settings.work_dir))
    result = CliRunner().invoke(app, ["layers", "build", "--region", "goettingen",
                                      "--data-dir", str(settings.data_dir), *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def summary(settings: Settings) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        return _run(settings, mp)


def test_summary_numbers(summary: dict, settings: Settings, data_dir: Path) -> None:
    assert (summary["units"], summary["gemeinden"]) == (20, 40)
    one_km = pd.read_csv(data_dir / "goettingen" / "zensus2011_einwohner_1km.csv")
    hundred = pd.read_csv(data_dir / "goettingen" / "zensus2011_alter_10jg_1_100m.csv")
    assert summary["population"] == one_km.loc[one_km["einwohner"] > 0, "einwohner"].sum()
    assert summary["children_under_10"] == hundred["alter_10jg_1"].sum()
    assert summary["offers"]["grundschule"] >= 78
    assert set(summary["offers"]) >= {"kita", "grundschule", "familienzentrum", "fruehe_hilfen",
                                      "beratung", "familienbildung", "gesundheit", "freizeit"}
    assert summary["offers_planned"] == {"familienzentrum": 2}
    assert summary["offers_closed"] == {"familienzentrum": 1, "familienbildung": 1}
    # youth-office area = county minus Stadt Göttingen, computed from the CSV extracts
    goettingen = load_units(settings, "gemeinde").query("ags == '03159016'")
    for frame, value, key in ((one_km[one_km["einwohner"] > 0], "einwohner", "population"),
                              (hundred, "alter_10jg_1", "children_under_10")):
        points = gpd.GeoDataFrame(frame, crs=METRIC_CRS, geometry=gpd.points_from_xy(
            frame["x_3035"], frame["y_3035"]))
        in_city = gpd.sjoin(points, goettingen, predicate="within")[value].sum()
        assert summary["youth_office_area"][key] == summary[key] - in_city
    assert summary["youth_office_area"]["excluded"] == ["03159016"]
    assert summary["units_grid_vs_official"]["Göttingen"] == {
        "census_grid": 116_072, "official_2019": 121_150}


def test_summary_need_totals(summary: dict, data_dir: Path) -> None:
    """Need totals equal the county extracts (data README: 24,756 / 3,889 / 16,375)."""
    families = pd.read_csv(data_dir / "goettingen" / "zensus2011_families_with_minors_100m.csv")
    foreign = pd.read_csv(data_dir / "goettingen" / "zensus2011_foreign_nationals_100m.csv")
    singles = ["single_fathers_with_minor", "single_mothers_with_minor"]
    assert summary["families_with_minors"] == families.iloc[:, 2:].sum().sum() == 24_756
    assert summary["single_parent_families"] == families[singles].sum().sum() == 3_889
    assert summary["foreign_nationals"] == foreign["foreign_nationals"].sum() == 16_375
    assert summary["census"] == {"name": "Zensus 2011", "census_day": "2011-05-09"}
    assert summary["population_basis"] == "Zensus 2011 (09.05.2011)"
    assert summary["population_scaling"] == {}


def test_files(summary: dict, settings: Settings) -> None:
    out = layers_dir(settings)
    assert Path(summary["out_dir"]) == out
    for name, total in (("inhabitants_1km.tif", summary["population"]),
                        ("children_under10_100m.tif", summary["children_under_10"])):
        with rasterio.open(out / name) as src:
            assert src.crs.to_epsg() == 3035 and src.nodata == -1
            assert src.read(1, masked=True).sum() == total
    with rasterio.open(out / "share_under18_1km.tif") as src:
        share = src.read(1, masked=True)
        assert 0 <= share.min() and share.max() <= 1  # fractions, not percent
    assert gpd.list_layers(out / "boundaries.gpkg")["name"].tolist() == [
        "county", "unit", "gemeinde", "youth_office"]
    offers = gpd.read_file(out / "offers.geojson")
    active = offers[offers["status"] == "active"]["category"].value_counts().to_dict()
    assert active == {k: v for k, v in summary["offers"].items() if v}
    merged = pd.read_csv(out / "offer_merged.csv")  # duplicate Kitas (test_offer_quality.py)
    assert len(merged) == summary["offers_merged"] == 3
    assert not offers["id"].isin(merged["dropped_id"]).any()
    units = pd.read_csv(out / "population_units.csv")
    assert units["inhabitants"].sum() == summary["population"]
    assert units["families_with_minors"].sum() == summary["families_with_minors"]
    assert (units["population_basis"] == "Zensus 2011 (09.05.2011)").all()


def test_need_files(summary: dict, settings: Settings) -> None:
    out = layers_dir(settings)
    need = gpd.read_parquet(out / "need_100m.parquet")
    assert need.crs == METRIC_CRS and len(need) == summary["need_cells_100m"] == 6_054
    for value in ("families_with_minors", "single_parent_families", "foreign_nationals"):
        assert need[value].sum() == summary[value]
        with rasterio.open(out / f"{value}_100m.tif") as src:
            band = src.read(1, masked=True)
            assert src.nodata == -1 and src.res == (100.0, 100.0)
            assert band.sum() == summary[value]  # not published = nodata, not 0
            assert band.count() == need[value].notna().sum()
            assert src.tags()["population_basis"] == "Zensus 2011 (09.05.2011)"
    cells = gpd.read_parquet(out / "inhabitants_1km.parquet")
    for value, high in (("share_foreign_nationals", 1), ("mean_household_size", 6),
                        ("vacancy_rate", 1)):
        with rasterio.open(out / f"{value}_1km.tif") as src:
            band = src.read(1, masked=True)
            assert 0 <= band.min() and band.max() <= high
            assert band.count() == cells[value].notna().sum()
    with rasterio.open(out / "inhabitants_1km.tif") as src:
        assert src.tags()["population_basis"] == "Zensus 2011 (09.05.2011)"


def test_rebuild_only_on_change(summary: dict, settings: Settings,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = layers_dir(settings) / "manifest.json"
    before = manifest.stat().st_mtime_ns
    assert _run(settings, monkeypatch) == summary
    assert manifest.stat().st_mtime_ns == before  # unchanged inputs: nothing rebuilt
    own = _run(settings, monkeypatch, "--offers", str(TEMPLATE))  # the county's own list
    assert own["offers_own_file"] == 1
    assert own["offers"]["familienzentrum"] == summary["offers"]["familienzentrum"] + 1
    assert manifest.stat().st_mtime_ns != before


def test_bad_offer_file_exits_2_with_one_line(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "angebote.csv"
    bad.write_text("Name,Kategorie,Breite,Länge\nKita A,kita,51.53,9.93\n"
                   ",kita,51.53,9.93\nB,schwimmbad,51.53,9.93\n", "utf-8")
    done = subprocess.run([sys.executable, "-m", "geo.cli", "layers", "check-offers", str(bad),
                           "--data-dir", str(data_dir)], capture_output=True, text=True,
                          cwd=REPO_ROOT, check=False)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in done.stderr
    # one error line per bad row, each naming its row and field
    assert any("row 3, field 'name': missing value" in line for line in errors)
    assert any("row 4, field 'category': unknown category 'schwimmbad'" in line
               for line in errors)


def test_bad_population_table_exits_2(tmp_path: Path, data_dir: Path, settings: Settings) -> None:
    bad = tmp_path / "einwohner.csv"
    bad.write_text("Kommune;Einwohner;Stand\nRosdorf;12.022;31.12.2023\n"
                   "Atlantis;500;31.12.2023\nBovenden;-3;31.12.2023\n", "utf-8")
    env = {**os.environ, "ERREICHBAR_WORK_DIR": str(tmp_path / "work")}
    for command in (["layers", "check-population", str(bad)],
                    ["layers", "build", "--population", str(bad)]):
        done = subprocess.run([sys.executable, "-m", "geo.cli", *command, "--data-dir",
                               str(data_dir)], capture_output=True, text=True, cwd=REPO_ROOT,
                              check=False, env=env)
        assert done.returncode == 2, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and "Traceback" not in done.stderr
        assert "2 of 3 rows are bad" in last
        assert "row 3, field 'Kommune': no Gemeinde (AGS), unit (ARS) or unit name " \
               "'Atlantis'" in last
        assert "row 4, field 'Einwohner': negative number -3" in last
    assert not (tmp_path / "work" / "processed").exists()  # nothing written


def test_check_population_prints_the_table(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["layers", "check-population",
                                      str(data_dir / "goettingen" / UNITS_2019),
                                      "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["areas"] == {"unit": 19} and answer["dates"] == ["2019-12-31"]
    assert answer["totals"] == {"inhabitants": 325_817}
    assert answer["population_basis"].startswith(
        "Zensus 2011-Verteilung, skaliert auf population_units_2019.csv, 31.12.2019")


def test_build_scaled_to_own_totals(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                    data_dir: Path) -> None:
    """`layers build --population population_units_2019.csv`: each unit's 1 km inhabitants add
    up to its official 2019 figure; every population output names the basis."""
    scaled = _run(settings, monkeypatch, "--population", str(data_dir / "goettingen" / UNITS_2019))
    basis = "Zensus 2011-Verteilung, skaliert auf population_units_2019.csv, 31.12.2019"
    assert scaled["population_basis"].startswith(basis)
    assert scaled["population"] == 325_817 + 1_717  # + the unincorporated Harz, unscaled
    assert scaled["population_scaling"]["inhabitants"]["census_outside"] == 1_717
    assert scaled["children_under_10"] == 24_735  # no children in the table: census
    assert scaled["units_grid_vs_official"]["Göttingen"] == {
        "census_grid": 116_072, "official_2019": 121_150}
    out = layers_dir(settings)
    units = pd.read_csv(out / "population_units.csv").dropna(subset=["official_2019"])
    assert (units["inhabitants"] == units["official_2019"]).all()
    assert units["inhabitants_census"].sum() == 322_185 - 1_717
    cells = gpd.read_parquet(out / "inhabitants_1km.parquet")
    assert (cells["population_basis"] == basis).all()
    sums = cells.groupby("unit_ags")["inhabitants"].sum()
    official = units.set_index(units["ags"].astype(str).str.zfill(9))["official_2019"]
    assert abs(sums.reindex(official.index) - official).max() < 1e-6
    with rasterio.open(out / "inhabitants_1km.tif") as src:
        assert src.tags()["population_basis"] == basis and src.dtypes == ("float32",)
        assert src.read(1, masked=True).sum() == pytest.approx(327_534, abs=0.5)
    children = gpd.read_parquet(out / "children_100m.parquet")
    assert (children["population_basis"] == "Zensus 2011 (09.05.2011)").all()
