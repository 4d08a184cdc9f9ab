"""Browser tests in headless Debian Chromium (selenium + /usr/bin/chromedriver).

The browser may reach nothing but the loopback server: every other host name resolves to
nothing (``--host-resolver-rules``), so the pages must work offline.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path

import axe_selenium_python
import pytest
import shapely
from _services import services_for
from browser_support import browser, needs_chromium, serve, server
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from geo import messages
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
def hostile_server(settings: Settings, basemap_settings: Settings,
                   networks: dict) -> Iterator[str]:
    """The API on the real services with every Grundschule and every Gemeinde renamed to
    :data:`XSS` (a fixture: the catalogue on disk is untouched)."""
    real = services_for(settings)
    offers = real.offers.copy()
    offers.loc[offers["category"] == "grundschule", "name"] = XSS
    gemeinden = copy.deepcopy(real.gemeinden)
    for feature in gemeinden["features"]:
        feature["properties"]["name"] = XSS
    yield from serve(dataclasses.replace(real, offers=offers, gemeinden=gemeinden,
                                         settings=basemap_settings))


#: Viewports every family-page test runs on: CSS pixels, and whether it is a phone.
VIEWPORTS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}

#: Screenshots of the tests (git-ignored: data/processed/ is not committed).
SCREENSHOTS = Path(__file__).resolve().parents[1] / "data" / "processed" / "screenshots"

#: axe-core as shipped by the axe-selenium-python package (test extra), not a copy of ours.
AXE_JS = Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest, browser: webdriver.Chrome) -> Iterator[str]:
    """Emulate the viewport (desktop 1280×900, phone 390×844 with touch) for one test."""
    width, height, mobile = VIEWPORTS[request.param]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1,
        "mobile": mobile})
    browser.get_log("browser")  # start each test with an empty console
    yield request.param
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


#: A 4xx answer of the API that the page shows as a message (Chromium logs each as an error).
ANSWERED = re.compile(r"/(nearest|family/offers|there-and-back)\?\S* - Failed to load "
                      r"resource: the server responded with a status of 4\d\d")


def console_errors(browser: webdriver.Chrome) -> list[str]:
    """Console errors (uncaught exceptions, failed loads) since the last call, except the
    API's 4xx answers the page shows (an unknown address is answered 404)."""
    return [e["message"] for e in browser.get_log("browser")
            if e["level"] == "SEVERE" and not ANSWERED.search(e["message"])]


def open_page(browser: webdriver.Chrome, url: str) -> None:
    """Load the family page and wait until the Gemeinden are drawn and texts applied."""
    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane path').length > 0"
        " && document.getElementById('category').options.length > 0"))


def search(browser: webdriver.Chrome, address: str, category: str = "grundschule",
           mode: str = "walk") -> WebElement:
    """Search ``address`` on the open page; return the first result."""
    field = browser.find_element(By.ID, "address")
    field.clear()
    field.send_keys(address)
    Select(browser.find_element(By.ID, "category")).select_by_value(category)
    Select(browser.find_element(By.ID, "mode")).select_by_value(mode)
    browser.find_element(By.ID, "go").click()
    return WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))


