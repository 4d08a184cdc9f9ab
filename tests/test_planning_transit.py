"""Bus & Bahn in the planners' workspace, on the county's real data and a real timetable.

The timetable is the real gtfs.de long-distance feed
(``germany/gtfs/gtfsde_fernverkehr_goettingen_2025-11.zip``) stored as the region's
timetable, as in tests/test_browser_transit.py. It serves only Göttingen station inside the
county, so no train brings anyone in the county nearer an offer: Bus & Bahn is walking the
whole way (the same street network and speed), and the planner's transit numbers must equal
a full recomputation with the new site among the offers *and* the walk mode's numbers.
Without a timetable the planner leaves Bus & Bahn out and says in German how to load one.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from _services import services_for
from fastapi.testclient import TestClient

import api.services
from api.main import create_app
from api.services import Services
from geo.engine.access import Accessibility
from geo.messages import text
from geo.settings import Settings
from geo.vocabulary import label

#: Göttingen station forecourt (WGS84): a counselling office here reaches children of the city
STATION = (9.9270, 51.5362)
#: A place in Hattorf am Harz (WGS84): a new Kita there reaches children of the village
HATTORF = (10.2297, 51.6397)
PLANS = {"city": {"category": "beratung", "mode": "transit", "minutes": 15,
                  "add": [list(STATION)]},
         "village": {"category": "kita", "mode": "transit", "minutes": 15,
                     "add": [list(HATTORF)]}}


@pytest.fixture(scope="module")
def base(settings: Settings, networks: dict) -> Services:
    """The session's services: the county without a timetable."""
    return services_for(settings)


def _engine(fv: Settings, base: Services, networks: dict,
            offers: gpd.GeoDataFrame | None = None) -> Accessibility:
    """An engine on the fv work dir sharing the session's loaded offers, cells, networks."""
    acc = base.engine
    return Accessibility(fv, offers=acc.offers if offers is None else offers,
                         children=acc.cell_frame("children"),
                         inhabitants=acc.cell_frame("inhabitants"), networks=networks)


@pytest.fixture(scope="module")
def services(fv_settings: Settings, base: Services, networks: dict) -> Services:
    """The county's services (offers, addresses) with the fv timetable loaded."""
    return Services(fv_settings, _engine(fv_settings, base, networks), base.geocoder, base.offers,
                    base.gemeinden)


@pytest.fixture(scope="module")
def client(services: Services, fv_settings: Settings) -> TestClient:
    return TestClient(create_app(fv_settings, services))


@pytest.fixture(scope="module")
def recomputed(fv_settings: Settings, base: Services, networks: dict) -> dict[str, Accessibility]:
    """Per plan, an engine whose offers include the plan's site (full recomputation)."""
    out = {}
    for name, plan in PLANS.items():
        offers = base.engine.offers
        row = offers[(offers["category"] == plan["category"])
                     & (offers["status"] == "active")].iloc[[0]].copy()
        (lon, lat), = plan["add"]
        row = row.assign(id="new-1", name="Neuer Standort", lon=lon, lat=lat)
        row = row.set_geometry(gpd.points_from_xy([lon], [lat], crs=offers.crs))
        out[name] = _engine(fv_settings, base, networks,
                            pd.concat([offers, row], ignore_index=True))
    return out


def _shares(cells: pd.DataFrame, minutes: int) -> pd.Series:
    """Children within ``minutes`` per Gemeinde / all children there, from a cell table."""
    weight = cells["children_under_10"]
    within = weight.where(cells["minutes"] <= minutes, 0.0)
    return within.groupby(cells["gemeinde_ags"]).sum() / weight.groupby(
        cells["gemeinde_ags"]).sum()


def test_options_offer_bus_und_bahn_only_with_a_timetable(client, base, settings) -> None:
    with_feed = client.get("/planning/options").json()
    assert with_feed["modes"][-1] == {"value": "transit",
                                      "label": label("mode", "transit", "de")}
    assert [m["value"] for m in with_feed["modes"]] == ["walk", "bike", "car", "transit"]
    assert with_feed["timetable"] == "long_distance_only"
    assert with_feed["transit_note"].startswith("nur Fernverkehr geladen")
    assert "Göttingen" in with_feed["transit_note"]
    none = TestClient(create_app(settings, base))
    without = none.get("/planning/options").json()
    assert [m["value"] for m in without["modes"]] == ["walk", "bike", "car"]
    assert without["timetable"] == "none"
    assert without["transit_note"] == text("planner.page.transit_none", region="goettingen")
    assert "erreichbar gtfs load --region goettingen" in without["transit_note"]
    refused = none.post("/planning/evaluate", json=PLANS["village"])
    assert refused.status_code == 422, refused.text
    problem = refused.json()["detail"][0]
    assert problem["loc"] == ["body", "mode"]
    assert problem["msg"] == text("planner.errors.transit_none", region="goettingen")


