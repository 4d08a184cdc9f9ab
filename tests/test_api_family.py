"""The family side of the API on the real data: what /nearest tells about each offer (address,
hours, other modes, the nearest one anyway), the age view /family/offers, honest filters on
/offers, the geocoder's answers through the API, and error bodies in six languages.

Expected values are computed independently: minutes by engines of their own (the engine's
forward search on a catalogue of one offer, or with a wider limit), house numbers by brute
force over the address index, ages and Horte from the names with the settings' patterns."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import reach
from api.main import create_app
from api.services import Services
from geo import messages
from geo.engine.access import Accessibility
from geo.networks.snap import to_lonlat, to_metric
from geo.products.chain import ChainData, offer_ages
from geo.products.guide import minutes_from
from geo.sources import hours

#: Albaniplatz, Göttingen (WGS84).
ALBANI = {"lon": 9.9354, "lat": 51.5328}
#: A real address in Göttingen (an OSM house number of both tile sets).
WEENDER = "Weender Landstraße 2, Göttingen"
LANGS = ("de", "en", "tr", "ar", "uk", "ru")


@pytest.fixture(scope="module")
def app(services: Services) -> FastAPI:
    return create_app(services.settings, services)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def _engine_on(services: Services, offers: pd.DataFrame, **access: float) -> Accessibility:
    """An engine of its own on ``offers``, its access settings changed by ``access``."""
    settings = services.settings.model_copy(
        update={"access": services.settings.access.model_copy(update=access)})
    return Accessibility(settings, offers=services.engine.offers[
        services.engine.offers["id"].isin(offers["id"])].reset_index(drop=True),
        children=services.engine.cell_frame("children"))


def _minutes_to(services: Services, offer_id: str, lon: float, lat: float,
                mode: str) -> float | None:
    """Minutes to one offer: an engine whose catalogue is that offer alone (forward search)."""
    row = services.engine.offers[services.engine.offers["id"] == offer_id]
    found = _engine_on(services, row).nearest(lon, lat, str(row["category"].iloc[0]), mode, 1)
    return round(float(found["minutes"].iloc[0]), 2) if len(found) else None


# ----------------------------------------------------------------- /nearest

def test_nearest_results_carry_address_hours_and_other_modes(client, services) -> None:
    r = client.get("/nearest", params={**ALBANI, "category": "grundschule", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["nearest_anyway"] is None and body["suggest_mode"] is None
    for item in body["results"]:
        assert set(item["other_modes"]) == {"walk", "bike", "car"}  # no timetable loaded
        assert item["other_modes"]["walk"] == item["minutes"]
        for mode in ("bike", "car"):
            expect = _minutes_to(services, item["offer"]["id"], ALBANI["lon"], ALBANI["lat"],
                                 mode)
            assert item["other_modes"][mode] == pytest.approx(expect, abs=0.011), mode
        # the catalogue has no opening hours yet: unknown, never "closed"
        assert item["open_now"] is None and item["open_today"] is None
        assert item["address"] == item["offer"]["address"]
    first = body["results"][0]
    assert first["offer"]["name"] == "Albanischule Grundschule"
    assert first["other_modes"]["bike"] < first["minutes"]  # ≈ 3.3 by bike, 6.7 on foot
    assert first["address"] == "Obere Karspüle 3, Göttingen"
    assert first["address_source"] == "housenumber_nearby"


def test_other_modes_equal_one_full_search_per_home_and_mode(services) -> None:
    """For 40 real homes (centres of Zensus cells with children) per category, the table +
    early-stopping search of ``other_modes`` gives what the straightforward way gives: one
    forward search over the whole hour per mode (:func:`geo.products.guide.minutes_from`),
    None beyond it. The homes include offers beyond the bike and car tables (searched)."""
    limit = services.settings.access.nearest_max_min
    cells = services.engine.cell_frame("children")
    pick = np.random.default_rng(3).choice(len(cells), 40, replace=False)
    x, y = cells["x"].to_numpy()[pick], cells["y"].to_numpy()[pick]
    lon, lat = to_lonlat(x, y)
    searched = 0
    for category in ("grundschule", "kita"):
        found = services.engine.nearest_many(lon, lat, category, "walk", 3)
        assert found["point"].nunique() >= 35
        for p, rows in found.groupby("point"):
            ids = list(rows["offer_id"])
            got = reach.other_modes(services, float(lon[p]), float(lat[p]), category, ids,
                                    "walk", list(rows["minutes"]))
            for mode in ("bike", "car"):
                full = minutes_from(services.chain(), float(x[p]), float(y[p]),
                                    pd.Series(ids), mode, limit)
                assert [g[mode] for g in got] == [
                    pytest.approx(round(m, 2), abs=1e-9) if m <= limit else None for m in full]
                table = services.engine.nearest_many(lon[p:p + 1], lat[p:p + 1], category, mode,
                                                     services.settings.access.k_max)
                searched += len(set(ids) - set(table["offer_id"]))
    assert searched >= 10


def test_nothing_within_the_limit_gives_the_nearest_anyway_and_a_mode(client, services) -> None:
    """Wieda (Walkenried) on foot: no Kita within 60 minutes. The nearest one anyway is the
    unrestricted nearest (an engine without the 60-minute limit); by bike one is in reach."""
    r = client.get("/nearest", params={"address": "Wieda", "category": "kita", "mode": "walk"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["results"] == [] and body["max_minutes"] == 60
    lon, lat = body["origin"]["lon"], body["origin"]["lat"]
    unlimited = _engine_on(services, services.offers, nearest_max_min=600.0)
    expect = unlimited.nearest(lon, lat, "kita", "walk", 1)
    anyway = body["nearest_anyway"]
    assert anyway["offer"]["id"] == expect["offer_id"].iloc[0]
    assert anyway["minutes"] == pytest.approx(float(expect["minutes"].iloc[0]), abs=0.01)
    assert 60 < anyway["minutes"] < 90  # ≈ 67 min to the Kindergarten in Unterzorge
    assert anyway["other_modes"]["walk"] is None  # beyond the limit on foot
    assert body["suggest_mode"] == "bike"
    by_bike = services.engine.nearest_many(np.array([lon]), np.array([lat]), "kita", "bike", 1)
    assert len(by_bike) == 1 and float(by_bike["minutes"].iloc[0]) <= 60


def test_offer_addresses_are_their_own_or_the_nearest_house_number(services) -> None:
    offers, book = services.offers, services.geocoder.addresses
    counts = offers["address_source"].value_counts()
    assert counts["housenumber_nearby"] > 1000 and counts["offer"] > 10
    own = offers[offers["address_source"] == "offer"]
    with_number = own[own["housenumber"].notna() & own["street"].notna()]
    assert len(with_number) >= 5
    for row in with_number.itertuples():
        assert row.address.startswith(f"{row.street} {row.housenumber}")
    bx, by = to_metric(book["lon"].to_numpy(), book["lat"].to_numpy())
    near = offers[offers["address_source"] == "housenumber_nearby"].sample(60, random_state=3)
    ox, oy = to_metric(near["lon"].to_numpy(), near["lat"].to_numpy())
    for (_, row), x, y in zip(near.iterrows(), ox, oy, strict=True):
        d = np.hypot(bx - x, by - y)
        best = book.iloc[int(d.argmin())]
        assert d.min() <= 50.0
        assert row["address"].startswith(f"{best['street']} {best['number']}, "), row["name"]
    none = offers[offers["address_source"].isna()]
    nx, ny = to_metric(none["lon"].to_numpy(), none["lat"].to_numpy())
    assert all(np.hypot(bx - x, by - y).min() > 50.0 for x, y in zip(nx, ny, strict=True))
    assert none["street"].isna().all() and none["town"].isna().all()


# ----------------------------------------------------------------- /offers

def test_kita_lists_no_hort(client, settings) -> None:
    rule = settings.offers
    kitas = client.get("/offers", params={"category": "kita"}).json()["features"]
    horte = client.get("/offers", params={"category": "hort"}).json()["features"]
    assert len(kitas) > 200 and len(horte) >= 5
    hort = re.compile(rule.hort_pattern, re.I)
    mixed = re.compile(rule.hort_unless, re.I)
    for f in kitas:
        name = f["properties"]["name"]
        assert not hort.search(name) or mixed.search(name), name
    assert all(hort.search(f["properties"]["name"]) for f in horte)
    assert "Horte Brüder-Grimm-Schule" in {f["properties"]["name"] for f in horte}


def test_age_and_open_at_put_matches_first_and_mark_unknowns(client, services) -> None:
    """No offer has hours and none its own ages yet: Sunday 03:00 matches nothing, and every
    Kita is listed as unknown instead of being counted as open. Age 4 drops the Krippen
    (named 0–3); the other Kitas' ages are only the category default: unknown."""
    active = services.offers[(services.offers["status"] == "active")
                             & (services.offers["category"] == "kita")]
    body = client.get("/offers", params={"category": "kita", "age": 2,
                                         "open_at": "2026-11-29T03:00"}).json()
    assert body["matched"] == 0 and body["unknown"] == len(body["features"]) == len(active)
    assert {(f["properties"]["open"], f["properties"]["matches"]) for f in body["features"]} \
        == {(None, None)}
    krippe = active["name"].str.contains("krippe", case=False) & ~active["name"].str.contains(
        "kita|kindergarten|kindertages|familienzentrum", case=False)
    assert krippe.sum() >= 5
    four = client.get("/offers", params={"category": "kita", "age": 4}).json()
    assert {f["properties"]["id"] for f in four["features"]} == set(active.loc[~krippe, "id"])
    assert four["matched"] == 0
    two = client.get("/offers", params={"category": "kita", "age": 2}).json()
    assert two["matched"] == krippe.sum()  # known from the name: 0–3
    assert [f["properties"]["matches"] for f in two["features"][:two["matched"]]] == \
        [True] * int(krippe.sum())
    assert {f["properties"]["id"] for f in two["features"][:two["matched"]]} == \
        set(active.loc[krippe, "id"])