def screenshot(browser: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000


def start_point(browser: webdriver.Chrome) -> shapely.Point:
    """Where the page put the search's start marker (lon, lat)."""
    lat, lon = browser.execute_script(
        "let p = null; found.eachLayer(l => { if (l.options.icon && "
        "l.options.icon.options.className === 'start-marker') p = l.getLatLng(); });"
        "return [p.lat, p.lng];")
    return shapely.Point(lon, lat)


def gemeinde_shape(settings: Settings, name: str) -> shapely.geometry.base.BaseGeometry:
    """The VG5000 outline of Gemeinde ``name`` as the API serves it."""
    features = [f for f in services_for(settings).gemeinden["features"]
                if f["properties"]["name"] == name]
    assert len(features) == 1, name
    return shapely.geometry.shape(features[0]["geometry"])


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two CSS colours ``#rrggbb`` or ``rgb(r, g, b)``."""
    def luminance(colour: str) -> float:
        if colour.startswith("#"):
            rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
        else:
            rgb = [int(v) for v in re.findall(r"\d+", colour)[:3]]
        lin = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
               for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_family_page_finds_the_nearest_grundschule_for_an_address(
        browser: webdriver.Chrome, server: str, settings: Settings, viewport: str) -> None:
    engine = services_for(settings).engine
    open_page(browser, server + "/?lang=de")
    first = search(browser, ADDRESS)
    origin = services_for(settings).geocoder.locate(ADDRESS)
    expected = engine.nearest(origin.lon, origin.lat, "grundschule", "walk", 3)
    assert first.get_attribute("data-offer-id") == expected["offer_id"].iloc[0]
    assert expected["name"].iloc[0] in first.text
    assert f"{round(expected['minutes'].iloc[0])} min" in first.text
    assert "Weender Landstraße 2" in browser.find_element(By.ID, "origin").text
    # numbered markers on the map, numbered as the list
    numbers = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".offer-marker")]
    assert numbers == [str(i) for i in range(1, len(expected) + 1)]
    assert browser.find_element(By.ID, "answer").get_attribute("aria-live") == "polite"
    # routes and markers ≥ 3:1 against the grey map and white streets (WCAG 1.4.11)
    colours = browser.execute_script(
        "return [...document.querySelectorAll('path.route, .offer-marker')].map(e => "
        "e.tagName === 'path' ? e.getAttribute('stroke') : getComputedStyle(e).backgroundColor)")
    assert len(colours) == 2 * len(expected)
    for colour in colours:
        assert min(contrast(colour, "#dddddd"), contrast(colour, "#ffffff")) >= 3.0, colour
    assert console_errors(browser) == []
    screenshot(browser, f"after-grundschule-{viewport}")


def test_family_page_loads_without_errors_and_the_map_keeps_half_the_phone(
        browser: webdriver.Chrome, server: str, viewport: str) -> None:
    open_page(browser, server + "/?lang=de")
    assert console_errors(browser) == []
    width, height, _ = VIEWPORTS[viewport]
    assert browser.execute_script("return [innerWidth, innerHeight]") == [width, height]
    rect = browser.execute_script(
        "const r = document.getElementById('map').getBoundingClientRect();"
        "return Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0)) *"
        "       Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));")
    assert rect >= 0.5 * width * height
    assert browser.title.startswith("Erreichbar")
    # metric scale only; zoom buttons titled in the page's language
    scales = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-scale-line")
    assert len(scales) == 1 and scales[0].text.endswith(("m", "km"))
    assert browser.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-in") \
        .get_attribute("title") == messages.text("page.zoom_in", "de")
    screenshot(browser, f"after-start-{viewport}")


@pytest.mark.parametrize(("query", "gemeinde"), [
    ("Goettingen, Weender Landstraße 2", "Göttingen"),
    ("Kirchstraße 1, Walkenried", "Walkenried")])
def test_family_page_reaches_the_right_place(
        browser: webdriver.Chrome, server: str, settings: Settings, viewport: str,
        query: str, gemeinde: str) -> None:
    """The spelling "Goettingen" is found; Walkenried has no Kirchstraße (2021 tiles), so the
    page says "Meinten Sie …?" with places in Walkenried, the map back at the county, and a
    click on a suggestion reaches Walkenried."""
    open_page(browser, server + "/?lang=de")
    browser.find_element(By.ID, "address").send_keys(query)
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li")
                                     or "Meinten Sie" in d.find_element(By.ID, "message").text)
    buttons = browser.find_elements(By.CSS_SELECTOR, "#message button")
    if buttons:
        shown, county = browser.execute_script(  # south, north of the view and the county
            "const b = map.getBounds();"
            "return [[b.getSouth(), b.getNorth()], [county.getSouth(), county.getNorth()]]")
        assert shown[0] <= county[0] + 0.02 and shown[1] >= county[1] - 0.02  # county in view
        assert all(gemeinde in b.text for b in buttons), [b.text for b in buttons]
        buttons[0].click()
        WebDriverWait(browser, 30).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    assert gemeinde_shape(settings, gemeinde).contains(start_point(browser))
    assert console_errors(browser) == []