def test_completeness_flags_are_computed_once(client, monkeypatch) -> None:
    first = client.get("/planning/options").json()["incomplete"]
    assert "Duderstadt" in first

    def again(*args: object) -> None:
        raise AssertionError("completeness recomputed")

    monkeypatch.setattr(api.services, "completeness", again)
    assert client.get("/planning/options").json()["incomplete"] == first


@pytest.mark.parametrize("name", list(PLANS))
def test_transit_evaluate_equals_a_full_recomputation(client, services, recomputed,
                                                      name) -> None:
    plan = PLANS[name]
    answer = client.post("/planning/evaluate", json=plan)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = pd.DataFrame(body["rows"]).set_index("ags")
    m = plan["minutes"]
    # independent path: the offers with the site, every stop profile scanned again
    after = recomputed[name].cells(plan["category"], "transit")
    today = services.engine.cells(plan["category"], "transit")
    share_after, share_before = _shares(after, m), _shares(today, m)
    np.testing.assert_allclose(rows["share_after"], share_after.reindex(rows.index),
                               rtol=1e-12)
    np.testing.assert_allclose(rows["share_before"], share_before.reindex(rows.index),
                               rtol=1e-12)
    # the children who now reach an offer in time, cell by cell
    newly = (after["minutes"] <= m) & ~(today["minutes"] <= m)
    gained = after["children_under_10"].where(newly, 0).groupby(after["gemeinde_ags"]).sum()
    gained = gained[gained > 0].round().astype(int)
    assert rows.loc[rows["gained"] != 0, "gained"].to_dict() == gained.to_dict()
    where = {"city": "Göttingen", "village": "Hattorf am Harz"}[name]
    assert list(rows.loc[gained.index, "name"]) == [where]  # only there, as it should
    assert body["changed_cells"] == int((after["minutes"] != today["minutes"]).sum()) > 0
    assert body["image"]["url"].startswith("data:image/png;base64,")
    # a long-distance train helps nobody inside the county: Bus & Bahn is the walk here,
    # to the same offer, recomputed and by the what-if
    walk_cells = recomputed[name].cells(plan["category"], "walk")
    np.testing.assert_allclose(after["minutes"], walk_cells["minutes"], rtol=1e-12)
    assert list(after["offer_id"]) == list(walk_cells["offer_id"])
    site = [tuple(plan["add"][0])]
    changed = {mode: services.engine.what_if(plan["category"], mode, add=site).cells
               for mode in ("walk", "transit")}
    assert changed["transit"].equals(changed["walk"]) and len(changed["walk"])
    walk = client.post("/planning/evaluate", json={**plan, "mode": "walk"}).json()
    assert [r["within_after"] for r in walk["rows"]] == list(rows["within_after"])
    assert [r["gained"] for r in walk["rows"]] == list(rows["gained"])


def test_transit_scenarios_save_compare_and_download(client, services, recomputed,
                                                     tmp_path) -> None:
    plan = PLANS["city"]
    ids = []
    for mode in ("transit", "walk"):
        saved = client.post("/planning/scenarios",
                            json={"name": f"Beratung am Bahnhof {mode}",
                                  "plan": {**plan, "mode": mode}})
        assert saved.status_code == 201, saved.text
        ids.append(saved.json()["id"])
    loaded = client.get(f"/planning/scenarios/{ids[0]}").json()
    assert loaded["plan"]["mode"] == "transit"
    assert "mit Bus und Bahn" in loaded["description"]
    compared = client.get("/planning/compare", params={"a": ids[0], "b": ids[1]}).json()
    gained = {r["name"]: r["gained_a"] for r in compared["rows"] if r["gained_a"]}
    assert list(gained) == ["Göttingen"] and gained["Göttingen"] > 0
    assert all(r["difference"] == 0 for r in compared["rows"])  # transit = walk here
    tif = tmp_path / "fahrzeit.tif"
    answer = client.get("/planning/export/tif", params={"szenario": ids[0]})
    assert answer.status_code == 200, answer.text
    tif.write_bytes(answer.content)
    full = recomputed["city"].raster_minutes("beratung", "transit")
    with rasterio.open(tif) as src:
        rows, cols = rasterio.transform.rowcol(src.transform, full["x"].to_numpy(),
                                               full["y"].to_numpy())
        values = src.read(1)[rows, cols]
        assert "mit Bus und Bahn" in src.tags()["szenario"]
        timetable = src.tags()["quelle_timetable"]  # the exports name the timetable used
    feed = services.engine.transit().feed
    assert f"{feed.first_day:%d.%m.%Y}–{feed.last_day:%d.%m.%Y}" in timetable
    shown = np.where(values == -1, np.nan, values)
    np.testing.assert_allclose(shown, full["minutes"].to_numpy(), rtol=1e-6, atol=1e-3)
    csv = client.get("/planning/export/csv", params={"szenario": ids[0]}).text
    notes = [line for line in csv.splitlines() if line.startswith("# ")]
    days = f"{feed.first_day:%d.%m.%Y}–{feed.last_day:%d.%m.%Y}"
    assert any(line.startswith(f"# {timetable.split(days)[0].strip()} ({days})")
               for line in notes)
    walk_csv = client.get("/planning/export/csv", params={"szenario": ids[1]}).text
    assert feed.first_day.strftime("%d.%m.%Y") not in walk_csv  # walking needs no timetable