@pytest.mark.parametrize(("hours_text", "when", "state", "day"), [
    ("Mo-Fr 07:30-16:30", "2026-12-01T09:00", True, "07:30–16:30"),
    ("Mo-Fr 07:30-16:30", "2026-12-05T09:00", False, "heute geschlossen"),
    ("Mo-Fr 07:30-16:30; Sa 09:00-12:00 unknown", "2026-12-05T10:00", None, "09:00–12:00?"),
    ("Mo,We 08:00-12:00,14:00-17:00", "2026-12-02T13:00", False, "08:00–12:00, 14:00–17:00"),
    ("24/7", "2026-12-06T03:00", True, "00:00–24:00"),
    ("nach Vereinbarung", "2026-12-01T09:00", None, None),
])
def test_opening_hours_at_a_local_time(hours_text, when, state, day) -> None:
    moment = pd.Timestamp(when).to_pydatetime()
    assert hours.is_open(hours_text, moment) is state
    assert hours.day_text(hours_text, moment.date(), "heute geschlossen") == day
    assert hours.is_open(None, moment) is None and hours.day_text(" ", moment.date(), "x") is None


def test_weekday_time_is_the_next_such_day() -> None:
    today = pd.Timestamp("2026-11-30").date()  # a Monday
    assert str(hours.weekday_time("mo", pd.Timestamp("15:00").time(), today)) == \
        "2026-11-30 15:00:00"
    assert str(hours.weekday_time("di", pd.Timestamp("15:00").time(), today)) == \
        "2026-12-01 15:00:00"
    assert str(hours.weekday_time("so", pd.Timestamp("08:00").time(), today)) == \
        "2026-12-06 08:00:00"


