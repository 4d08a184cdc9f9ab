"""Hostile input and heavy load, each a real request against the app on the real data:
page headers (CSP), work budgets, heavy slots, readiness, the catch-all handler, maps
outside maps/, body limit, echo limit, one rule per fact (points, clock times, Gemeinden)."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.models import IsochroneCollection
from api.services import Services
from geo.networks.snap import to_metric
from geo.products.transition import offer_gemeinden
from geo.settings import ApiSettings, MapSettings, Settings

ALBANI = {"lat": 51.5328, "lon": 9.9354}  # Albaniplatz, Göttingen
ADDRESS = "Weender Landstraße 2, 37073 Göttingen"


@pytest.fixture(scope="module")
def map_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("maps")


def _app(services: Services, settings: Settings, map_dir: Path, **api: object) -> FastAPI:
    own = settings.model_copy(update={"maps": MapSettings(out_dir=map_dir),
                                      "api": ApiSettings(**{"warm_up": False, **api})})
    return create_app(own, services)


@pytest.fixture(scope="module")
def app(services: Services, settings: Settings, map_dir: Path) -> FastAPI:
    return _app(services, settings, map_dir)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def _problem(response, status: int, loc: list[str] | None = None, kind: str | None = None
             ) -> dict:
    """The first problem of an ErrorBody answer with ``status`` (and ``loc``, ``kind``)."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"detail", "suggestions"}
    assert "Traceback" not in response.text
    first = body["detail"][0]
    if loc is not None:
        assert first["loc"] == loc, first
    if kind is not None:
        assert first["type"] == kind, first
    return first


# ----------------------------------------------------------------- pages and their CSP

def test_family_page_has_a_strict_csp_and_no_inline_script(client) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "<script>" not in page.text  # every script has a src
    assert page.headers["x-content-type-options"] == "nosniff"
    script = client.get("/family.js")
    assert script.status_code == 200
    assert ".innerHTML" not in script.text and "insertAdjacentHTML" not in script.text
    assert "textContent" in script.text


def test_maps_and_docs_have_their_csp(client, map_dir: Path) -> None:
    (map_dir / "kita-walk.html").write_text("<html><script>var m;</script></html>", "utf-8")
    csp = client.get("/maps/kita-walk").headers["content-security-policy"]
    assert "script-src 'unsafe-inline'" in csp  # folium inlines its scripts
    # the maps fetch only the base map's labels, from this server
    assert "connect-src 'self';" in csp and "default-src 'none'" in csp
    for page in ("/docs", "/redoc"):
        assert "default-src 'none'" in client.get(page).headers["content-security-policy"]


# ----------------------------------------------------------------- work budgets

def test_too_many_car_isochrone_minutes_are_refused_at_once(client) -> None:
    t0 = time.perf_counter()
    r = client.get("/isochrones", params={**ALBANI, "mode": "car",
                                          "minutes": "55,56,57,58,59,60"})
    problem = _problem(r, 422, ["query", "minutes"], "too_much_work")
    assert time.perf_counter() - t0 < 2.0
    assert "345" in problem["msg"] and "90" in problem["msg"]


def test_isochrones_are_simplified_and_their_size_is_capped(services, settings, map_dir
                                                          ) -> None:
    params = {**ALBANI, "mode": "bike", "minutes": "15"}
    exact = TestClient(_app(services, settings, map_dir, isochrone_simplify_m=0.0)) \
        .get("/isochrones", params=params)
    simple = TestClient(_app(services, settings, map_dir)).get("/isochrones", params=params)
    assert exact.status_code == simple.status_code == 200
    for answer in (exact, simple):
        IsochroneCollection.model_validate(answer.json())
    assert len(simple.content) < 0.6 * len(exact.content)
    a, b = (r.json()["features"][0]["properties"]["area_km2"] for r in (exact, simple))
    assert a == b  # the area is the engine's, before simplification
    small = TestClient(_app(services, settings, map_dir, isochrone_max_bytes=2000))
    problem = _problem(small.get("/isochrones", params=params), 422, ["query", "minutes"],
                       "too_large")
    assert "MB" in problem["msg"]