def test_family_page_never_changes_an_address_silently(
        browser: webdriver.Chrome, server: str, settings: Settings) -> None:
    """Duderstadt has a Marktstraße without number 1 and a Markstraße 1: the page starts on
    the street, says so and offers the other spelling. Needs the familyapi branch (the
    origin's ``note`` and ``suggestions``)."""
    query = "Marktstraße 1, Duderstadt"
    located = services_for(settings).geocoder.locate(query)
    assert located.precision == "street" and located.suggestions
    open_page(browser, server + "/?lang=de")
    search(browser, query, "kita")
    origin = browser.find_element(By.ID, "origin")
    assert "Hausnummer nicht gefunden" in origin.text
    buttons = origin.find_elements(By.TAG_NAME, "button")
    assert [b.text for b in buttons] == list(located.suggestions)
    buttons[0].click()
    WebDriverWait(browser, 30).until(  # the new search has replaced the note and buttons
        lambda d: "Hausnummer" not in d.find_element(By.ID, "origin").text
        and d.find_elements(By.CSS_SELECTOR, "#results li"))
    assert located.suggestions[0].split(",")[0] in browser.find_element(By.ID, "origin").text
    assert browser.find_element(By.ID, "address").get_attribute("value") == located.suggestions[0]
    assert gemeinde_shape(settings, "Duderstadt").contains(start_point(browser))
    assert console_errors(browser) == []


def test_family_result_shows_address_and_a_second_modes_minutes(
        browser: webdriver.Chrome, server: str, settings: Settings, viewport: str) -> None:
    """Needs the familyapi branch (results' ``address`` and ``other_modes``)."""
    s = services_for(settings)
    open_page(browser, server + "/?lang=de")
    first = search(browser, ADDRESS, "familienzentrum", "walk")
    offer_id = first.get_attribute("data-offer-id")
    offer = s.offers.set_index("id").loc[offer_id]
    address = first.find_element(By.CSS_SELECTOR, ".address").text
    if isinstance(offer["street"], str):
        assert address.startswith(offer["street"])
    assert address
    origin = s.geocoder.locate(ADDRESS)
    bike = s.engine.nearest(origin.lon, origin.lat, "familienzentrum", "bike", 5)
    assert offer_id in set(bike["offer_id"])
    minutes = bike.set_index("offer_id").loc[offer_id, "minutes"]
    line = first.find_element(By.CSS_SELECTOR, ".other-modes").text
    assert f"{messages.text('labels.mode.bike', 'de')} {round(minutes)} min" in line
    screenshot(browser, f"after-familienzentrum-{viewport}")


def test_family_page_shows_the_nearest_anyway_and_a_better_mode(
        browser: webdriver.Chrome, server: str, settings: Settings) -> None:
    """Wieda on foot has no counselling within the limit: the page shows the nearest one
    anyway, with its minutes, and the first mode that reaches one within the limit.
    Needs the familyapi branch (``nearest_anyway``, ``suggest_mode``)."""
    s = services_for(settings)
    open_page(browser, server + "/?lang=de")
    browser.find_element(By.ID, "address").send_keys("Wieda")
    Select(browser.find_element(By.ID, "category")).select_by_value("beratung")
    browser.find_element(By.ID, "go").click()
    item = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#anyway li")))
    origin = s.geocoder.locate("Wieda")
    limit = settings.access.nearest_max_min
    assert s.engine.nearest(origin.lon, origin.lat, "beratung", "walk", 1).empty
    assert browser.find_elements(By.CSS_SELECTOR, "#results li") == []
    assert browser.find_element(By.ID, "message").text == messages.text(
        "page.nothing_within", "de", minutes=round(limit))
    shown = int(re.search(r"(\d+) min", item.find_element(By.CSS_SELECTOR, ".minutes").text)[1])
    assert shown >= limit
    better = next(m for m in ("bike", "car")
                  if not s.engine.nearest(origin.lon, origin.lat, "beratung", m, 1).empty)
    assert messages.text("page.suggest_mode", "de", mode=messages.text(
        f"labels.mode.{better}", "de")) in browser.find_element(By.ID, "anyway").text