# ----------------------------------------------------------------- /family/offers

def _stage_truth(services: Services, stage_key: str, age: float, lon: float, lat: float,
                 mode: str) -> dict[str, float]:
    """Offers of a stage for ``age`` within its budget: an engine on the stage's offers of
    each category with the budget as its limit and k = 10, checked to be complete."""
    cs = services.settings.chain
    stage = next(s for s in cs.stages if s.key == stage_key)
    offers = services.offers[(services.offers["status"] == "active")
                             & services.offers["category"].isin(stage.categories)]
    ages = offer_ages(offers, services.settings).loc[offers["id"]]
    keep = ((ages["age_from"] < stage.age_to) & (ages["age_to"] > stage.age_from)
            & (ages["age_from"] <= age) & (ages["age_to"] >= age)).to_numpy()
    offers = offers[keep]
    truth: dict[str, float] = {}
    for category in stage.categories:
        subset = offers[offers["category"] == category]
        if subset.empty:
            continue
        engine = _engine_on(services, subset, nearest_max_min=stage.budget_min, k_max=10)
        found = engine.nearest(lon, lat, category, mode, 10)
        assert len(found) < 10  # all within the budget are listed
        truth.update(zip(found["offer_id"], found["minutes"], strict=True))
    return truth


def test_age_view_lists_exactly_the_stage_offers_within_budget(client, services) -> None:
    r = client.get("/family/offers", params={"age": 4, "address": WEENDER})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["origin"]["precision"] == "address" and body["mode"] == "walk"
    assert [s["key"] for s in body["stages"]] == ["kindergarten", "alle"]
    lon, lat = body["origin"]["lon"], body["origin"]["lat"]
    for stage in body["stages"]:
        truth = _stage_truth(services, stage["key"], 4, lon, lat, "walk")
        got = {o["id"]: o["minutes"]["walk"] for o in stage["offers"]}
        assert set(got) == set(truth), stage["key"]
        assert got == pytest.approx(truth, abs=0.01)
        walk = [o["minutes"]["walk"] for o in stage["offers"]]
        assert walk == sorted(walk) and max(walk) <= stage["budget_min"]
        assert all(o["minutes"]["bike"] < o["minutes"]["walk"] for o in stage["offers"])
        assert stage["matched"] is None
    assert len(body["stages"][0]["offers"]) >= 5  # ≈ 7 Kitas within 15 minutes on foot
    assert body["stages"][0]["label"] == "3 bis 6 Jahre (Kindergarten)"