@pytest.mark.parametrize(("query", "field", "says"), [
    ({"category": "kita", "k": 10,
      "candidates": [{"lon": 9.9 + i / 1000, "lat": 51.53} for i in range(101)]}, "candidates",
     "101 candidates × k 10 is more than 1000"),
    ({"category": "kita", "mode": "car", "minutes": 30}, "minutes", "at most 10 minutes by car"),
])
def test_best_sites_refuse_too_much_work(client, query, field, says) -> None:
    t0 = time.perf_counter()
    problem = _problem(client.post("/scenarios/best-sites", json=query), 422,
                       ["body", field], "too_much_work")
    assert time.perf_counter() - t0 < 2.0
    assert says in problem["msg"]


def test_heavy_requests_beyond_the_slots_get_503_with_retry_after(services, settings,
                                                                  map_dir) -> None:
    app = _app(services, settings, map_dir, heavy_slots=1, retry_after_s=7)
    client = TestClient(app)
    with app.state.heavy.hold():  # another heavy request is being computed
        r = client.get("/isochrones", params={**ALBANI, "minutes": "5"})
        _problem(r, 503, [], "busy")
        assert r.headers["retry-after"] == "7"
        _problem(client.post("/scenarios/best-sites", json={"category": "kita"}), 503)
        assert client.get("/nearest", params={**ALBANI, "category": "kita"}).status_code == 200
    assert client.get("/isochrones", params={**ALBANI, "minutes": "5"}).status_code == 200


def test_budgets_are_in_the_openapi_docs(client) -> None:
    schema = client.get("/openapi.json").json()
    iso = schema["paths"]["/isochrones"]["get"]["responses"]
    assert "car 90" in iso["422"]["description"] and "503" in iso
    best = schema["paths"]["/scenarios/best-sites"]["post"]["responses"]
    assert "candidates × k" in best["422"]["description"] and "503" in best
    assert "65536 bytes (else 413)" in schema["info"]["description"]


# ----------------------------------------------------------------- readiness

