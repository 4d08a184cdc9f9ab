"""Browser test: the family page on the Enzkreis, a region with a timetable but no streets.

Desktop and phone, offline, one server for both (issue 17 §3). The region has the real VPE
feed but no vector tiles, hence no street network, address index or base map; its offers
are the labelled TEST fixture (:mod:`_enzkreis`). The page must offer "Bus & Bahn" alone,
ask for no base-map tile, open on the Enzkreis, find a stop by its name, show for a shared
link the legs that ``/nearest`` gives, and answer "Hin und zurück in den Öffnungszeiten?"
as ``/there-and-back`` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from _enzkreis import HOME, enzkreis_services
from browser_support import browser, needs_chromium, serve
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_browser import console_errors, open_page, screenshot, viewport
from test_browser_transit import expected_legs

from api.services import Services
from geo import messages
from geo.settings import get_region

pytestmark = needs_chromium
__all__ = ["browser", "viewport"]  # fixtures used by the tests below

PAGE = messages.section("page", "de")
STOP = "Ellmendingen Pforzheimer Str."  #: a stop of the VPE feed in Keltern


@pytest.fixture(scope="module")
def enz(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    return enzkreis_services(data_dir, tmp_path_factory.mktemp("enz-page"))


@pytest.fixture(scope="module")
def enz_server(enz: Services) -> Iterator[str]:
    """The API on the Enzkreis services (VPE feed loaded, fixture offers)."""
    yield from serve(enz)


def requested(browser: webdriver.Chrome, part: str) -> list[str]:
    """URLs the page has requested that contain ``part``."""
    return browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes(arguments[0]))", part)


def test_opens_on_the_region_with_bus_und_bahn_alone(browser: webdriver.Chrome,
                                                     enz_server: str, viewport: str) -> None:
    open_page(browser, f"{enz_server}/?lang=de")
    assert browser.title == messages.text("page.title", region="Enzkreis")
    mode = Select(browser.find_element(By.ID, "mode"))
    assert [o.get_attribute("value") for o in mode.options] == ["transit"]
    assert mode.first_selected_option.text == messages.text("labels.mode.transit")
    assert not browser.find_element(By.ID, "transit-none").is_displayed()
    assert not browser.find_element(By.ID, "tab-child").is_displayed()  # walk/bike minutes
    footer = browser.find_element(By.CSS_SELECTOR, "footer small").text
    assert messages.text("page.footer_timetable") in footer  # not "auf dem Straßennetz"
    assert messages.text("page.footer") not in footer
    w, s, e, n = get_region("enzkreis").bbox
    view = browser.execute_script(
        "const b = map.getBounds(), c = map.getCenter();"
        "return [c.lng, c.lat, b.contains(outline.getBounds())]")
    assert w < view[0] < e and s < view[1] < n and view[2] is True
    assert requested(browser, "/basemap/") == []  # no base map built: no tile asked for
    field = browser.find_element(By.ID, "address")
    assert field.get_attribute("placeholder") == PAGE["address_placeholder_places"]
    field.send_keys(STOP)  # a stop name of the feed is a start
    Select(browser.find_element(By.ID, "category")).select_by_value("kita")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li ol.legs li"))
    assert browser.find_element(By.ID, "origin").text == \
        PAGE["origin"].format(place=f"{STOP} (Keltern)")
    assert console_errors(browser) == []


def test_shared_link_shows_the_legs_and_there_and_back(browser: webdriver.Chrome,
                                                       enz_server: str, viewport: str) -> None:
    lon, lat = HOME
    where = {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "category": "familienzentrum",
             "mode": "transit"}
    open_page(browser, f"{enz_server}/?{urlencode({**where, 'lang': 'de'})}")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li ol.legs li"))
    answer = httpx.get(f"{enz_server}/nearest?" + urlencode({**where, "k": 3, "lang": "de"}),
                       timeout=60).json()
    items = browser.find_elements(By.CSS_SELECTOR, "#results > li")
    assert [i.get_attribute("data-offer-id") for i in items] == \
        [r["offer"]["id"] for r in answer["results"]]
    first, res = items[0], answer["results"][0]
    shown = [li.text for li in first.find_elements(By.CSS_SELECTOR, ":scope > ol.legs li")]
    assert shown == expected_legs(res["legs"])
    assert any(line.startswith("Linie 720:") for line in shown)

    first.find_element(By.CSS_SELECTOR, ".there-and-back button").click()
    verdict = WebDriverWait(browser, 60).until(
        lambda d: first.find_elements(By.CSS_SELECTOR, ".tab-answer .verdict"))[0]
    trip = httpx.get(f"{enz_server}/there-and-back?" + urlencode(
        {"lat": answer["origin"]["lat"], "lon": answer["origin"]["lon"],
         "offer_id": res["offer"]["id"], "lang": "de"}), timeout=60).json()
    assert trip["possible"] is True
    assert verdict.text.startswith(PAGE["tab_yes"].split(":")[0] + ":")
    assert f"vor {trip['arrive_by']} Uhr" in verdict.text
    assert f"nach {trip['leave_after']} Uhr" in verdict.text
    ways = first.find_elements(By.CSS_SELECTOR, ".tab-answer ol.legs")
    assert [[li.text for li in way.find_elements(By.TAG_NAME, "li")] for way in ways] == [
        expected_legs(trip["outbound"]["legs"]), expected_legs(trip["back"]["legs"])]
    assert [p.text for p in first.find_elements(By.CSS_SELECTOR, ".tab-answer .way")] == [
        PAGE[key].format(departure=trip[way]["departure"][11:16],
                         arrival=trip[way]["arrival"][11:16])
        for key, way in (("tab_outbound", "outbound"), ("tab_back", "back"))]
    screenshot(browser, f"family-enzkreis-{viewport}")
    assert requested(browser, "/basemap/") == []
    assert console_errors(browser) == []


def test_unknown_hours_are_said_instead_of_asking(browser: webdriver.Chrome,
                                                  enz: Services) -> None:
    """The same services with the offers' hours unknown: no button, the sentence instead."""
    offers = enz.offers.assign(opening_hours=None)
    server = serve(dataclasses.replace(enz, offers=offers))
    url = next(server)
    try:
        lon, lat = HOME
        open_page(browser, f"{url}/?" + urlencode({"lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                                                   "category": "familienzentrum",
                                                   "mode": "transit", "lang": "de"}))
        box = WebDriverWait(browser, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li .there-and-back"))[0]
        assert box.text == PAGE["tab_hours_unknown"]
        assert box.find_elements(By.TAG_NAME, "button") == []
        assert console_errors(browser) == []
    finally:
        next(server, None)
