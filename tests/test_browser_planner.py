"""The planner page /planung in headless Debian Chromium on the real data, offline.

Desktop (1280×900) and phone (390×844): a click on the map adds a site and the Gemeinde
table shows the engine's what-if numbers in under a second; a saved scenario reloads from
its link; two scenarios compare; a download opens in geopandas; no console errors.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pytest
from _services import services_for
from browser_support import browser, needs_chromium, server
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from geo.products import scenarios, siting
from geo.settings import Settings

pytestmark = needs_chromium
__all__ = ["browser", "server"]  # fixtures used by the tests below

#: Hattorf am Harz (WGS84): a new Kita here brings children within 15 min on foot.
HATTORF = (10.2297, 51.6397)
#: Bad Lauterberg im Harz (WGS84), a second site.
LAUTERBERG = (10.4695, 51.6322)


def _evaluations(browser: webdriver.Chrome) -> int:
    return int(browser.execute_script("return document.body.dataset.evaluations || 0"))


def _open(browser: webdriver.Chrome, url: str) -> None:
    browser.get(url)
    WebDriverWait(browser, 90).until(lambda d: _evaluations(d) >= 1)


def _click_map(browser: webdriver.Chrome, lon: float, lat: float) -> float:
    """Fire a map click; wait for the table; return the page's own timing (ms)."""
    seen = _evaluations(browser)
    browser.execute_script(f"map.fire('click', {{latlng: L.latLng({lat}, {lon})}});")
    WebDriverWait(browser, 30).until(lambda d: _evaluations(d) > seen)
    return float(browser.find_element(By.ID, "timing").get_attribute("data-ms"))


def _table(browser: webdriver.Chrome) -> dict[str, int]:
    return {row.get_attribute("data-ags"): int(row.find_element(
        By.CSS_SELECTOR, ".gained").get_attribute("data-value"))
        for row in browser.find_elements(By.CSS_SELECTOR, "#table tbody tr")}


def _no_console_errors(browser: webdriver.Chrome) -> None:
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def _what_if(settings: Settings, *sites: tuple[float, float]) -> dict[str, int]:
    gemeinden = services_for(settings).engine.what_if("kita", "walk", add=list(sites)).gemeinden
    return dict(zip(gemeinden["ags"], gemeinden["children_within_15min_change"], strict=True))


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)])
def test_a_click_adds_a_site_and_the_table_shows_the_what_if(
        browser: webdriver.Chrome, server: str, settings: Settings, size: tuple[int, int],
        tmp_path: Path) -> None:
    browser.set_window_size(*size)
    _open(browser, server + "/planung")
    assert set(_table(browser).values()) == {0}  # today
    _click_map(browser, *HATTORF)  # the first what-if of a server thread sets up
    assert _table(browser) == _what_if(settings, HATTORF)
    ms = _click_map(browser, *LAUTERBERG)
    assert _table(browser) == _what_if(settings, HATTORF, LAUTERBERG)
    assert ms < 1000  # what-if, table and map redrawn, measured by the page
    assert browser.find_elements(By.CSS_SELECTOR, "path.site-marker")
    assert browser.find_elements(By.CSS_SELECTOR, "img.travel-time")
    controls = browser.execute_script(
        "return [...document.querySelectorAll('.leaflet-control')].map(e => {"
        "const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];})")
    for i, a in enumerate(controls):  # no map control covers another
        for b in controls[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in fetched if not u.startswith((server, "data:"))] == []  # offline
    browser.save_screenshot(str(tmp_path / "planner.png"))
    _no_console_errors(browser)
    browser.set_window_size(1280, 900)


def test_a_saved_scenario_reloads_from_its_link(browser: webdriver.Chrome, server: str,
                                                settings: Settings) -> None:
    _open(browser, server + "/planung")
    _click_map(browser, *HATTORF)
    browser.find_element(By.ID, "name").send_keys("Kita Hattorf (Browser)")
    browser.find_element(By.ID, "save").click()
    link = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "share-link"))[0]
    href = link.get_attribute("href")
    assert "/planung?szenario=kita-hattorf-browser-" in href
    browser.get("about:blank")
    _open(browser, href)
    scenario_id = href.rsplit("=", 1)[1]
    assert browser.execute_script("return document.body.dataset.scenario") == scenario_id
    assert _table(browser) == _what_if(settings, HATTORF)
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.site-marker")) == 1
    _no_console_errors(browser)


