"""Browser test: "Bus & Bahn" on the family page (issue 17 §3), desktop and phone, offline.

The Göttingen variant, beside a street network: the Enzkreis (a timetable without streets,
"Bus & Bahn" alone) is tested in ``tests/test_browser_enzkreis.py``. Here the county's real
Services (Göttingen streets, addresses and offers) get the real gtfs.de long-distance feed
(``germany/gtfs/gtfsde_fernverkehr_goettingen_2025-11.zip``) stored as the region's
timetable. It serves only Göttingen station inside the county, so the journeys the page
shows from the station are walks (one leg with times); rides with a line name are checked
against the API's answer as well, but this feed yields none inside the county.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from _services import services_for
from browser_support import browser, needs_chromium, serve, server
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_browser import console_errors, open_page, screenshot, viewport

from geo import messages
from geo.settings import Settings

pytestmark = needs_chromium
__all__ = ["browser", "server", "viewport"]  # fixtures used by the tests below

#: Göttingen station forecourt (WGS84), as in tests/test_transit_goettingen.py
STATION = (9.9270, 51.5362)


@pytest.fixture(scope="module")
def transit_server(fv_settings: Settings) -> Iterator[str]:
    """The API on the county's real Services with the gtfs.de fv feed as its timetable."""
    yield from serve(services_for(fv_settings))


def expected_legs(legs: list[dict]) -> list[str]:
    """The German lines the page should show for the API's legs (independent of family.js)."""
    page = messages.section("page", "de")
    place = {"origin": page["leg_start"], "destination": page["leg_destination"]}
    out = []
    for leg in legs:
        template = page["leg_walk" if leg["route"] == "walk" else "leg_ride"]
        out.append(template.format(**{
            "route": leg["route"], "from": place.get(leg["from_name"], leg["from_name"]),
            "to": place.get(leg["to_name"], leg["to_name"]),
            "departure": leg["departure"][11:16], "arrival": leg["arrival"][11:16]}))
    return out


def test_bus_und_bahn_shows_the_legs_of_the_api(browser: webdriver.Chrome,
                                                 transit_server: str, viewport: str) -> None:
    """Choose Bus & Bahn from the station: each result lists the legs /nearest gives."""
    health = httpx.get(f"{transit_server}/health", timeout=60).json()
    assert health["timetable"] == "long_distance_only"
    open_page(browser, f"{transit_server}/?lang=de")
    assert not browser.find_element(By.ID, "transit-none").is_displayed()
    mode = Select(browser.find_element(By.ID, "mode"))
    assert "transit" in [o.get_attribute("value") for o in mode.options]
    mode.select_by_value("transit")
    assert mode.first_selected_option.text == messages.section("labels", "de")["mode.transit"]
    Select(browser.find_element(By.ID, "category")).select_by_value("grundschule")
    lon, lat = STATION
    browser.execute_script(
        "map.fire('click', {latlng: L.latLng(arguments[0], arguments[1])})", lat, lon)
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li ol.legs li"))
    answer = httpx.get(f"{transit_server}/nearest?" + urlencode(
        {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "category": "grundschule",
         "mode": "transit", "k": 3, "lang": "de"}), timeout=60).json()
    assert answer["results"] and all(r["legs"] for r in answer["results"])
    items = browser.find_elements(By.CSS_SELECTOR, "#results > li")
    assert len(items) == len(answer["results"])
    for item, res in zip(items, answer["results"], strict=True):
        assert item.get_attribute("data-offer-id") == res["offer"]["id"]
        shown = [li.text for li in item.find_elements(By.CSS_SELECTOR, "ol.legs li")]
        assert shown == expected_legs(res["legs"])
        assert any(":" in line and "→" in line for line in shown)
    screenshot(browser, f"family-transit-{viewport}")
    assert console_errors(browser) == []


def test_without_a_timetable_bus_und_bahn_is_absent_with_one_sentence(
        browser: webdriver.Chrome, server: str) -> None:
    """The county's services without a feed: no transit option, the German sentence."""
    assert httpx.get(f"{server}/health", timeout=60).json()["timetable"] == "none"
    browser.get_log("browser")
    open_page(browser, f"{server}/?lang=de")
    values = [o.get_attribute("value") for o in
              Select(browser.find_element(By.ID, "mode")).options]
    assert values == ["walk", "bike", "car"]
    note = browser.find_element(By.ID, "transit-none")
    assert note.is_displayed()
    assert note.text == messages.section("page", "de")["transit_none"]
    assert console_errors(browser) == []



#: Hattorf am Harz (WGS84): a new Kita here brings children within 15 min (on foot)
HATTORF = (10.2297, 51.6397)


def test_planner_offers_bus_und_bahn_and_shows_its_what_if(browser: webdriver.Chrome,
                                                            transit_server: str) -> None:
    """The planner with the fv timetable: Bus & Bahn in the mode select, its note, and a
    click's table equal to the API's transit evaluation; best sites declined with the reason.
    """
    browser.get(f"{transit_server}/planung?lang=de")
    WebDriverWait(browser, 90).until(
        lambda d: d.execute_script("return document.body.dataset.evaluations || 0"))
    mode = Select(browser.find_element(By.ID, "mode"))
    assert [o.get_attribute("value") for o in mode.options] == ["walk", "bike", "car",
                                                               "transit"]
    note = browser.find_element(By.ID, "transit-note")
    assert note.is_displayed() and note.text.startswith("nur Fernverkehr geladen")
    mode.select_by_value("transit")
    assert mode.first_selected_option.text == messages.section("labels", "de")["mode.transit"]
    Select(browser.find_element(By.ID, "category")).select_by_value("kita")
    seen = int(browser.execute_script("return document.body.dataset.evaluations"))
    browser.execute_script("map.fire('click', {latlng: L.latLng(arguments[0], arguments[1])})",
                           HATTORF[1], HATTORF[0])
    WebDriverWait(browser, 60).until(lambda d: int(d.execute_script(
        "return document.body.dataset.evaluations")) > seen and d.find_element(
        By.CSS_SELECTOR, "#table tbody tr.changed"))
    answer = httpx.post(f"{transit_server}/planning/evaluate", timeout=60, json={
        "category": "kita", "mode": "transit", "minutes": 15, "weight": "children_under_10",
        "add": [list(HATTORF)]}).json()
    shown = {row.get_attribute("data-ags"): int(row.find_element(
        By.CSS_SELECTOR, ".gained").get_attribute("data-value"))
        for row in browser.find_elements(By.CSS_SELECTOR, "#table tbody tr")}
    assert shown == {r["ags"]: r["gained"] for r in answer["rows"]}
    assert any(shown.values())
    browser.find_element(By.ID, "best").click()
    assert browser.find_element(By.ID, "message").text == \
        messages.section("planner.page", "de")["best_sites_transit"]
    assert console_errors(browser) == []
