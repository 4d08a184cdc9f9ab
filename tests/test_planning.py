"""The planners' workspace on the real data: evaluated plans equal the engine's what-if,
saved scenarios load and compare to the same numbers, downloads open in pandas, geopandas
and rasterio and match the table; bad input gets 4xx with German messages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import Services
from geo.errors import LimitError
from geo.products import scenarios
from geo.products.siting import completeness
from geo.settings import PlannerSettings, Settings

#: A place in Hattorf am Harz (WGS84) where a new Kita brings children within 15 min on foot.
HATTORF = (10.2297, 51.6397)
#: Albaniplatz, Göttingen: the Albanischule is the nearest Grundschule on foot.
ALBANI = (9.9354, 51.5328)
KITA_SITE = {"category": "kita", "mode": "walk", "minutes": 15, "add": [list(HATTORF)]}


@pytest.fixture(scope="module")
def app(services: Services, settings: Settings) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert "Traceback" not in response.text
    return body["detail"][0]


def _gained_cells(services: Services, plan: dict, minutes: int) -> pd.Series:
    """Children newly within ``minutes`` per Gemeinde, summed from the what-if's cells."""
    cells = services.engine.what_if(plan["category"], plan["mode"],
                                    add=[tuple(s) for s in plan.get("add", [])],
                                    remove=plan.get("remove", [])).cells
    gained = cells[(cells["minutes_before"] > minutes) & (cells["minutes_after"] <= minutes)]
    lost = cells[(cells["minutes_before"] <= minutes) & (cells["minutes_after"] > minutes)]
    return (gained.groupby("gemeinde_ags")["children_under_10"].sum()
            .sub(lost.groupby("gemeinde_ags")["children_under_10"].sum(), fill_value=0))


def test_evaluate_equals_the_engines_what_if(client, services) -> None:
    r = client.post("/planning/evaluate", json=KITA_SITE)
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["ags"]: row for row in body["rows"]}
    what_if = services.engine.what_if("kita", "walk", add=[HATTORF]).gemeinden
    assert {a: rows[a]["gained"] for a in rows} == dict(
        zip(what_if["ags"], what_if["children_within_15min_change"], strict=True))
    by_cells = _gained_cells(services, KITA_SITE, 15)
    assert by_cells[by_cells != 0].to_dict() == {a: r["gained"] for a, r in rows.items()
                                                 if r["gained"]}
    assert body["totals"]["gained"] == by_cells.sum() > 0
    # today: the engine's own cell table, summed independently
    cells = services.engine.cells("kita", "walk")
    within = cells[cells["minutes"] <= 15].groupby("gemeinde_ags")["children_under_10"].sum()
    for ags, row in rows.items():
        assert row["within_before"] == pytest.approx(within.get(ags, 0.0))
        assert row["within_after"] == pytest.approx(row["within_before"] + row["gained"])
    assert body["totals"]["total"] == cells["children_under_10"].sum()
    assert body["image"]["url"].startswith("data:image/png;base64,")
    assert body["description"] == ("Kita zu Fuß, 15 min, Kinder unter 10; neue Standorte: 1, "
                                   "geschlossene Angebote: 0")


def test_closing_an_offer_weighted_by_single_parents(client, services) -> None:
    school = services.engine.nearest(*ALBANI, "grundschule", "walk", 1)["offer_id"].iloc[0]
    plan = {"category": "grundschule", "mode": "walk", "minutes": 10,
            "weight": "single_parent_families", "remove": [school]}
    body = client.post("/planning/evaluate", json=plan).json()
    rows = {row["name"]: row for row in body["rows"]}
    cells = services.engine.cells("grundschule", "walk", weight="single_parent_families")
    weight = cells["single_parent_families"].fillna(0)
    assert body["totals"]["total"] == pytest.approx(weight.sum())
    assert body["totals"]["within_before"] == pytest.approx(weight[cells["minutes"] <= 10].sum())
    assert rows["Göttingen"]["gained"] < 0  # families lose their school within 10 min
    assert all(r["gained"] <= 0 for r in body["rows"])