def test_two_scenarios_compare(browser: webdriver.Chrome, server: str,
                               settings: Settings) -> None:
    ids = []
    for name, site in (("Vergleich Hattorf", HATTORF), ("Vergleich Lauterberg", LAUTERBERG)):
        _open(browser, server + "/planung")
        _click_map(browser, *site)
        browser.find_element(By.ID, "name").send_keys(name)
        browser.find_element(By.ID, "save").click()
        link = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "share-link"))
        ids.append(link[0].get_attribute("href").rsplit("=", 1)[1])
    browser.execute_script(f"document.getElementById('cmp-a').value = '{ids[0]}';"
                           f"document.getElementById('cmp-b').value = '{ids[1]}';")
    browser.find_element(By.ID, "compare").click()
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return document.body.dataset.compared") == f"{ids[0]}|{ids[1]}")
    shown = {row.get_attribute("data-ags"): (row.find_element(By.CLASS_NAME, "gained-a").text,
                                             row.find_element(By.CLASS_NAME, "gained-b").text)
             for row in browser.find_elements(By.CSS_SELECTOR, "#compare-table tbody tr")}
    store = scenarios.ScenarioStore(settings)
    expected = scenarios.compare(services_for(settings).engine, store.load(ids[0]).plan,
                                 store.load(ids[1]).plan)
    expected = expected[(expected["gained_a"] != 0) | (expected["gained_b"] != 0)]
    assert len(expected) >= 2
    assert shown == {r.ags: (f"{'+' if r.gained_a > 0 else ''}{r.gained_a}",
                             f"{'+' if r.gained_b > 0 else ''}{r.gained_b}")
                     for r in expected.itertuples()}
    _no_console_errors(browser)


def test_a_download_opens_in_geopandas(browser: webdriver.Chrome, server: str,
                                       settings: Settings, tmp_path: Path) -> None:
    browser.execute_cdp_cmd("Page.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(tmp_path)})
    _open(browser, server + "/planung")
    _click_map(browser, *HATTORF)
    browser.find_element(By.ID, "dl-gpkg").click()
    target = tmp_path / "erreichbar-kita-walk-15min.gpkg"
    deadline = time.monotonic() + 60
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    gemeinden = gpd.read_file(target, layer="gemeinden")
    assert dict(zip(gemeinden["ags"], gemeinden["gained"], strict=True)) == _what_if(
        settings, HATTORF)
    assert len(gpd.read_file(target, layer="neue_standorte")) == 1
    _no_console_errors(browser)


def test_best_sites_for_a_unit_and_taking_one_over(browser: webdriver.Chrome, server: str,
                                                   settings: Settings) -> None:
    engine = services_for(settings).engine
    units = engine.units("unit")
    ags = units.loc[units["name"] == "Hattorf am Harz", "ags"].iloc[0]
    expected = siting.best_sites(engine, "kita", "walk", 15, 3, None, ags).sites
    _open(browser, server + "/planung")
    Select(browser.find_element(By.ID, "unit")).select_by_visible_text("Hattorf am Harz")
    browser.find_element(By.ID, "best").click()
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(
        "return document.body.dataset.bestSites") == str(len(expected)))
    items = browser.find_elements(By.CSS_SELECTOR, "#best-list li")
    shown = [float(li.get_attribute(f"data-{c}")) for li in items for c in ("lon", "lat")]
    assert shown == pytest.approx([v for lon, lat in zip(expected["lon"], expected["lat"],
                                                          strict=True) for v in (lon, lat)])
    assert items[0].text.startswith(f"Standort 1: +{int(expected['gained'].iloc[0])}")
    seen = _evaluations(browser)
    items[0].find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 30).until(lambda d: _evaluations(d) > seen)
    site = (float(expected["lon"].iloc[0]), float(expected["lat"].iloc[0]))
    assert _table(browser) == _what_if(settings, site)
    assert sum(_table(browser).values()) > 0
    # beyond the search's limit by bike the page says so in German, without asking
    for change in ("document.getElementById('minutes').value = 20",
                   "document.getElementById('mode').value = 'bike'"):
        seen = _evaluations(browser)
        browser.execute_script(change + ";document.getElementById('mode')"
                               ".dispatchEvent(new Event('change'))")
        WebDriverWait(browser, 30).until(lambda d, n=seen: _evaluations(d) > n)
    browser.find_element(By.ID, "best").click()
    assert browser.find_element(By.ID, "message").text.startswith(
        "Beste Standorte mit dem Rad gibt es für höchstens 15 Minuten")
    _no_console_errors(browser)
