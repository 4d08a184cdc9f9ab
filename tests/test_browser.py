"""Browser tests in headless Debian Chromium (selenium + /usr/bin/chromedriver).

The browser may reach nothing but the loopback server: every other host name resolves to
nothing (``--host-resolver-rules``), so the pages must work offline.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _services import services_for
from browser_support import browser, needs_chromium, serve, server
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from geo.engine.access import Accessibility
from geo.products.maps import travel_time_map
from geo.settings import Settings

ADDRESS = "Weender Landstraße 2, Göttingen"

pytestmark = needs_chromium
__all__ = ["browser", "server"]  # fixtures used by the tests below


#: A stored-XSS attempt: an offer (and a Gemeinde) named with markup that would change the
#: page title if the page inserted names as HTML.
XSS = "<img src=x onerror=document.title='X'>"


@pytest.fixture(scope="module")
def hostile_server(settings: Settings, networks: dict) -> Iterator[str]:
    """The API on the real services with every Grundschule and every Gemeinde renamed to
    :data:`XSS` (a fixture: the catalogue on disk is untouched)."""
    real = services_for(settings)
    offers = real.offers.copy()
    offers.loc[offers["category"] == "grundschule", "name"] = XSS
    gemeinden = copy.deepcopy(real.gemeinden)
    for feature in gemeinden["features"]:
        feature["properties"]["name"] = XSS
    yield from serve(dataclasses.replace(real, offers=offers, gemeinden=gemeinden))


def test_family_page_finds_the_nearest_grundschule_for_an_address(
        browser: webdriver.Chrome, server: str, settings: Settings, tmp_path: Path) -> None:
    engine = services_for(settings).engine
    browser.get(server + "/")
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.querySelectorAll("
                                   "'.leaflet-overlay-pane path').length") > 0)  # Gemeinden
    browser.find_element(By.ID, "address").send_keys(ADDRESS)
    Select(browser.find_element(By.ID, "category")).select_by_value("grundschule")
    Select(browser.find_element(By.ID, "mode")).select_by_value("walk")
    browser.find_element(By.ID, "go").click()
    first = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    origin = services_for(settings).geocoder.locate(ADDRESS)
    expected = engine.nearest(origin.lon, origin.lat, "grundschule", "walk", 3)
    assert first.get_attribute("data-offer-id") == expected["offer_id"].iloc[0]
    assert expected["name"].iloc[0] in first.text
    assert f"{round(expected['minutes'].iloc[0])} min" in first.text
    assert "Weender Landstraße 2" in browser.find_element(By.ID, "origin").text
    # shown on the map: offer markers and route lines drawn by Leaflet
    markers = browser.find_elements(By.CSS_SELECTOR, "path.offer-marker")
    assert len(markers) == len(expected)
    browser.save_screenshot(str(tmp_path / "family-page.png"))
    assert (tmp_path / "family-page.png").stat().st_size > 10_000


def test_family_page_shows_hostile_names_as_text(browser: webdriver.Chrome,
                                                 hostile_server: str) -> None:
    browser.get(hostile_server + "/")
    title = browser.title
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.querySelectorAll("
                                   "'.leaflet-overlay-pane path').length") > 0)
    browser.find_element(By.ID, "address").send_keys(ADDRESS)
    Select(browser.find_element(By.ID, "category")).select_by_value("grundschule")
    browser.find_element(By.ID, "go").click()
    first = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    assert first.text.startswith(XSS)  # shown as the text it is
    browser.execute_script(  # every popup and tooltip the page has, opened at once
        "found.eachLayer(l => l.getPopup() && l.openPopup());"
        "map.eachLayer(l => l.getTooltip && l.getTooltip() && l.openTooltip());")
    WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content"))
    texts = browser.execute_script(
        "return [...document.querySelectorAll('.leaflet-popup-content, .leaflet-tooltip')]"
        ".map(e => e.textContent)")
    assert any(t.startswith(XSS + ": ") for t in texts)  # the offer's popup
    assert XSS in texts  # a Gemeinde's tooltip
    time.sleep(1.0)  # an onerror handler would have run by now
    assert browser.title == title
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"]').length"
                                  ) == 0


def test_family_page_answers_a_click_on_the_map(
        browser: webdriver.Chrome, server: str, settings: Settings) -> None:
    lon, lat = 9.9354, 51.5328  # Albaniplatz, Göttingen
    browser.get(server + "/")
    Select(browser.find_element(By.ID, "category")).select_by_value("kita")
    Select(browser.find_element(By.ID, "mode")).select_by_value("bike")
    browser.execute_script(f"map.fire('click', {{latlng: L.latLng({lat}, {lon})}});")
    first = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    expected = services_for(settings).engine.nearest(lon, lat, "kita", "bike", 3)
    assert first.get_attribute("data-offer-id") == expected["offer_id"].iloc[0]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#results li")) == 3


def test_family_page_offers_suggestions_for_a_misspelt_address(
        browser: webdriver.Chrome, server: str) -> None:
    browser.get(server + "/")
    browser.find_element(By.ID, "address").send_keys("Wender Landstrasse 2")
    browser.find_element(By.ID, "go").click()
    message = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "message") if "Meinten Sie" in
        d.find_element(By.ID, "message").text else False)
    assert "Weender Landstraße" in [b.text for b in message.find_elements(By.TAG_NAME, "button")]


def test_coverage_map_renders_its_layers_without_network(
        browser: webdriver.Chrome, settings: Settings, networks: dict, tmp_path: Path) -> None:
    engine: Accessibility = services_for(settings).engine
    page = tmp_path / "kita-walk.html"
    travel_time_map(engine, "kita", "walk").save(str(page))
    browser.get(page.as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return !!window.L && document.querySelectorAll("
                                   "'.leaflet-image-layer').length > 0"))
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR,
                                                    ".leaflet-control-layers-overlays label")]
    assert any("Fahrzeit (Minuten" in t for t in labels)
    assert any("Gemeinden (Erreichbarkeit)" in t for t in labels)
    assert any(t.startswith("Angebote: Kita (") for t in labels)
    assert any("OpenStreetMap-Karte (online)" in t for t in labels)
    attribution = browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
    for text in ("OpenStreetMap contributors", "GeoBasis-DE / BKG", "Destatis"):
        assert text in attribution
    assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-scale-line")
    assert "Minuten bis zum nächsten Angebot" in browser.find_element(By.ID, "map-legend").text
    assert browser.find_elements(By.CSS_SELECTOR, ".marker-cluster")  # clustered Kitas
    # nothing was fetched from the network: every resource is inline or local
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in fetched if u.startswith("http")] == []
    browser.save_screenshot(str(tmp_path / "kita-walk.png"))
    assert (tmp_path / "kita-walk.png").stat().st_size > 10_000
