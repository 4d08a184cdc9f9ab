"""The API on a region with a timetable but no street network: the Enzkreis (issue 17).

Real data: the VPE feed, VG5000 and the Zensus grids (see :mod:`_enzkreis`); the three
offers are the labelled TEST fixture. Journeys are checked against the engine's own
connection scan for the same departure and against the feed's stop_times.txt as read raw.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _enzkreis import FIXTURE, HOME, TUESDAY, enzkreis_services, feed_table, service_days
from fastapi.testclient import TestClient

from api import reach
from api.errors import engine_status
from api.main import create_app
from api.services import Services
from geo import messages
from geo.networks.snap import to_metric
from geo.sources import gtfs
from geo.transit.query import describe_legs, earliest_arrival, journey_to_point
from geo.transit.trip import HoursUnknownError, there_and_back
from geo.transit.walk import CrowFlyWalk

STOP = "Ellmendingen Pforzheimer Str."  #: the stop of the fixture Familienzentrum


@pytest.fixture(scope="module")
def enz(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    return enzkreis_services(data_dir, tmp_path_factory.mktemp("enz-api"))


@pytest.fixture(scope="module")
def client(enz: Services) -> TestClient:
    return TestClient(create_app(services=enz))


def seconds(stamp: str) -> int:
    """``YYYY-MM-DDTHH:MM:SS`` → seconds since midnight of TUESDAY."""
    return int((dt.datetime.fromisoformat(stamp)
                - dt.datetime.combine(TUESDAY, dt.time())).total_seconds())


def test_health_is_ready_with_transit_alone(client: TestClient, enz: Services) -> None:
    health = client.get("/health").json()
    assert health["ready"] is True and health["missing"] == {}
    assert health["modes"] == ["transit"]
    assert health["timetable"] == "loaded"
    runs = service_days(enz.settings.data_dir)  # the feed's calendar, read independently
    assert health["timetable_days"] == [min(runs).isoformat(), max(runs).isoformat()]
    assert health["region"] == "enzkreis"
    gemeinden = len(enz.engine.units("gemeinde"))
    assert gemeinden == 28  # VG5000: the Enzkreis' 28 Gemeinden
    assert health["geocoder"]["addresses"] == health["geocoder"]["streets"] == 0
    assert health["geocoder"]["places"] > gemeinden  # the Gemeinden and the feed's stops
    assert health["offers"]["familienzentrum"] == 2 and health["offers"]["kita"] == 1


def test_nearest_by_bus_gives_the_engines_journey(client: TestClient, enz: Services,
                                                  data_dir: Path) -> None:
    """/nearest transit from Dietlingen: bus 720 to the fixture Familienzentrum.

    The legs equal a fresh connection scan through geo.transit for the answer's departure,
    and every ride is in the raw stop_times.txt with these times and the line's short name.
    """
    lon, lat = HOME
    params = {"lat": lat, "lon": lon, "category": "familienzentrum", "mode": "transit"}
    client.get("/nearest", params=params)  # the timetable is compiled on the first query
    t0 = time.perf_counter()
    response = client.get("/nearest", params=params)
    print(f"/nearest transit on the Enzkreis: {time.perf_counter() - t0:.3f} s")
    assert response.status_code == 200, response.text
    first = response.json()["results"][0]
    assert first["offer"]["id"] == "fixture-1"
    legs = first["legs"]
    assert "720" in [leg["route"] for leg in legs]
    assert legs[-1]["to"] == "destination"
    assert first["minutes"] == pytest.approx(
        (seconds(legs[-1]["arrival"]) - seconds(legs[0]["departure"])) / 60, abs=0.01)
    assert first["other_modes"] == {"transit": first["minutes"]}

    settings = enz.settings
    feed = gtfs.load_region_feed(settings)
    walk = CrowFlyWalk.from_settings(settings.transit)
    x, y = to_metric(np.array([lon, 8.576498]), np.array([lat, 48.901045]))  # home, offer
    arrivals = earliest_arrival(feed, np.array([[x[0], y[0]]]), seconds(legs[0]["departure"]),
                                TUESDAY, settings=settings.transit, walk=walk)
    _, own = journey_to_point(arrivals, np.array([x[1], y[1]]), walk)
    assert legs == describe_legs(own, feed, TUESDAY)

    stop_times = feed_table(data_dir, "stop_times").set_index(["trip_id", "stop_id"])
    trips = feed_table(data_dir, "trips").set_index("trip_id")
    lines = feed_table(data_dir, "routes").set_index("route_id")["route_short_name"]
    rides = [leg for leg in legs if leg["route"] != "walk"]
    for leg in rides:
        assert stop_times.loc[(leg["trip"], leg["from"]), "departure_time"] == \
            leg["departure"][11:]
        assert stop_times.loc[(leg["trip"], leg["to"]), "arrival_time"] == leg["arrival"][11:]
        assert lines[trips.loc[leg["trip"], "route_id"]] == leg["route"]
    assert rides[-1]["to_name"] == STOP


def test_reach_helpers_without_street_networks(enz: Services) -> None:
    """other_modes, nearest_anyway and suggest_mode answer without street networks."""
    lon, lat = HOME
    assert reach.other_modes(enz, lon, lat, "familienzentrum", ["fixture-1"], "transit",
                             [16.3]) == [{"transit": 16.3}]
    assert reach.nearest_anyway(enz, lon, lat, "familienzentrum", "transit") is None
    assert reach.suggest_mode(enz, lon, lat, "familienzentrum", "transit") is None


def test_a_stop_name_is_found_at_the_feeds_coordinates(client: TestClient,
                                                       data_dir: Path) -> None:
    stops = feed_table(data_dir, "stops")
    station = stops[(stops["stop_name"] == STOP) & (stops["location_type"] == "1")]
    assert len(station) == 1
    response = client.get("/nearest", params={"address": STOP, "category": "kita",
                                              "mode": "transit", "k": 1})
    assert response.status_code == 200, response.text
    origin = response.json()["origin"]
    assert origin["precision"] == "stop"
    assert origin["address"] == f"{STOP} (Keltern)"
    assert (origin["lon"], origin["lat"]) == (float(station["stop_lon"].iloc[0]),
                                              float(station["stop_lat"].iloc[0]))


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_house_address_says_there_is_no_address_data(client: TestClient, lang: str) -> None:
    query = "Hauptstraße 5, Keltern"
    response = client.get("/nearest", params={"address": query, "category": "kita",
                                              "mode": "transit", "lang": lang})
    assert response.status_code == 404
    body = response.json()
    assert body["detail"][0]["type"] == "no_address_data"
    assert body["detail"][0]["msg"] == messages.text(
        "errors.type.no_address_data", lang, region="Enzkreis", address=repr(query))
    assert "Keltern" in body["suggestions"]  # the Gemeinde, which can be found


def test_street_modes_are_refused_naming_what_there_is(client: TestClient) -> None:
    lon, lat = HOME
    for path, params in (("/nearest", {"category": "kita", "mode": "walk"}),
                         ("/family/offers", {"age": 3})):
        response = client.get(path, params={"lat": lat, "lon": lon, **params})
        assert response.status_code == 409, response.text
        problem = response.json()["detail"][0]
        assert problem["type"] == "mode_unavailable"
        assert problem["msg"] == messages.text(
            "errors.type.mode_unavailable", region="Enzkreis",
            mode=messages.text("labels.mode.walk"), modes=messages.text("labels.mode.transit"))


def test_there_and_back_in_the_opening_hours(client: TestClient) -> None:
    """Fixture-1 opens Tu 09:00-11:00: be there by 09:00, leave after 11:00, same day."""
    offers = pd.read_csv(FIXTURE).set_index("id")
    assert offers.loc["fixture-1", "opening_hours"] == "Tu 09:00-11:00"
    lon, lat = HOME
    answer = client.get("/there-and-back", params={"lat": lat, "lon": lon,
                                                    "offer_id": "fixture-1"}).json()
    assert (answer["date"], answer["arrive_by"], answer["leave_after"]) == (
        TUESDAY.isoformat(), "09:00", "11:00")
    assert answer["possible"] is True and answer["reason"] == ""
    there, back = answer["outbound"]["legs"], answer["back"]["legs"]
    assert seconds(there[-1]["arrival"]) <= 9 * 3600
    assert 11 * 3600 <= seconds(back[0]["departure"]) < seconds(back[-1]["arrival"]) < 86_400


def test_there_and_back_on_a_closed_day_or_without_hours(client: TestClient,
                                                         enz: Services) -> None:
    """Fixture-2 opens Mo-Fr: on Saturday 2025-03-15 it is closed, and the answer says so."""
    lon, lat = HOME
    response = client.get("/there-and-back", params={"lat": lat, "lon": lon,
                                                      "offer_id": "fixture-2",
                                                      "date": "2025-03-15", "lang": "en"})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert (problem["type"], problem["msg"]) == (
        "closed_that_day", messages.text("errors.type.closed_that_day", "en"))
    x, y = to_metric(np.array([lon, 8.576498]), np.array([lat, 48.901045]))
    with pytest.raises(HoursUnknownError):  # no times and no hours: nothing to check against
        there_and_back(enz.engine.transit().feed, np.array([x[0], y[0]]),
                       np.array([x[1], y[1]]), TUESDAY)
    assert engine_status(HoursUnknownError("")) == (422, "hours_unknown")


def test_there_and_back_outside_the_timetable_names_the_date(client: TestClient,
                                                             data_dir: Path) -> None:
    """The feed runs 2024-12-15..2025-12-12: the day after its last is refused, naming date
    and the feed's first and last day; its last day is answered."""
    runs = service_days(data_dir)
    lon, lat = HOME
    after = max(runs) + dt.timedelta(days=1)
    query = {"lat": lat, "lon": lon, "offer_id": "fixture-2", "lang": "en"}
    response = client.get("/there-and-back", params={**query, "date": after.isoformat()})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert (problem["loc"], problem["type"]) == (["query", "date"], "no_service_day")
    assert problem["msg"] == messages.text(
        "errors.type.no_service_day", "en", date=f"{after:%d.%m.%Y}",
        first=f"{min(runs):%d.%m.%Y}", last=f"{max(runs):%d.%m.%Y}")
    last = max(d for d in runs if d.weekday() < 5)  # fixture-2 opens Mo-Fr
    answer = client.get("/there-and-back", params={**query, "date": last.isoformat()})
    assert answer.status_code == 200 and answer.json()["date"] == last.isoformat()