def test_save_load_and_compare_give_the_what_if_numbers(client, services, settings) -> None:
    kita = services.engine.nearest(*ALBANI, "kita", "walk", 1)["offer_id"].iloc[0]
    second = {"category": "kita", "mode": "walk", "minutes": 5, "remove": [kita]}
    a = client.post("/planning/scenarios", json={"name": "Kita Hattorf", "plan": KITA_SITE})
    b = client.post("/planning/scenarios", json={"name": "Kita Albani zu", "plan": second})
    assert a.status_code == b.status_code == 201, a.text
    a, b = a.json(), b.json()
    assert a["id"].startswith("kita-hattorf-") and a["link"] == f"/planung?szenario={a['id']}"
    stored = scenarios.ScenarioStore(settings).folder / f"{a['id']}.json"
    assert json.loads(stored.read_text("utf-8"))["plan"]["add"] == [list(HATTORF)]
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".")]  # no temp files
    loaded = client.get(f"/planning/scenarios/{a['id']}").json()
    assert loaded["plan"] == a["plan"] and loaded["name"] == "Kita Hattorf"
    assert loaded["vintages"]["population"].startswith("Zensus 2011")
    odd = client.post("/planning/scenarios", json={"name": "../../etc/passwd", "plan": second})
    assert odd.json()["id"].startswith("etc-passwd-")  # a name, never a path
    assert (stored.parent / f"{odd.json()['id']}.json").is_file()
    listed = [s["id"] for s in client.get("/planning/scenarios").json()]
    assert {a["id"], b["id"]} <= set(listed)
    r = client.get("/planning/compare", params={"a": a["id"], "b": b["id"]})
    assert r.status_code == 200, r.text
    rows = {row["ags"]: row for row in r.json()["rows"]}
    gained_a, gained_b = _gained_cells(services, KITA_SITE, 15), _gained_cells(services, second, 5)
    for ags, row in rows.items():
        assert row["gained_a"] == gained_a.get(ags, 0)
        assert row["gained_b"] == gained_b.get(ags, 0)
        assert row["difference"] == row["gained_b"] - row["gained_a"]
    assert rows["03159018"]["gained_a"] > 0  # Hattorf am Harz
    assert sum(row["gained_b"] for row in rows.values()) < 0


@pytest.mark.parametrize("name", ["", " ", "x" * 81, "<script>", "a\nb", "Kita\x00"])
def test_bad_names_are_refused_in_german(client, name) -> None:
    problem = _problem(client.post("/planning/scenarios",
                                   json={"name": name, "plan": KITA_SITE}), 422)
    assert problem["loc"][:2] == ["body", "name"] or problem["loc"][-1] == "name"


@pytest.mark.parametrize(("scenario_id", "status"), [
    ("..a", 422), ("Abc", 422), (".passwd", 422), ("gibt-es-nicht-123", 404)])