@pytest.fixture(scope="module")
def unbuilt(services: Services, settings: Settings, map_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app while no network is built: a fresh work directory."""
    bare = settings.model_copy(update={"work_dir": tmp_path_factory.mktemp("bare")})
    return TestClient(create_app(settings, dataclasses.replace(services, settings=bare)))


def test_health_says_not_ready_and_what_is_missing(unbuilt, client) -> None:
    body = unbuilt.get("/health").json()
    assert body["ready"] is False
    assert set(body["missing"]) == {"network_walk", "network_bike", "network_car"}
    assert all("erreichbar network build" in hint for hint in body["missing"].values())
    assert client.get("/health").json()["ready"] is True


@pytest.mark.parametrize(("method", "path", "params"), [
    ("GET", "/nearest", {**ALBANI, "category": "kita", "k": 99}),  # 503, not 422 on k
    ("GET", "/nearest", {"category": "zoo"}),
    ("GET", "/isochrones", {**ALBANI, "mode": "car", "minutes": "55,56,57,58,59,60"}),
    ("GET", "/coverage", {"category": "kita"}),
    ("GET", "/there-and-back", {**ALBANI, "offer_id": "x"}),
    ("POST", "/scenarios", {"category": "kita", "remove": ["x"]}),
    ("POST", "/scenarios/best-sites", {"category": "kita", "k": 99}),
])
def test_data_dependent_endpoints_answer_503_with_the_hint(unbuilt, method, path,
                                                           params) -> None:
    r = (unbuilt.get(path, params=params) if method == "GET"
         else unbuilt.post(path, json=params))
    problem = _problem(r, 503, [], "not_ready")
    assert "erreichbar network build" in problem["msg"]
    assert "network_walk" in r.json()["suggestions"]


def test_offers_answer_while_networks_are_missing(unbuilt) -> None:
    assert unbuilt.get("/offers", params={"category": "kita"}).status_code == 200


def test_serve_with_a_bad_data_dir_prints_one_error_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", "from geo.cli import main; main()", "serve", "--data-dir",
         str(tmp_path / "nowhere"), "--port", "1"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: data directory "), run.stderr
    assert "nowhere" in errors[0] and "Traceback" not in run.stderr


# ----------------------------------------------------------------- failures and paths

def test_unexpected_errors_are_logged_with_traceback_and_answer_500_json(
        client, services, monkeypatch, caplog) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(services.engine, "nearest_routes", broken)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        r = client.get("/nearest", params={**ALBANI, "category": "kita"})
    problem = _problem(r, 500, [], "internal")
    assert problem["msg"] == "Interner Fehler." and "boom" not in r.text
    record = next(rec for rec in caplog.records if rec.name == "api.errors")
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert "51.5328" not in record.getMessage()  # no coordinates in the log


def test_maps_outside_the_maps_folder_are_not_found(client, map_dir: Path,
                                                    tmp_path: Path) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text("<html>secret</html>", "utf-8")
    (map_dir / "escape.html").symlink_to(secret)
    (map_dir / "up.html").symlink_to(Path("..") / secret.parent.name / "secret.html")
    for name in ("escape", "escape.html", "up", "..%2Fsecret", "%2e%2e"):
        r = client.get(f"/maps/{name}")
        assert r.status_code == 404 and "<html>secret</html>" not in r.text, name


# ----------------------------------------------------------------- body and echo limits

def test_large_bodies_are_refused_with_413(client) -> None:
    big = {"category": "kita", "remove": ["Q" * 10_000_000]}  # a 10 MB id
    r = client.post("/scenarios", json=big)
    problem = _problem(r, 413, ["body"], "too_large")
    assert "65536" in problem["msg"] and len(r.content) < 500

    def chunks():
        yield b'{"category": "kita", "remove": ['
        for _ in range(2000):
            yield b'"' + b"y" * 60 + b'",'
        yield b'"z"]}'

    _problem(client.post("/scenarios/best-sites", content=chunks(),
                         headers={"content-type": "application/json"}), 413)


def test_error_bodies_echo_at_most_200_characters_of_the_input(client) -> None:
    huge = "Q" * 60_000  # longer than httpx lets a URL be would be refused by the client
    for r in (client.get("/there-and-back", params={**ALBANI, "offer_id": huge}),
              client.get("/offers", params={"gemeinde": huge}),
              client.get("/nearest", params={"address": huge, "category": "kita"}),
              client.post("/scenarios/best-sites", json={"category": "kita", "unit": huge})):
        _problem(r, 422)
        assert r.text.count("Q") <= 200 and len(r.content) < 2000
    long_id = "Q" * 50_000  # under the body limit: the engine's message quotes it
    r = client.post("/scenarios", json={"category": "kita", "remove": [long_id]})
    _problem(r, 422, ["body", "remove"])
    assert r.text.count("Q") <= 200 and len(r.content) < 2000


# ----------------------------------------------------------------- one rule per fact

def _border_point(services: Services) -> tuple[float, float]:
    """A walk-network node 200–800 m outside the county polygon (inside the tolerance)."""
    net = services.engine.network("walk")
    county = services.engine.units("county").geometry.iloc[0]
    x, y = to_metric(net.lon, net.lat)
    far = shapely.distance(county, shapely.points(x, y))
    i = int(np.flatnonzero((far > 200) & (far < 800))[0])
    return float(net.lon[i]), float(net.lat[i])


def test_there_and_back_accepts_the_points_nearest_accepts(client, services) -> None:
    lon, lat = _border_point(services)
    near = client.get("/nearest", params={"lon": lon, "lat": lat, "category": "kita",
                                          "route": "false"})
    assert near.status_code == 200, near.text
    for where in ({"lon": lon, "lat": lat}, {"address": ADDRESS}):  # 409: no timetable
        r = client.get("/there-and-back", params={**where, "offer_id": "x"})
        _problem(r, 409, ["query", "mode"], "no_timetable")
    for path in ("/nearest", "/there-and-back"):
        r = client.get(path, params={"lon": 13.4, "lat": 52.5, "category": "kita",
                                     "offer_id": "x"})
        _problem(r, 422, ["query", "lat"], "outside_region")


def test_clock_times_follow_the_cli_rule(client) -> None:
    for bad in ("25:99", "7h", "48:00"):
        problem = _problem(client.get("/there-and-back", params={
            **ALBANI, "offer_id": "x", "arrive_by": bad}), 422, ["query", "arrive_by"])
        assert "is not HH:MM" in problem["msg"]
    late = client.get("/there-and-back", params={**ALBANI, "offer_id": "x",
                                                 "arrive_by": "23:30", "leave_after": "25:10"})
    _problem(late, 409, ["query", "mode"])  # past midnight is a valid time


def test_an_offers_gemeinde_is_the_reports(client, services) -> None:
    report = offer_gemeinden(services.engine)
    names = services.engine.units("gemeinde").set_index("ags")["name"]
    features = client.get("/offers", params={"include_inactive": "true"}).json()["features"]
    assert len(features) == len(report)
    assert all(f["properties"]["gemeinde"] == names[report[f["properties"]["id"]]]
               for f in features)
