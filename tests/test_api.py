"""API tests on the real data: answers equal the engine's, 4xx bodies name the field,
schemathesis finds no 5xx over the OpenAPI schema."""

from __future__ import annotations

import re
from pathlib import Path

import hypothesis
import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import Services
from geo import messages
from geo.errors import DataError
from geo.products import siting
from geo.settings import MapSettings, Settings

#: A real address in the city of Göttingen (an OSM house number of both tile sets).
ADDRESS = "Weender Landstraße 2, 37073 Göttingen"
#: Albaniplatz, Göttingen (WGS84): the Albanischule is the nearest Grundschule on foot.
ALBANI = (9.9354, 51.5328)


@pytest.fixture(scope="module")
def map_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("maps")


@pytest.fixture(scope="module")
def app(services: Services, basemap_settings: Settings, map_dir: Path) -> FastAPI:
    own = basemap_settings.model_copy(update={"maps": MapSettings(out_dir=map_dir)})
    return create_app(own, services)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "suggestions"}
    assert "Traceback" not in response.text
    return body


def test_nearest_grundschule_at_a_point_equals_the_engine(client, services) -> None:
    r = client.get("/nearest", params={"lat": ALBANI[1], "lon": ALBANI[0],
                                       "category": "grundschule", "mode": "walk", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    engine = services.engine.nearest(*ALBANI, "grundschule", "walk", 3)
    assert [x["offer"]["id"] for x in body["results"]] == engine["offer_id"].tolist()
    assert [x["minutes"] for x in body["results"]] == \
        pytest.approx(engine["minutes"].round(2).tolist())
    first = body["results"][0]
    assert first["offer"]["name"] == "Albanischule Grundschule"
    assert 3 < first["minutes"] < 10  # ≈ 6.7 min walk across the Albaniplatz quarter
    assert np.diff([x["minutes"] for x in body["results"]]).min() >= 0
    route = first["route"]["coordinates"]
    assert route[0] == pytest.approx(ALBANI, abs=1e-6)
    assert route[-1] == pytest.approx(first["location"]["coordinates"], abs=1e-6)


def test_nearest_without_routes_gives_the_same_offers_and_minutes(client) -> None:
    params = {"lat": ALBANI[1], "lon": ALBANI[0], "category": "kita", "mode": "bike", "k": 5}
    full = client.get("/nearest", params=params).json()["results"]
    lean = client.get("/nearest", params={**params, "route": "false"}).json()["results"]
    assert [(r["offer"]["id"], r["minutes"]) for r in lean] == \
        [(r["offer"]["id"], r["minutes"]) for r in full]
    assert len(lean) == 5 and all(r["route"] is None for r in lean)


def test_nearest_by_address_equals_the_engine_at_the_geocoded_point(client, services) -> None:
    r = client.get("/nearest", params={"address": ADDRESS, "category": "grundschule",
                                       "mode": "walk", "k": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    origin = body["origin"]
    assert origin["precision"] == "address"
    assert origin["address"].startswith("Weender Landstraße 2, ")
    assert "Göttingen" in origin["address"]
    # the OSM house number lies at the Weender Tor, north of the old town
    assert origin["lon"] == pytest.approx(9.933, abs=0.003)
    assert origin["lat"] == pytest.approx(51.542, abs=0.003)
    engine = services.engine.nearest(origin["lon"], origin["lat"], "grundschule", "walk", 1)
    assert body["results"][0]["offer"]["id"] == engine["offer_id"].iloc[0]
    assert body["results"][0]["minutes"] == pytest.approx(round(engine["minutes"].iloc[0], 2))


@pytest.mark.parametrize(("params", "status", "field", "kind"), [
    ({"lat": 52.52, "lon": 13.40, "category": "kita"}, 422, "lat", "outside_region"),
    ({"lat": 51.53, "lon": 9.93, "category": "zoo"}, 422, "category", "enum"),
    ({"lat": 51.53, "lon": 9.93, "category": "kita", "mode": "plane"}, 422, "mode", "enum"),
    ({"lat": 51.53, "lon": 9.93, "category": "kita", "k": 99}, 422, "k", "less_than_equal"),
    ({"lat": 95, "lon": 9.93, "category": "kita"}, 422, "lat", "less_than_equal"),
    ({"category": "kita"}, 422, "lat", "missing"),
    ({"address": ADDRESS, "lat": 51.53, "lon": 9.93, "category": "kita"}, 422, "address",
     "conflict"),
])
def test_nearest_refuses_bad_input_naming_the_field(client, params, status, field, kind) -> None:
    body = _problem(client.get("/nearest", params=params), status)
    assert body["detail"][0]["loc"][-1] == field
    assert body["detail"][0]["type"] == kind


def test_unknown_address_gets_suggestions(client) -> None:
    body = _problem(client.get("/nearest", params={"address": "Wender Landstrasse 2",
                                                   "category": "kita"}), 404)
    assert body["detail"][0]["loc"] == ["query", "address"]
    assert "Weender Landstraße" in body["suggestions"]


def test_ambiguous_address_lists_the_towns(client) -> None:
    body = _problem(client.get("/nearest", params={"address": "Hauptstraße 5",
                                                   "category": "kita"}), 404)
    assert body["detail"][0]["msg"] == ("Die Adresse 'Hauptstraße 5' gibt es mehrmals. "
                                        "Meinten Sie eine dieser Adressen?")
    assert len(body["suggestions"]) > 1
    assert all(s.startswith("Hauptstraße 5, ") for s in body["suggestions"])


def test_offers_filter_by_category_and_gemeinde(client, services) -> None:
    r = client.get("/offers", params={"category": "familienzentrum", "gemeinde": "Göttingen"})
    assert r.status_code == 200
    features = r.json()["features"]
    catalogue = services.engine.offers
    expected = catalogue[(catalogue["category"] == "familienzentrum")
                         & (catalogue["status"] == "active")]
    assert 0 < len(features) < len(expected)
    assert {f["properties"]["gemeinde"] for f in features} == {"Göttingen"}
    assert {f["properties"]["id"] for f in features} <= set(expected["id"])
    everything = client.get("/offers").json()["features"]
    assert len(everything) == int((catalogue["status"] == "active").sum())
    body = _problem(client.get("/offers", params={"gemeinde": "Atlantis"}), 422)
    assert body["detail"][0]["loc"] == ["query", "gemeinde"]
    assert "Rosdorf" in body["suggestions"]


def test_isochrones_grow_with_the_budget(client) -> None:
    r = client.get("/isochrones", params={"lat": ALBANI[1], "lon": ALBANI[0], "mode": "walk",
                                          "minutes": "5,10"})
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert [f["properties"]["minutes"] for f in features] == [10.0, 5.0]
    big, small = (f["properties"]["area_km2"] for f in features)
    assert 0 < small < big < 5  # a 10-minute walk covers well under 5 km²
    body = _problem(client.get("/isochrones", params={"lat": ALBANI[1], "lon": ALBANI[0],
                                                      "minutes": "ten"}), 422)
    assert body["detail"][0]["loc"] == ["query", "minutes"]


def test_coverage_equals_the_engine(client, services) -> None:
    r = client.get("/coverage", params={"category": "kita", "unit": "county", "mode": "walk",
                                        "minutes": "10,15"})
    assert r.status_code == 200, r.text
    row = r.json()["rows"][0]
    engine = services.engine.coverage("county", "kita", "walk", (10, 15)).iloc[0]
    assert row["children"]["persons"] == engine["children"]
    assert row["children"]["within_share"]["15"] == pytest.approx(
        engine["children_within_15min_share"])
    assert row["inhabitants"]["within_share"]["10"] == pytest.approx(
        engine["inhabitants_within_10min_share"])
    # the one white-spot definition, stated (15 min on foot: this answer's mode)
    answer = r.json()
    assert (answer["white_spot_minutes"], answer["white_spot_mode"]) == (15, "walk")
    assert answer["white_spot"].startswith("Weißer Fleck: mehr als 15 Minuten zu Fuß")
    assert row["children"]["beyond_white_spot"] == engine["children_beyond_15min"]
    body = _problem(client.get("/coverage", params={"category": "kita", "minutes": "7.5"}), 422)
    assert body["detail"][0]["loc"] == ["query", "minutes"]
    gemeinden = client.get("/coverage", params={"category": "kita"}).json()["rows"]
    assert len(gemeinden) == len(services.engine.units("gemeinde"))
    assert sum(g["children"]["persons"] for g in gemeinden) == row["children"]["persons"]


def test_scenario_closing_the_albanischule_worsens_goettingen(client, services) -> None:
    nearest = services.engine.nearest(*ALBANI, "grundschule", "walk", 1)["offer_id"].iloc[0]
    r = client.post("/scenarios", json={"category": "grundschule", "mode": "walk",
                                        "remove": [nearest]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed_cells"] > 0
    rows = {g["name"]: g for g in body["gemeinden"]}
    assert rows["Göttingen"]["within_change"]["10"] < 0
    assert all(g["within_change"]["10"] <= 0 for g in body["gemeinden"])
    bad = _problem(client.post("/scenarios", json={"category": "grundschule",
                                                   "remove": ["no-such-offer"]}), 422)
    assert bad["detail"][0]["loc"] == ["body", "remove"]
    outside = _problem(client.post("/scenarios", json={
        "category": "kita", "add": [{"lon": 13.4, "lat": 52.5}]}), 422)
    assert outside["detail"][0]["type"] == "outside_region"


def test_transit_scenario_without_timetable_is_409(client) -> None:
    """/scenarios takes mode transit (its what-if combines stop-to-stop scans; numbers on
    the Enzkreis feed: tests/test_transit_access.py); Göttingen has no timetable: 409."""
    body = _problem(client.post("/scenarios", json={
        "category": "kita", "mode": "transit", "add": [{"lon": ALBANI[0], "lat": ALBANI[1]}]}),
        409)
    assert body["detail"][0]["type"] == "no_timetable"
    assert body["detail"][0]["loc"] == ["body", "mode"]


@pytest.mark.parametrize(("path", "params"), [
    ("/nearest", {"category": "familienzentrum"}),
    ("/nearest", {"category": "familienzentrum", "route": "false"}),
    ("/isochrones", {"minutes": "15,30"}),
    ("/coverage", {"category": "kita", "unit": "county"}),
    ("/there-and-back", {"offer_id": "any", "date": "2026-12-01"}),
])
def test_transit_without_timetable_names_mode(client, services, path, params) -> None:
    """Göttingen has stops but no timetable: 409 naming ``mode`` with the engine's message."""
    query = {"lat": ALBANI[1], "lon": ALBANI[0], "mode": "transit", **params}
    body = _problem(client.get(path, params=query), 409)
    assert body["detail"][0]["loc"] == ["query", "mode"]
    assert body["detail"][0]["type"] == "no_timetable"
    with pytest.raises(DataError) as engine:
        services.engine.nearest_many(np.array([ALBANI[0]]), np.array([ALBANI[1]]),
                                     "familienzentrum", "transit", 1)
    assert body["detail"][0]["msg"] == messages.text("errors.type.no_timetable", "de",
                                                     region=services.engine.region.title)
    assert "no public-transport timetable is loaded" in str(engine.value)
    assert "erreichbar gtfs load" in str(engine.value)


def test_best_sites_equal_the_siting_module(client, services) -> None:
    query = {"category": "familienzentrum", "mode": "bike", "minutes": 15, "k": 2}
    r = client.post("/scenarios/best-sites", json=query)
    assert r.status_code == 200, r.text
    body = r.json()
    expect = siting.best_sites(services.engine, "familienzentrum", "bike", 15, 2).summary()
    assert body.pop("seconds") >= 0 and expect.pop("seconds") >= 0
    assert body == expect
    first = body["sites"][0]
    assert [s["rank"] for s in body["sites"]] == [1, 2]
    # ≈1,450 more children within 15 min by bike, the first site in Göttingen's east
    assert 1000 < first["children_gained"] < 2000
    assert first["lon"] == pytest.approx(9.957, abs=0.01)
    assert first["lat"] == pytest.approx(51.525, abs=0.01)
    assert body["sites"][1]["children_gained"] <= first["children_gained"]


def test_weights_for_coverage_and_best_sites(client, services) -> None:
    """?weight= and the best-sites weight answer what the engine and siting say."""
    r = client.get("/coverage", params={"category": "familienzentrum", "mode": "walk",
                                        "unit": "county", "minutes": "15",
                                        "weight": "single_parent_families"})
    assert r.status_code == 200, r.text
    body = r.json()
    table = services.engine.coverage("county", "familienzentrum", "walk", [15],
                                     weight="single_parent_families").iloc[0]
    row = body["rows"][0]
    assert body["weight"] == "single_parent_families"
    assert row["weighted"]["persons"] == table["single_parent_families"] == 3_889
    assert row["weighted"]["within_share"]["15"] == \
        table["single_parent_families_within_15min_share"]
    assert client.get("/coverage", params={"category": "kita", "weight": "armut"}
                      ).status_code == 422
    query = {"category": "familienzentrum", "mode": "bike", "minutes": 15, "k": 1,
             "weight": "single_parent_families"}
    r = client.post("/scenarios/best-sites", json=query)
    assert r.status_code == 200, r.text
    got = r.json()
    expect = siting.best_sites(services.engine, "familienzentrum", "bike", 15, 1,
                               weight="single_parent_families").summary()
    assert got["weight"] == "single_parent_families" and got["children_total"] is None
    assert got["total"] == expect["total"] and \
        got["sites"][0]["gained"] == expect["sites"][0]["gained"] > 0


@pytest.mark.parametrize(("query", "field", "kind"), [
    ({"category": "zoo"}, "category", "enum"),
    ({"category": "kita", "mode": "transit"}, "mode", "enum"),
    ({"category": "kita", "k": 11}, "k", "less_than_equal"),
    ({"category": "kita", "minutes": 0}, "minutes", "greater_than"),
    ({"category": "kita", "unit": "Atlantis"}, "unit", "unknown_unit"),
    ({"category": "kita", "candidates": [{"lon": 13.4, "lat": 52.5}]}, "candidates",
     "outside_region"),
])
def test_best_sites_refuse_bad_input_naming_the_field(client, query, field, kind) -> None:
    body = _problem(client.post("/scenarios/best-sites", json=query), 422)
    assert body["detail"][0]["loc"][:2] == ["body", field]
    assert body["detail"][0]["type"] == kind


def test_docs_load_only_local_assets(client) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r'(?:src|href|spec-url)\s*=\s*["\']([^"\']+)', html) + \
            re.findall(r"url:\s*'([^']+)'", html)
        assert urls, page
        assert all(u.startswith("/") for u in urls), (page, urls)
        assert "http" not in html.replace("http-equiv", ""), page
        for url in urls:
            assert client.get(url).status_code == 200, url


def test_health_and_maps(client, services, map_dir: Path) -> None:
    body = client.get("/health").json()
    active = services.engine.offers.query("status == 'active'")["category"].value_counts()
    assert body["offers"]["grundschule"] == active["grundschule"] == 78
    assert body["geocoder"]["addresses"] > 50_000
    assert body["modes"] == ["walk", "bike", "car"] and body["ready"] is True  # no timetable
    assert body["vintages"]["osm_tiles"] == "2021-08"
    (map_dir / "kita-walk.html").write_text("<html>Karte</html>", "utf-8")
    assert client.get("/maps").json() == {"maps": ["kita-walk"]}
    assert client.get("/maps/kita-walk").text == "<html>Karte</html>"
    body = _problem(client.get("/maps/secret"), 404)
    assert _problem(client.get("/maps/a/../../x"), 404)["detail"]
    assert body["suggestions"] == ["kita-walk"]
    page = client.get("/")
    assert page.status_code == 200 and 'lang="de"' in page.text
    assert client.get("/static/leaflet/leaflet.min.js").status_code == 200


def test_no_server_errors_over_the_openapi_schema(app: FastAPI) -> None:
    """schemathesis: generated requests for every operation; no answer may be a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    calls: list[int] = []
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=12, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def check(case) -> None:
            response = case.call()
            calls.append(response.status_code)
            assert response.status_code < 500, (case.path, case.query, response.text)

        check()
    assert len(calls) > len(operations)


def test_chain_of_a_gemeinde_is_the_products(client, services) -> None:
    """GET /chain answers the chain module's figures; an unknown Gemeinde is a 4xx naming it."""
    from geo.products.chain import ChainData, gemeinde_chain

    r = client.get("/chain", params={"gemeinde": "Bad Grund", "mode": "bike"})
    assert r.status_code == 200, r.text
    body = r.json()
    expect = gemeinde_chain(ChainData(services.engine), "Bad Grund", "bike")
    assert body["gemeinde"]["ags"] == expect["gemeinde"]["ags"] == "03159002"
    assert [st["stage"] for st in body["stages"]] == [st["stage"] for st in expect["stages"]]
    assert [st["reach_share"] for st in body["stages"]] == \
        [st["reach_share"] for st in expect["stages"]]
    assert body["gaps"] == expect["gaps"]
    r = client.get("/chain", params={"gemeinde": "Atlantis"})
    assert 400 <= r.status_code < 500 and r.json()["detail"][0]["loc"] == ["query", "gemeinde"]


def test_ambiguous_address_offers_its_candidates(client) -> None:
    """An address several places fit is a 404 of its own kind listing them to pick from."""
    r = client.get("/nearest", params={"address": "Hauptstraße 5", "category": "kita"})
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["detail"][0]["type"] == "address_ambiguous"
    assert len(body["suggestions"]) >= 2
    again = client.get("/nearest", params={"address": body["suggestions"][0],
                                           "category": "kita"})
    assert again.status_code == 200, again.text