def test_age_view_by_bike_with_weekday_and_time_marks_unknown_hours(client, services) -> None:
    plain = client.get("/family/offers", params={"age": 7, "address": WEENDER,
                                                 "mode": "bike"}).json()
    r = client.get("/family/offers", params={"age": 7, "address": WEENDER, "mode": "bike",
                                             "weekday": "di", "time": "15:00", "lang": "en"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weekday"] == "di" and body["time"] == "15:00"
    assert body["hours_unknown"] == "Opening hours unknown"
    assert [s["key"] for s in body["stages"]] == ["grundschule", "alle"]
    assert body["stages"][0]["label"] == messages.text("labels.stage.grundschule", "en")
    for with_time, without in zip(body["stages"], plain["stages"], strict=True):
        # nothing has hours: no offer is a match, none is dropped as closed
        assert with_time["matched"] == 0
        assert [o["id"] for o in with_time["offers"]] == [o["id"] for o in without["offers"]]
        assert {o["open"] for o in with_time["offers"]} <= {None}
    lon, lat = body["origin"]["lon"], body["origin"]["lat"]
    truth = _stage_truth(services, "grundschule", 7, lon, lat, "bike")
    assert {o["id"] for o in body["stages"][0]["offers"]} == set(truth)
    categories = {o["category"] for o in body["stages"][0]["offers"]}
    assert categories <= {"grundschule", "hort"} and "grundschule" in categories


def test_age_view_of_a_gemeinde_starts_at_its_main_place(client, services) -> None:
    from geo.products.guide import main_place

    data = ChainData(services.engine)
    place = main_place(data, "03159016")
    r = client.get("/family/offers", params={"age": 0.5, "gemeinde": "03159016"})
    assert r.status_code == 200, r.text
    body = r.json()
    x, y = to_metric(np.array([body["origin"]["lon"]]), np.array([body["origin"]["lat"]]))
    assert abs(x[0] - place["x"]) < 0.01 and abs(y[0] - place["y"]) < 0.01
    assert body["gemeinde"] == "03159016" and body["origin"]["address"] == place["name"]
    assert [s["key"] for s in body["stages"]] == ["fruehe_hilfen", "alle"]
    truth = _stage_truth(services, "fruehe_hilfen", 0.5, body["origin"]["lon"],
                         body["origin"]["lat"], "walk")
    assert {o["id"] for o in body["stages"][0]["offers"]} == set(truth)


@pytest.mark.parametrize(("params", "field", "kind"), [
    ({"age": 4, "gemeinde": "Atlantis"}, "gemeinde", "unknown_gemeinde"),
    ({"age": 4, "gemeinde": "Rosdorf", "address": WEENDER}, "gemeinde", "conflict"),
    ({"age": 18, "gemeinde": "Rosdorf"}, "age", "less_than"),
    ({"age": 4, "gemeinde": "Rosdorf", "time": "25:00"}, "time", "string_pattern_mismatch"),
    ({"age": 4, "gemeinde": "Rosdorf", "weekday": "monday"}, "weekday", "literal_error"),
    ({"age": 4, "gemeinde": "Rosdorf", "mode": "car"}, "mode", "literal_error"),
    ({"age": 4}, "lat", "missing"),
])
def test_age_view_refuses_bad_input_naming_the_field(client, params, field, kind) -> None:
    r = client.get("/family/offers", params=params)
    assert r.status_code == 422, r.text
    problem = r.json()["detail"][0]
    assert problem["loc"][-1] == field and problem["type"] == kind
    assert "Traceback" not in r.text and _is_german(problem["msg"]), problem["msg"]


def _is_german(msg: str) -> bool:
    """Whether ``msg`` is one of the German error texts, placeholders filled."""
    templates = messages.section("errors", "de").values()
    return any(re.fullmatch(re.sub(r"\\\{\w+\\\}", ".+", re.escape(t)), msg, re.S)
               for t in templates)


# ----------------------------------------------------------------- geocoder through the API

def test_town_restricts_and_suggestions_stay_in_walkenried(client) -> None:
    r = client.get("/nearest", params={"address": "Kirchstraße 1, Walkenried",
                                       "category": "kita"})
    assert r.status_code == 404
    body = r.json()
    assert body["detail"][0]["type"] == "address_not_found"
    assert body["detail"][0]["msg"] == \
        "Die Adresse 'Kirchstraße 1, Walkenried' haben wir nicht gefunden."
    assert len(body["suggestions"]) > 1 and body["suggestions"][-1] == "Walkenried"
    for text in body["suggestions"]:  # each suggestion lies in Walkenried
        found = client.get("/nearest", params={"address": text, "category": "kita",
                                               "route": "false"})
        assert found.status_code == 200, text
        assert "Walkenried" in found.json()["origin"]["address"], text


@pytest.mark.parametrize(("lang", "note"), [
    ("de", "Hausnummer nicht gefunden; Meinten Sie Markstraße 1, Duderstadt?"),
    ("en", "House number not found; Did you mean Markstraße 1, Duderstadt?"),
    ("tr", "Kapı numarası bulunamadı; Bunu mu demek istediniz: Markstraße 1, Duderstadt?"),
])
def test_a_missing_number_keeps_the_street_and_says_so(client, lang, note) -> None:
    r = client.get("/nearest", params={"address": "Marktstraße 1, Duderstadt",
                                       "category": "kita", "k": 1, "lang": lang})
    assert r.status_code == 200, r.text
    origin = r.json()["origin"]
    assert origin["address"] == "Marktstraße, Duderstadt" and origin["precision"] == "street"
    assert origin["number_found"] is False and origin["note"] == note
    assert origin["suggestions"] == ["Markstraße 1, Duderstadt"]
    exact = client.get("/nearest", params={"address": "Marktstraße 99, Duderstadt",
                                           "category": "kita", "k": 1}).json()["origin"]
    assert exact["number_found"] is None and exact["note"] is None
    assert exact["address"] == "Marktstraße 99, Duderstadt"


def test_umlaut_spellings_find_the_same_address(client) -> None:
    origins = [client.get("/nearest", params={"address": q, "category": "kita", "k": 1,
                                              "route": "false"}).json()["origin"]
               for q in ("Göttingen, Weender Landstraße 2", "Goettingen, Weender Landstraße 2",
                         "Gottingen, Weender Landstrasse 2")]
    assert origins[0]["address"].startswith("Weender Landstraße 2, ")
    assert origins[1] == origins[0] and origins[2] == origins[0]


# ----------------------------------------------------------------- languages

@pytest.mark.parametrize("lang", LANGS)
def test_validation_and_transit_messages_in_six_languages(client, lang) -> None:
    long = client.get("/nearest", params={"address": "x" * 300, "category": "kita",
                                          "lang": lang})
    assert long.status_code == 422 and long.headers["content-language"] == lang
    problem = long.json()["detail"][0]
    assert problem["type"] == "string_too_long" and "200" in problem["msg"]
    assert problem["msg"] == messages.text("errors.validation.string_too_long", lang,
                                           max_length=200)
    assert "String should" not in problem["msg"]
    transit = client.get("/nearest", params={**ALBANI, "category": "kita", "mode": "transit"},
                         headers={"Accept-Language": f"{lang};q=0.9, fr;q=0.5"})
    assert transit.status_code == 409 and transit.headers["content-language"] == lang
    msg = transit.json()["detail"][0]["msg"]
    assert msg == messages.text("errors.type.no_timetable", lang, region="Landkreis Göttingen")
    assert "erreichbar gtfs load" in msg and "Landkreis Göttingen" in msg


def test_every_language_has_every_error_text() -> None:
    german = {k for k in messages.table("de") if k.startswith(("errors.", "api."))}
    assert len(german) > 30
    for lang in LANGS[1:]:
        theirs = {k for k in messages.table(lang) if k.startswith(("errors.", "api."))}
        assert theirs == german, lang
        assert all(messages.table(lang)[k] != messages.table("de")[k] for k in german
                   if k != "errors.validation.json"), lang


def test_enum_and_missing_values_are_named_in_words(client) -> None:
    r = client.get("/nearest", params={**ALBANI, "category": "zoo", "lang": "en"})
    problem = r.json()["detail"][0]
    assert problem["msg"].startswith("Allowed values: kita, grundschule, hort, ")
    r = client.get("/nearest", params={"category": "kita"})
    assert r.json()["detail"][0]["msg"] == \
        "lat fehlt (oder statt lat/lon eine Adresse angeben)."
    assert r.headers["content-language"] == "de"


def test_unknown_gemeinde_is_named_in_the_asked_language(client, services) -> None:
    r = client.get("/offers", params={"gemeinde": "Atlantis", "lang": "en"})
    assert r.status_code == 422 and r.headers["content-language"] == "en"
    body = r.json()
    assert body["detail"][0]["msg"] == "There is no municipality 'Atlantis' in Landkreis Göttingen."
    assert "Rosdorf" in body["suggestions"]
    r = client.get("/offers", params={"gemeinde": "Atlantis"},
                   headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert r.json()["detail"][0]["msg"] == "Общины 'Atlantis' в Landkreis Göttingen нет."
