"""Weight and load time of the family page on a phone profile, against an unthrottled load.

Headless Debian Chromium (selenium) opens the family page as a phone (390×844, touch)
with Chrome DevTools network emulation of :data:`PHONE_NETWORK` (10 Mbit/s down, 5 up,
150 ms latency), cache disabled, and once without throttling (the baseline, same run,
same server). Each load is a shared link that runs a search (``/?address=…&category=kita
&mode=walk&lang=de``), so the times include the page, Leaflet, the texts, the Gemeinden
and the first answer with routes. Measured per load:

* ``bytes`` (transferred, from the Resource Timing API) by kind of resource (html, css, js,
  tiles, data = JSON), and in all;
* ``dom_content_loaded_ms``, ``load_ms`` (navigation timing);
* ``map_ready_ms``: the Gemeinden are drawn; ``results_ms``: the first result is listed
  (a MutationObserver installed before the page's scripts records ``performance.now()``);
  ``complete_ms``: also every base-map tile of the final view has loaded (when
  ``basemap.js`` is installed; polled, up to 50 ms late).

The API is started as in :mod:`bench.bench_api` (process settings, built data), or the one at
``ERREICHBAR_BENCH_URL`` is used. :data:`ROUNDS` loads per profile, the median reported.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Final
from urllib.parse import quote

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

from bench.bench_api import _free_port, _serve, wait_ready

#: Chrome DevTools ``Network.emulateNetworkConditions``: bytes/s and milliseconds.
PHONE_NETWORK: Final = {"offline": False, "latency": 150,
                        "downloadThroughput": 10_000_000 / 8, "uploadThroughput": 5_000_000 / 8}
PHONE: Final = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
ROUNDS: Final = 5
ADDRESS: Final = "Weender Landstraße 2, Göttingen"
#: Goals on the phone profile: the answer within 3 s, the page under 400 kB.
TARGET: Final = {"results_ms": 3000, "bytes": 400_000}

#: Runs before the page's own scripts: times of the Gemeinden drawn and the first result.
_OBSERVER = """
window.__marks = {};
new MutationObserver(() => {
  if (!__marks.map && document.querySelector('.leaflet-overlay-pane path'))
    __marks.map = performance.now();
  if (!__marks.results && document.querySelector('#results li'))
    __marks.results = performance.now();
}).observe(document, {childList: true, subtree: true});
"""

#: True when every base-map tile of the view has loaded (or there is no base map); then
#: records ``complete`` (tiles loaded, polled every 50 ms: up to 50 ms late).
_TILES_DONE = """
const tiles = [...document.querySelectorAll('img.leaflet-tile')];
if (!tiles.every(t => t.complete)) return false;
__marks.complete = __marks.complete || performance.now();
return true;
"""

_MEASURE = """
const nav = performance.getEntriesByType('navigation')[0];
const bytes = {};
for (const e of [nav, ...performance.getEntriesByType('resource')]) {
  const kind = e.initiatorType === 'navigation' ? 'html' : e.name.endsWith('.css') ? 'css'
    : e.name.endsWith('.js') ? 'js' : e.name.endsWith('.png') ? 'tiles' : 'data';
  bytes[kind] = (bytes[kind] || 0) + e.transferSize;
}
return {bytes, dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd,
        map_ready_ms: __marks.map, results_ms: __marks.results, complete_ms: __marks.complete};
"""


def _browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=ChromeService("/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _OBSERVER})
    return driver


def _load_once(driver: webdriver.Chrome, url: str) -> dict[str, Any]:
    """Load ``url`` and wait for the first result; return the page's own measurements."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + 60
    while not driver.execute_script("return !!(window.__marks && __marks.results)"):
        if time.monotonic() > deadline:
            raise RuntimeError("the family page listed no result within 60 s")
        time.sleep(0.05)
    while not driver.execute_script(_TILES_DONE):  # base-map tiles of the final view
        if time.monotonic() > deadline:
            raise RuntimeError("the base-map tiles did not load within 60 s")
        time.sleep(0.05)
    measured = driver.execute_script(_MEASURE)
    measured["bytes"]["total"] = sum(measured["bytes"].values())
    return measured


def _profile(driver: webdriver.Chrome, url: str, network: dict[str, Any] | None
             ) -> dict[str, Any]:
    """Median of :data:`ROUNDS` loads under ``network`` (None: no throttling)."""
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", network or {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    runs = [_load_once(driver, url) for _ in range(ROUNDS)]
    times = {key: round(statistics.median(r[key] for r in runs)) for key in
             ("dom_content_loaded_ms", "load_ms", "map_ready_ms", "results_ms", "complete_ms")}
    return {**times, "bytes": runs[-1]["bytes"]}


def _measure(base: str) -> dict[str, Any]:
    url = f"{base}/?address={quote(ADDRESS)}&category=kita&mode=walk&lang=de"
    httpx.get(url.replace("/?", "/nearest?"), timeout=120)  # warm the kita table
    driver = _browser()
    try:
        baseline = _profile(driver, url, None)
        phone = _profile(driver, url, PHONE_NETWORK)
    finally:
        driver.quit()
    met = (phone["results_ms"] <= TARGET["results_ms"]
           and phone["bytes"]["total"] <= TARGET["bytes"])
    return {"phone_10mbit_150ms": phone, "unthrottled": baseline,
            "results_ratio_phone_to_unthrottled": round(
                phone["results_ms"] / max(baseline["results_ms"], 1), 1),
            "target": TARGET, "target_met": met}


def run() -> dict[str, Any]:
    """Measure the page on the phone profile and unthrottled (see the module docstring)."""
    given = os.environ.get("ERREICHBAR_BENCH_URL")
    if given:
        return {"url": given, **_measure(given.rstrip("/"))}
    port = _free_port()
    server = _serve(port, 1)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        return _measure(base)
    finally:
        server.terminate()
        server.wait(timeout=30)