def test_family_page_speaks_turkish_and_arabic_right_to_left(
        browser: webdriver.Chrome, server: str, viewport: str) -> None:
    open_page(browser, server + "/?lang=de")
    search(browser, ADDRESS)
    for lang, direction in (("tr", "ltr"), ("ar", "rtl")):
        Select(browser.find_element(By.ID, "lang")).select_by_value(lang)
        WebDriverWait(browser, 10).until(
            lambda d, lang=lang: d.execute_script("return document.documentElement.lang") == lang)
        assert browser.execute_script("return document.documentElement.dir") == direction
        label = browser.find_element(By.CSS_SELECTOR, "label[for=address]").text
        assert label == messages.text("page.address", lang) != messages.text("page.address")
        chosen = Select(browser.find_element(By.ID, "category")).first_selected_option.text
        assert chosen == messages.text("labels.category.grundschule", lang)
        assert browser.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-in") \
            .get_attribute("title") == messages.text("page.zoom_in", lang)
        assert browser.title == messages.text("page.title", lang, region="Landkreis Göttingen")
        # the results are shown again in the new language
        minutes = browser.find_element(By.CSS_SELECTOR, "#results li .minutes").text
        assert minutes.endswith(messages.text("page.minutes", lang).split("}")[-1].strip())
        screenshot(browser, f"after-{lang}-{viewport}")
    assert console_errors(browser) == []


def test_family_page_answers_accept_language(browser: webdriver.Chrome, server: str) -> None:
    """Without lang=, the browser's language decides (headless Chromium asks for en-US)."""
    asked = browser.execute_script("return navigator.languages")
    expected = messages.negotiate(",".join(asked))
    open_page(browser, server + "/")
    assert browser.execute_script("return document.documentElement.lang") == expected
    assert browser.find_element(By.ID, "go").text == messages.text("page.search", expected)