def test_scenario_ids_are_checked(client, scenario_id, status) -> None:
    problem = _problem(client.get(f"/planning/scenarios/{scenario_id}"), status)
    assert problem["msg"].startswith(("Diese Szenario-Kennung", "Ein Szenario"))
    assert client.get("/planning/scenarios/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_bad_plans_name_the_field_in_german(client) -> None:
    unknown = _problem(client.post("/planning/evaluate", json={
        "category": "kita", "remove": ["no-such-offer"]}), 422)
    assert unknown["loc"] == ["body", "remove"]
    assert unknown["msg"].startswith("Dieses Angebot kann nicht geschlossen werden")
    outside = _problem(client.post("/planning/evaluate", json={
        "category": "kita", "add": [[13.4, 52.5]]}), 422)
    assert outside["type"] == "outside_region" and "außerhalb" in outside["msg"]
    too_long = _problem(client.post("/planning/evaluate", json={
        "category": "kita", "minutes": 90}), 422)
    assert too_long["loc"] == ["body", "minutes"] and "60 Minuten" in too_long["msg"]
    saved_outside = _problem(client.post("/planning/scenarios", json={
        "name": "Berlin", "plan": {"category": "kita", "add": [[13.4, 52.5]]}}), 422)
    assert saved_outside["type"] == "outside_region"
    export = _problem(client.get("/planning/export/csv", params={"plan": "{kaputt"}), 422)
    assert export["loc"] == ["query", "plan"]


def test_store_limits(settings: Settings, tmp_path: Path) -> None:
    own = settings.model_copy(update={"work_dir": tmp_path, "planner": PlannerSettings(
        max_scenarios=1, file_max_bytes=1024)})
    store = scenarios.ScenarioStore(own)
    plan = scenarios.Plan.model_validate(KITA_SITE)
    saved = store.save("Erstes", plan)
    with pytest.raises(LimitError, match="schon 1 Szenarien"):
        store.save("Zweites", plan)
    big = scenarios.Plan(category="kita", remove=tuple(f"offer-{i:04d}" for i in range(150)))
    with pytest.raises(LimitError, match="zu groß"):
        scenarios.ScenarioStore(own.model_copy(update={"work_dir": tmp_path / "b"})
                                ).save("Gross", big)
    (store.folder / f"{saved.id}.json").write_text('{"id": 1}', "utf-8")  # damaged file
    with pytest.raises(scenarios.PlanError, match="beschädigt"):
        store.load(saved.id)
    assert store.list() == []  # left out of the list (and logged)


def test_downloads_open_and_match_the_table(client, services) -> None:
    table = pd.DataFrame(client.post("/planning/evaluate", json=KITA_SITE).json()["rows"])
    params = {"plan": json.dumps(KITA_SITE)}
    csv = client.get("/planning/export/csv", params=params)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert "Zensus 2011" in csv.text and "BKG VG5000" in csv.text  # sources and vintages
    frame = pd.read_csv(io.StringIO(csv.content.decode("utf-8-sig")), comment="#",
                        dtype={"Gemeindeschlüssel (AGS)": str})
    assert list(frame["Gemeindeschlüssel (AGS)"]) == list(table["ags"])
    assert list(frame["Gewinn (neu erreicht)"]) == list(table["gained"])
    xlsx = pd.read_excel(io.BytesIO(client.get("/planning/export/xlsx", params=params).content),
                         sheet_name=None, dtype={"Gemeindeschlüssel (AGS)": str})
    assert set(xlsx) == {"Gemeinden", "Szenario", "Quellen"}
    assert list(xlsx["Gemeinden"]["Gewinn (neu erreicht)"]) == list(table["gained"])
    assert list(xlsx["Gemeinden"]["Kinder unter 10"]) == list(table["total"])


def test_layers_open_in_geopandas_and_rasterio(client, services, tmp_path) -> None:
    params = {"plan": json.dumps(KITA_SITE)}
    gpkg = tmp_path / "ebenen.gpkg"
    gpkg.write_bytes(client.get("/planning/export/gpkg", params=params).content)
    units = gpd.read_file(gpkg, layer="gemeinden")
    assert units.crs.to_epsg() == 3035 and len(units) == len(services.engine.units("gemeinde"))
    what_if = services.engine.what_if("kita", "walk", add=[HATTORF]).gemeinden
    assert dict(zip(units["ags"], units["gained"], strict=True)) == dict(
        zip(what_if["ags"], what_if["children_within_15min_change"], strict=True))
    sites = gpd.read_file(gpkg, layer="neue_standorte").to_crs("EPSG:4326")
    assert len(sites) == 1
    assert (sites.geometry.x.iloc[0], sites.geometry.y.iloc[0]) == pytest.approx(HATTORF)
    assert len(gpd.read_file(gpkg, layer="geschlossen")) == 0
    sources = gpd.read_file(gpkg, layer="quellen")
    assert any(s.startswith("Zensus 2011") for s in sources["quelle"])
    tif = tmp_path / "fahrzeit.tif"
    tif.write_bytes(client.get("/planning/export/tif", params=params).content)
    base = services.engine.raster_minutes("kita", "walk")
    with rasterio.open(tif) as src:
        assert src.crs.to_epsg() == 3035 and src.res == (100.0, 100.0)
        rows, cols = rasterio.transform.rowcol(src.transform, base["x"].to_numpy(),
                                               base["y"].to_numpy())
        values = src.read(1)[rows, cols]
        assert "Kita zu Fuß" in src.tags()["szenario"]
    with_plan = np.where(values == -1, np.nan, values)
    before = base["minutes"].to_numpy()
    both = np.isfinite(with_plan) & np.isfinite(before)
    assert (with_plan[both] <= before[both] + 1e-3).all()  # a new site never slows anyone
    faster = with_plan[both] < before[both] - 1e-3
    assert 0 < faster.sum() < 0.05 * both.sum()  # better only around Hattorf
    assert np.array_equal(np.isfinite(with_plan), np.isfinite(before))


def test_page_in_german_first_and_english_when_asked(client, services: Services) -> None:
    page = client.get("/planung")
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert "Planung: Was ändert ein neues Angebot?" in page.text and "{{" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="de">' in client.get("/planung", headers={
        "Accept-Language": "en-GB,en;q=0.9"}).text  # German first, English on request
    english = client.get("/planung", params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Planning: what does" in english.text
    assert "{{" not in english.text
    de = client.get("/planning/options").json()
    assert [m["label"] for m in de["modes"]] == ["zu Fuß", "mit dem Rad", "mit dem Auto"]
    assert de["texts"]["best_sites"] == "Beste Standorte" and de["minutes"] == 15
    table = completeness(services.engine)  # the reports' check, flagged names in its order
    assert de["incomplete"] == list(table.loc[table["flagged"], "name"])
    assert "Duderstadt" in de["incomplete"]
    en = client.get("/planning/options", params={"lang": "en"}).json()
    assert en["modes"][0]["label"] == "on foot" and en["texts"]["best_sites"] == "Best sites"
    for path in ("/planung.js", "/planung.css"):
        assert client.get(path).status_code == 200
