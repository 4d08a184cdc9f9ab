"""Browser tests: the family page's results in a bottom sheet on a phone, none on a desktop.

On a phone (390×844) the map fills the screen and the panel is a sheet with three heights
(peek, half, full); after a search it stands at half, with the first result in view and the
markers in the map part above it. Offline, real data (the nearest offers are computed by the
engine, independently of the page).
"""

from __future__ import annotations

import pytest
from _services import services_for
from browser_support import browser, needs_chromium, server
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from test_browser import (
    ADDRESS,
    VIEWPORTS,
    console_errors,
    open_page,
    screenshot,
    search,
    viewport,
)

from geo import messages
from geo.settings import Settings

pytestmark = needs_chromium
__all__ = ["browser", "server", "viewport"]  # fixtures used by the tests below

#: The sheet's top, its state, the handle's height and the first result's and offer
#: markers' boxes (CSS pixels), once the sheet and the map have stopped moving.
GEOMETRY = """
const box = e => { const r = e.getBoundingClientRect();
                   return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
const first = document.querySelector('#results > li .name');
const at = first && document.elementFromPoint(
  (box(first).left + box(first).right) / 2, (box(first).top + box(first).bottom) / 2);
return {sheet: box(document.getElementById('side')), state: document.body.dataset.sheet,
        handle: box(document.getElementById('sheet-handle')),
        expanded: document.getElementById('sheet-handle').getAttribute('aria-expanded'),
        first: first && box(first), firstShown: !!at && first.contains(at),
        markers: [...document.querySelectorAll('.offer-marker')].map(box),
        height: innerHeight, width: innerWidth};
"""


def near(a: float, b: float) -> bool:
    """Equal to within a CSS pixel (boxes have fractional edges)."""
    return abs(a - b) <= 1