def run_axe(browser: webdriver.Chrome) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the open page; return its violations."""
    browser.execute_script(AXE_JS.read_text("utf-8"))
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target)}))))"
        ".catch(e => done([{id: 'axe failed', nodes: [String(e)]}]));")
    return result


def test_family_page_has_no_axe_violations(
        browser: webdriver.Chrome, server: str, viewport: str) -> None:
    browser.set_script_timeout(60)
    open_page(browser, server + "/?lang=de")
    assert run_axe(browser) == []
    search(browser, ADDRESS, "kita")
    assert run_axe(browser) == []
    Select(browser.find_element(By.ID, "lang")).select_by_value("ar")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.documentElement.dir") == "rtl")
    assert run_axe(browser) == []


def test_family_page_works_by_keyboard_alone(browser: webdriver.Chrome, server: str,
                                             settings: Settings) -> None:
    open_page(browser, server + "/?lang=de")
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(10):  # tab from the top of the page to the address field
        body.send_keys(Keys.TAB)
        if browser.switch_to.active_element.get_attribute("id") == "address":
            break
        body = browser.switch_to.active_element
    field = browser.switch_to.active_element
    assert field.get_attribute("id") == "address"
    field.send_keys(ADDRESS, Keys.ENTER)
    first = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    origin = services_for(settings).geocoder.locate(ADDRESS)
    expected = services_for(settings).engine.nearest(origin.lon, origin.lat, "grundschule",
                                                     "walk", 1)
    assert first.get_attribute("data-offer-id") == expected["offer_id"].iloc[0]
    # the numbered markers are focusable and open their popup with Enter
    markers = browser.find_elements(By.CSS_SELECTOR, ".offer-marker")
    assert markers[0].get_attribute("tabindex") == "0"


def test_family_page_share_link_runs_the_search(browser: webdriver.Chrome, server: str,
                                                settings: Settings) -> None:
    open_page(browser, server + "/?lang=tr")
    first = search(browser, ADDRESS, "kita", "bike")
    offer_id = first.get_attribute("data-offer-id")
    link = browser.find_element(By.ID, "share").get_attribute("href")
    assert all(part in link for part in ("address=", "category=kita", "mode=bike", "lang=tr"))
    browser.get("about:blank")
    browser.get(link)
    again = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    assert again.get_attribute("data-offer-id") == offer_id
    assert browser.execute_script("return document.documentElement.lang") == "tr"
    assert browser.find_element(By.ID, "print").is_displayed()
    # the print view: the list with its details, no map, no form
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.ID, "map").is_displayed()
        assert not browser.find_element(By.ID, "search").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "#results li").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_family_age_view_lists_offers_with_minutes(
        browser: webdriver.Chrome, server: str, settings: Settings, viewport: str) -> None:
    """Needs the familyapi branch (``GET /family/offers``)."""
    s = services_for(settings)
    open_page(browser, server + "/?lang=de")
    browser.find_element(By.ID, "tab-child").click()
    age = browser.find_element(By.ID, "age")
    age.clear()
    age.send_keys("4")
    browser.find_element(By.ID, "child-address").send_keys(ADDRESS)
    browser.find_element(By.ID, "child-go").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#stages li")
                                     or d.find_element(By.ID, "message").text)
    assert browser.find_element(By.ID, "message").text == ""
    items = browser.find_elements(By.CSS_SELECTOR, "#stages li")
    assert items and all(re.search(r"\d+ min", li.text) for li in items)
    origin = s.geocoder.locate(ADDRESS)
    category = s.offers.set_index("id")["category"]
    checked = 0
    for li in items:
        offer_id = li.get_attribute("data-offer-id")
        nearest = s.engine.nearest(origin.lon, origin.lat, category[offer_id], "walk", 5)
        minutes = nearest.set_index("offer_id")["minutes"].get(offer_id)
        if minutes is not None:
            assert li.find_element(By.CSS_SELECTOR, ".minutes").text == f"{round(minutes)} min"
            checked += 1
    assert checked > 0
    assert console_errors(browser) == []
    screenshot(browser, f"after-age-view-{viewport}")


def test_family_page_shows_hostile_names_as_text(browser: webdriver.Chrome,
                                                 hostile_server: str) -> None:
    open_page(browser, hostile_server + "/?lang=de")
    title = browser.title
    first = search(browser, ADDRESS)
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
    assert XSS in [o.get_attribute("textContent")
                   for o in browser.find_elements(By.CSS_SELECTOR, "#gemeinde option")]
    time.sleep(1.0)  # an onerror handler would have run by now
    assert browser.title == title
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"]').length"
                                  ) == 0


def test_family_page_answers_a_click_on_the_map(
        browser: webdriver.Chrome, server: str, settings: Settings) -> None:
    lon, lat = 9.9354, 51.5328  # Albaniplatz, Göttingen
    open_page(browser, server + "/?lang=de")
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
    open_page(browser, server + "/?lang=de")
    browser.find_element(By.ID, "address").send_keys("Wender Landstrasse 2")
    browser.find_element(By.ID, "go").click()
    message = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "message") if "Meinten Sie" in
        d.find_element(By.ID, "message").text else False)
    assert "Weender Landstraße" in [b.text for b in message.find_elements(By.TAG_NAME, "button")]


def test_maps_link_opens_an_html_list(browser: webdriver.Chrome, server: str) -> None:
    open_page(browser, server + "/?lang=uk")
    browser.find_element(By.ID, "maps-link").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
    assert browser.title == messages.text("page.maps_title", "uk")
    assert browser.find_element(By.TAG_NAME, "h1").text == messages.text("page.maps_heading", "uk")
    assert browser.execute_script("return document.documentElement.lang") == "uk"


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
