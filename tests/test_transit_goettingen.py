"""The whole transit path for region goettingen on the real gtfs.de long-distance feed.

`gtfs load --region goettingen` offline (recorded: no connection) takes the data
directory's copy of gtfs.de's fv feed; in the county it serves only Göttingen station, so
transit can beat walking nowhere inside the county, and the products say "nur Fernverkehr
geladen".
"""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from _services import linked_work, services_for
from fastapi.testclient import TestClient

from api.main import create_app
from geo.cli import main
from geo.engine.access import Accessibility
from geo.products.compute import access_dir, compute
from geo.products.transit_status import timetable_status
from geo.settings import MapSettings, Settings
from geo.sources import geocode, gtfs, offers

#: Göttingen station forecourt (WGS84): the Grundschulen are reached on foot
STATION = (9.9270, 51.5362)


def _offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")


@pytest.fixture(scope="module")
def gwork(settings: Settings, networks: dict, tmp_path_factory: pytest.TempPathFactory
          ) -> Settings:
    """A work dir linked to the session's real county networks and address index, no
    timetable yet."""
    geocode.load_tables(settings)
    return linked_work(settings, tmp_path_factory.mktemp("goe-transit"))


@pytest.fixture(scope="module")
def loaded(gwork: Settings) -> None:
    """`erreichbar gtfs load --region goettingen` without a path, offline."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ERREICHBAR_WORK_DIR", str(gwork.work_dir))
        mp.setattr(gtfs, "make_client",
                   lambda s: httpx.Client(transport=httpx.MockTransport(_offline)))
        mp.setattr(sys, "argv", ["erreichbar", "gtfs", "load", "--region", "goettingen"])
        with pytest.raises(SystemExit) as stop:
            main()
        assert not stop.value.code


def test_gtfs_load_names_the_stations_kept(gwork: Settings, loaded: None) -> None:
    stored = gtfs.stored_feed_path(gwork, "goettingen")
    meta = json.loads(stored.with_suffix(".json").read_text("utf-8"))
    assert [f["name"] for f in meta["summary"]["feeds"]] == ["fv"]
    assert meta["summary"]["feeds"][0]["attribution"].startswith("CC BY 4.0: DELFI e.V.")
    status = timetable_status(gwork)
    assert status["state"] == "long_distance_only" and status["stations"] == ["Göttingen"]
    assert status["text"].startswith("nur Fernverkehr geladen")
    assert "Göttingen" in status["text"] and "gtfs load --region goettingen" in status["text"]
    assert timetable_status(gwork, lang="en")["text"].startswith("Long-distance trains only")


def test_access_compute_writes_transit_surfaces(gwork: Settings, loaded: None) -> None:
    folder = gwork.data_dir / gwork.region
    schools = offers.to_frame(offers.school_offers(folder / offers.SCHOOLS_FILE))
    engine = Accessibility(gwork, offers=schools[schools["category"] == "grundschule"])
    out = compute(gwork, engine)
    assert "transit" not in out.get("skipped_modes", {})
    assert (access_dir(gwork) / "minutes_grundschule_transit.tif").exists()
    cells = engine.cells("grundschule", "transit")
    walk = engine.cells("grundschule", "walk")
    # one station in the county: no train trip ends nearer a school than walking does
    np.testing.assert_allclose(cells["minutes"].to_numpy(), walk["minutes"].to_numpy())
    cov = out["coverage"]["grundschule"]
    assert cov["transit"]["children_within_15min_share"] == \
        cov["walk"]["children_within_15min_share"]


def test_nearest_transit_answers_with_walking(gwork: Settings, loaded: None,
                                              tmp_path_factory: pytest.TempPathFactory
                                              ) -> None:
    own = gwork.model_copy(update={"maps": MapSettings(out_dir=tmp_path_factory.mktemp("m"))})
    client = TestClient(create_app(own, services_for(gwork)))
    answer = client.get("/nearest", params={"lon": STATION[0], "lat": STATION[1],
                                            "category": "grundschule", "mode": "transit",
                                            "k": 1, "route": "true"})
    assert answer.status_code == 200, answer.text
    (first,) = answer.json()["results"]
    # no train helps inside the county: the answer is walking, as one leg with times
    assert [(leg["route"], leg["from"], leg["to"]) for leg in first["legs"]] == [
        ("walk", "origin", "destination")]
    leg = first["legs"][0]
    assert leg["departure"][:10] == leg["arrival"][:10] and leg["arrival"] > leg["departure"]


def test_isochrone_walks_on_the_streets_and_is_exactly_the_cells_within(
        fv_settings: Settings) -> None:
    """From the station, each 100 m cell of a 6 km square whose window median (computed here:
    min of walking the whole way on the streets and walk + train + walk, per departure) is
    within 15 min is inside the transit isochrone, no other; with the street walk network
    some lie beyond the crow-fly × detour reach the candidates once stopped at."""
    from geo.networks.snap import to_metric
    from geo.transit import query

    engine = services_for(fv_settings).engine
    iso = engine.isochrones(*STATION, "transit", [15]).set_index("minutes")
    x, y = (float(v[0]) for v in to_metric(np.array([STATION[0]]), np.array([STATION[1]])))
    gx, gy = np.meshgrid(np.arange(-30, 30) * 100.0 + (x // 100) * 100 + 50,
                         np.arange(-30, 30) * 100.0 + (y // 100) * 100 + 50)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    access = engine.engine("transit").access()  # type: ignore[attr-defined]
    origin = np.array([[x, y]])
    _, prof = query.departure_profiles(access.feed, origin, access.date, access.start_s,
                                       access.end_s, settings=access.settings,
                                       walk=access.walk, destinations=cells)
    streets = access.walk.direct(origin, cells)[0]  # the walk mode's door-to-door seconds
    median = np.median(np.minimum(prof[0], streets), axis=0)
    poly = gpd.GeoSeries([iso.loc[15.0, "geometry"]], crs="EPSG:4326").to_crs(
        "EPSG:3035").iloc[0]
    within = median <= 15 * 60
    assert (shapely.contains_xy(poly, cells[:, 0], cells[:, 1]) == within).all()
    assert iso.loc[15.0, "cells"] == within.sum() > 100
    assert not within.reshape(gx.shape)[[0, -1], :].any()  # the square held every cell
    t = access.settings
    crow_reach = 15 * 60 * t.walk_speed_kmh / 3.6 / t.detour_factor
    assert (np.hypot(cells[:, 0] - x, cells[:, 1] - y)[within] > crow_reach).any()