def settled(browser: webdriver.Chrome) -> dict:
    """The page's :data:`GEOMETRY` once two readings 300 ms apart agree (no animation)."""
    readings: list[dict] = []

    def still(d: webdriver.Chrome) -> bool:
        readings.append(d.execute_script(GEOMETRY))
        return len(readings) > 1 and readings[-1] == readings[-2]

    WebDriverWait(browser, 10, poll_frequency=0.3).until(still)
    return readings[-1]


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_phone_shows_the_results_in_a_sheet_above_which_the_markers_lie(
        browser: webdriver.Chrome, server: str, settings: Settings, viewport: str) -> None:
    open_page(browser, server + "/?lang=de")
    start = settled(browser)
    width, height, _ = VIEWPORTS[viewport]
    map_box = browser.execute_script(
        "const r = document.getElementById('map').getBoundingClientRect();"
        "return [r.top, r.left, r.bottom, r.right]")
    assert map_box == [0, 0, height, width]  # the map fills the screen
    assert start["state"] == "half" and start["expanded"] == "true"
    handle = browser.find_element(By.ID, "sheet-handle")
    assert handle.is_displayed() and handle.get_attribute("aria-controls") == "panel"
    assert handle.text == messages.text("page.heading", "de")

    first = search(browser, ADDRESS)
    origin = services_for(settings).geocoder.locate(ADDRESS)
    expected = services_for(settings).engine.nearest(origin.lon, origin.lat, "grundschule",
                                                     "walk", 3)
    assert first.get_attribute("data-offer-id") == expected["offer_id"].iloc[0]
    g = settled(browser)
    assert g["state"] == "half"
    assert near(g["sheet"]["top"], height / 2) and near(g["sheet"]["bottom"], height)
    # the first result in view inside the sheet, not under its handle
    assert g["sheet"]["top"] <= g["handle"]["bottom"] <= g["first"]["top"]
    assert g["first"]["bottom"] <= height and g["firstShown"]
    # every marker in the map part above the sheet
    assert len(g["markers"]) == len(expected)
    for m in g["markers"]:
        assert 0 <= m["top"] and m["bottom"] <= g["sheet"]["top"], (m, g["sheet"])
        assert 0 <= m["left"] and m["right"] <= width
    name = expected["name"].iloc[0]
    assert handle.text == f"{name} – {round(expected['minutes'].iloc[0])} min"  # the peek line
    assert near(g["handle"]["left"], 0) and near(g["handle"]["right"], width)  # a long name
    # is cut with an ellipsis: the handle and its grip stay on the screen
    screenshot(browser, "sheet-half-phone")

    # the handle by keyboard: Enter and Space cycle half → full → peek → half
    handle.send_keys(Keys.ENTER)
    g = settled(browser)
    assert (g["state"], g["expanded"]) == ("full", "true") and near(g["sheet"]["top"], 48)
    handle.send_keys(Keys.SPACE)
    g = settled(browser)
    assert (g["state"], g["expanded"]) == ("peek", "false")
    assert near(g["sheet"]["top"], g["handle"]["top"]) and near(g["handle"]["bottom"], height)
    assert not browser.find_element(By.ID, "results").is_displayed()  # hidden, not tabbable
    screenshot(browser, "sheet-peek-phone")
    handle.send_keys(Keys.ENTER)
    assert settled(browser)["state"] == "half"
    assert console_errors(browser) == []


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_phone_sheet_follows_a_touch_drag_and_stays_right_to_left(
        browser: webdriver.Chrome, server: str, viewport: str) -> None:
    open_page(browser, server + "/?lang=ar")
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    g = settled(browser)

    def drag(to_y: float) -> dict:
        """A finger on the handle moved to ``to_y`` (CSS pixels) in steps, then lifted."""
        handle = settled(browser)["handle"]
        x, y = (handle["left"] + handle["right"]) / 2, (handle["top"] + handle["bottom"]) / 2
        touch = {"x": x, "y": y}
        browser.execute_cdp_cmd("Input.dispatchTouchEvent",
                                {"type": "touchStart", "touchPoints": [touch]})
        for step in range(1, 6):
            touch = {"x": x, "y": y + (to_y - y) * step / 5}
            browser.execute_cdp_cmd("Input.dispatchTouchEvent",
                                    {"type": "touchMove", "touchPoints": [touch]})
        browser.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchEnd",
                                                             "touchPoints": []})
        return settled(browser)

    up = drag(100)  # near the top: snaps to full
    assert up["state"] == "full" and near(up["sheet"]["top"], 48)
    down = drag(g["height"] - 10)  # to the bottom: snaps to peek
    assert down["state"] == "peek" and near(down["handle"]["bottom"], g["height"])
    assert down["sheet"]["left"] == 0 and down["sheet"]["right"] == g["width"]
    screenshot(browser, "sheet-peek-ar-phone")
    assert console_errors(browser) == []


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_desktop_has_no_sheet_and_prints_the_list(
        browser: webdriver.Chrome, server: str, viewport: str) -> None:
    open_page(browser, server + "/?lang=de")
    search(browser, ADDRESS)
    g = settled(browser)
    assert not browser.find_element(By.ID, "sheet-handle").is_displayed()
    assert [g["sheet"]["top"], g["sheet"]["left"], g["sheet"]["right"],
            g["sheet"]["bottom"]] == [0, 0, 380, g["height"]]  # the side column, as before
    for m in g["markers"]:
        assert 380 <= m["left"] and m["right"] <= g["width"]
        assert 0 <= m["top"] and m["bottom"] <= g["height"]
    try:  # printed: the list without map, form and handle, also at a phone's width
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        for width in (1280, 390):
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": 844, "deviceScaleFactor": 1, "mobile": False})
            shown = {i: browser.find_element(By.ID, i).is_displayed()
                     for i in ("map", "sheet-handle", "search", "results")}
            assert shown == {"map": False, "sheet-handle": False, "search": False,
                             "results": True}
            assert browser.execute_script(
                "return getComputedStyle(document.getElementById('side')).position") \
                == "static"
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert console_errors(browser) == []