#: Origins of the walking checks (WGS84): the station, Albaniplatz in the city, Hattorf
ORIGINS = {"station": STATION, "albaniplatz": (9.9354, 51.5328), "hattorf": HATTORF}


@pytest.mark.parametrize("origin", list(ORIGINS))
def test_bus_und_bahn_walking_the_whole_way_equals_the_walk_mode(client, origin) -> None:
    """No train helps inside the county: each transit answer is the walk mode's minutes.

    Walking the whole way goes over the same street walk network, snap and speed as the walk
    mode (it was crow-fly × 1.3 before: 15.5 min instead of 18.9 from the station to the
    Egelsbergschule), and Bus & Bahn is never slower than walking.
    """
    lon, lat = ORIGINS[origin]
    for category in ("grundschule", "kita"):
        answers = {mode: client.get("/nearest", params={
            "lon": lon, "lat": lat, "category": category, "mode": mode, "k": 3,
            "route": "true"}).json()["results"] for mode in ("walk", "transit")}
        walk = {r["offer"]["id"]: r["minutes"] for r in answers["walk"]}
        transit = {r["offer"]["id"]: r["minutes"] for r in answers["transit"]}
        assert len(walk) >= 2 and transit == pytest.approx(walk, rel=1e-9)
        for r in answers["transit"]:
            assert r["minutes"] <= r["other_modes"]["walk"] + 1e-9
            (leg,) = r["legs"]  # one walk, origin → destination, lasting the walk's time
            assert (leg["route"], leg["from"], leg["to"]) == ("walk", "origin", "destination")
            took = (np.datetime64(leg["arrival"]) - np.datetime64(leg["departure"])
                    ) / np.timedelta64(1, "s")
            # leg times are whole seconds (arrival cut), the API's minutes have 2 decimals
            assert abs(took - 60 * walk[r["offer"]["id"]]) <= 1.0 + 0.3


def test_there_and_back_on_foot_takes_the_walk_modes_time(services) -> None:
    """From the station to the Egelsbergschule and back: the walk mode's minutes each way."""
    acc = services.engine
    walk = acc.nearest(*STATION, "grundschule", "walk", k=5).set_index("offer_id")
    school = walk.index[walk["name"].str.startswith("Egelsbergschule")][0]
    x, y = acc.data.check_points(*STATION)
    trip = acc.transit().there_and_back(float(x[0]), float(y[0]), school,
                                        arrive_by_s=8 * 3600, leave_after_s=12 * 3600)
    assert trip.possible
    for legs in (trip.outbound, trip.back):
        assert legs is not None and [leg["route"] for leg in legs] == ["walk"]
        took = (np.datetime64(legs[0]["arrival"]) - np.datetime64(legs[0]["departure"])
                ) / np.timedelta64(1, "s")
        assert abs(took - 60 * walk.at[school, "minutes"]) <= 1.0


def test_transit_supply_walks_as_the_walk_mode(services) -> None:
    """E2SFCA by Bus & Bahn takes the walk mode's cell → offer walks: equal to walking here."""
    acc = services.engine
    walk, transit = acc.supply("beratung", "walk"), acc.supply("beratung", "transit")
    assert list(transit.cells["cell_id"]) == list(walk.cells["cell_id"])
    np.testing.assert_allclose(transit.cells["access"], walk.cells["access"], rtol=1e-12)
    assert (walk.cells["access"] > 0).sum() > 1000  # the counselling offices reach children
    ratio = transit.offers.set_index("offer_id").loc[walk.offers["offer_id"], "ratio"]
    np.testing.assert_allclose(ratio, walk.offers["ratio"], rtol=1e-12)
