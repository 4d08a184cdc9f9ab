"""Browser test: the family page on the Enzkreis, a region with a timetable but no streets.

Desktop and phone, offline, one server for both (issue 17 §3). The region has the real VPE
feed but no vector tiles, hence no street network, address index or base map; its offers
are the labelled TEST fixture (:mod:`_enzkreis`). The page must offer "Bus & Bahn" alone,
ask for no base-map tile, open on the Enzkreis, find a stop by its name, show for a shared
link the legs that ``/nearest`` gives, and answer "Hin und zurück in den Öffnungszeiten?"
for the day chosen (the timetable's regular day, or one of the next seven days of the
browser's clock) as ``/there-and-back`` does for that date. The feed runs from December 2024
to December 2025: the browser's clock is set into it where a day with service is needed;
around the real today no day is offered, and the regular day still answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from _enzkreis import HOME, TUESDAY, enzkreis_services, service_days
from browser_support import browser, clock_at, needs_chromium, serve
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_browser import console_errors, open_page, run_axe, screenshot, viewport
from test_browser_transit import expected_legs

from api.services import Services
from geo import messages
from geo.settings import get_region

pytestmark = needs_chromium
__all__ = ["browser", "viewport"]  # fixtures used by the tests below

PAGE = messages.section("page", "de")
#: The shared link of the tests: home in Dietlingen, the nearest Familienzentrum by bus.
WHERE = {"lat": f"{HOME[1]:.6f}", "lon": f"{HOME[0]:.6f}", "category": "familienzentrum",
         "mode": "transit"}
WEEKDAYS_DE = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]  #: Chromium's short German weekdays
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
    views: list[list] = []  # the map's view once it has stopped moving (panned above the sheet)
    WebDriverWait(browser, 10, poll_frequency=0.3).until(lambda d: views.append(d.execute_script(
        "const b = map.getBounds(), size = map.getSize(), free = phone.matches ?"
        " document.getElementById('side').getBoundingClientRect().top : size.y;"
        "const c = map.containerPointToLatLng([size.x / 2, free / 2]);"  # the centre of
        "return [c.lng, c.lat, b.contains(outline.getBounds())]")  # the part left free
    ) or (len(views) > 1 and views[-1] == views[-2]))
    view = views[-1]
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
    with clock_at(browser, dt.datetime.combine(TUESDAY, dt.time(8))):  # the feed's Tuesday
        open_page(browser, f"{enz_server}/?{urlencode({**WHERE, 'lang': 'de'})}")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li ol.legs li"))
    where = WHERE
    answer = httpx.get(f"{enz_server}/nearest?" + urlencode({**where, "k": 3, "lang": "de"}),
                       timeout=60).json()
    items = browser.find_elements(By.CSS_SELECTOR, "#results > li")
    assert [i.get_attribute("data-offer-id") for i in items] == \
        [r["offer"]["id"] for r in answer["results"]]
    first, res = items[0], answer["results"][0]
    shown = [li.text for li in first.find_elements(By.CSS_SELECTOR, ":scope > ol.legs li")]
    assert shown == expected_legs(res["legs"])
    assert any(line.startswith("Linie 720:") for line in shown)

    # the day choice defaults to the timetable's regular day: no date sent, the server's day
    assert Select(first.find_element(By.CSS_SELECTOR, ".day select")) \
        .first_selected_option.get_attribute("value") == ""
    first.find_element(By.CSS_SELECTOR, ".there-and-back button").click()
    verdict = WebDriverWait(browser, 60).until(
        lambda d: first.find_elements(By.CSS_SELECTOR, ".tab-answer .verdict"))[0]
    trip = httpx.get(f"{enz_server}/there-and-back?" + urlencode(
        {"lat": answer["origin"]["lat"], "lon": answer["origin"]["lon"],
         "offer_id": res["offer"]["id"], "lang": "de"}), timeout=60).json()
    assert trip["date"] == TUESDAY.isoformat()
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


def ask_day(browser: webdriver.Chrome, item: WebElement, day: dt.date) -> WebElement:
    """Choose ``day`` for the result ``item``, press the button, return the answer shown."""
    Select(item.find_element(By.CSS_SELECTOR, ".day select")).select_by_value(day.isoformat())
    item.find_element(By.CSS_SELECTOR, ".there-and-back button").click()
    return WebDriverWait(browser, 60).until(lambda d: [
        p for p in item.find_elements(By.CSS_SELECTOR, ".tab-answer p")
        if p.text != PAGE["searching"]])[0]


def test_the_day_chosen_is_asked_and_answered_as_the_api_does(
        browser: webdriver.Chrome, enz_server: str, data_dir: Path, viewport: str) -> None:
    monday = TUESDAY - dt.timedelta(days=1)
    week = [monday + dt.timedelta(days=i) for i in range(7)]
    runs = service_days(data_dir)
    assert set(week) <= runs  # the feed has service on each of these days
    with clock_at(browser, dt.datetime.combine(monday, dt.time(9))):
        open_page(browser, f"{enz_server}/?{urlencode({**WHERE, 'lang': 'de'})}")
    item = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li .there-and-back"))[0]
    item = item.find_element(By.XPATH, "./..")
    options = Select(item.find_element(By.CSS_SELECTOR, ".day select")).options
    assert [o.get_attribute("value") for o in options] == ["", *(d.isoformat() for d in week)]
    assert options[0].text == PAGE["tab_day_regular"]
    assert not [o for o in options if not o.is_enabled()]  # the feed runs on each day
    for option, day in zip(options[1:], week, strict=True):  # weekday and date in German
        assert option.text.startswith(WEEKDAYS_DE[day.weekday()])
        assert f"{day.day}.{day.month}." in option.text
    api = f"{enz_server}/there-and-back?" + urlencode(
        {**{k: WHERE[k] for k in ("lat", "lon")}, "offer_id": item.get_attribute(
            "data-offer-id"), "lang": "de"})
    # Monday: the fixture offer opens on Tuesdays only, the API says it is closed
    shown = ask_day(browser, item, monday)
    refused = httpx.get(f"{api}&date={monday}", timeout=60)
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "closed_that_day"
    assert shown.text == refused.json()["detail"][0]["msg"]
    # Tuesday: there and back, as the API answers for that date
    verdict = ask_day(browser, item, TUESDAY)
    trip = httpx.get(f"{api}&date={TUESDAY}", timeout=60).json()
    assert trip["date"] == TUESDAY.isoformat()
    key = "tab_yes" if trip["possible"] else "tab_no"
    assert verdict.text == PAGE[key].format(date="Dienstag, 11.3.2025",
                                            arrive_by=trip["arrive_by"],
                                            leave_after=trip["leave_after"])
    ways = item.find_elements(By.CSS_SELECTOR, ".tab-answer ol.legs")
    assert [[li.text for li in way.find_elements(By.TAG_NAME, "li")] for way in ways] == [
        expected_legs(trip[w]["legs"]) for w in ("outbound", "back") if trip[w]]
    asked = requested(browser, "/there-and-back?")
    assert [a.split("date=")[1].split("&")[0] for a in asked] == [str(monday), str(TUESDAY)]
    screenshot(browser, f"family-enzkreis-day-{viewport}")
    browser.set_script_timeout(60)
    assert run_axe(browser) == []  # the day choice is labelled, the answers readable

    # the browser's real today lies after the feed's last day
    open_page(browser, f"{enz_server}/?{urlencode({**WHERE, 'lang': 'de'})}")
    item = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li .there-and-back"))[0]
    item = item.find_element(By.XPATH, "./..")
    today = dt.date.today()
    assert today > max(runs)
    # the next seven days lie after it: not offered, each says why; the API refuses them
    options = Select(item.find_element(By.CSS_SELECTOR, ".day select")).options
    assert [o.get_attribute("value") for o in options if not o.is_enabled()] == [
        (today + dt.timedelta(days=i)).isoformat() for i in range(7)]
    assert all(o.text.endswith(f" – {PAGE['tab_day_no_timetable']}") for o in options[1:])
    refused = httpx.get(f"{api}&date={today}", timeout=60)
    assert refused.status_code == 422
    problem = refused.json()["detail"][0]
    assert problem["loc"] == ["query", "date"] and problem["type"] == "no_service_day"
    assert problem["msg"] == messages.text(
        "errors.type.no_service_day", "de", date=f"{today:%d.%m.%Y}",
        first=f"{min(runs):%d.%m.%Y}", last=f"{max(runs):%d.%m.%Y}")
    # the regular day (the default) still answers on the ended feed, with the feed's day
    Select(item.find_element(By.CSS_SELECTOR, ".day select")).select_by_value("")
    item.find_element(By.CSS_SELECTOR, ".there-and-back button").click()
    regular = httpx.get(api, timeout=60).json()
    WebDriverWait(browser, 60).until(lambda d: item.find_elements(
        By.CSS_SELECTOR, ".tab-answer .verdict"))
    assert regular["date"] == TUESDAY.isoformat()
    assert "11.3.2025" in item.find_element(By.CSS_SELECTOR, ".tab-answer .verdict").text
    assert console_errors(browser) == []
