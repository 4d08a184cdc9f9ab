"""``erreichbar layers build`` on the real data: the JSON summary, the files, the cache."""

from __future__ import annotations

import json
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
    units = pd.read_csv(out / "population_units.csv")
    assert units["inhabitants"].sum() == summary["population"]


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
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in done.stderr
    assert "row 3, field 'name': missing value" in last
    assert "row 4, field 'category': unknown category 'schwimmbad'" in last
