"""Shared browser-test support: headless Debian Chromium (selenium + /usr/bin/chromedriver)
and the API served on a loopback port.

The browser may reach nothing but the loopback server: every other host name resolves to
nothing (``--host-resolver-rules``), so the pages must work offline. Test modules import
the fixtures they use (``from browser_support import browser, server``) and mark
themselves with :data:`needs_chromium`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from _services import services_for
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

from api.main import create_app
from api.services import Services
from geo.settings import Settings

CHROMEDRIVER = "/usr/bin/chromedriver"

#: Skip marker for machines without the browser (``make test`` installs it first).
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None or not Path(CHROMEDRIVER).exists(),
    reason="needs Debian chromium and chromium-driver (make browser-deps)")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console, for tests
    driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def serve(services: Services) -> Iterator[str]:
    """The API on ``services`` on a free loopback port, in a thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(services=services), host="127.0.0.1",
                            port=port, log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(settings: Settings, basemap_settings: Settings, networks: dict) -> Iterator[str]:
    """The API on the real services, with the offline base map."""
    yield from serve(dataclasses.replace(services_for(settings), settings=basemap_settings))




@contextmanager
def clock_at(browser: webdriver.Chrome, when: dt.datetime) -> Iterator[None]:
    """Pages loaded inside see ``when`` (browser local time) as the start of their clock.

    ``Date`` (and ``Date.now``) run on from ``when``; for pages that use today's date while
    the data are from another year (a timetable of 2025).
    """
    shift = f"new Date({json.dumps(when.isoformat(timespec='seconds'))}).getTime() - Date.now()"
    script = ("(() => { const Real = Date, shift = " + shift + ";"
              " class Shifted extends Real {"
              "  constructor(...a) { super(...(a.length ? a : [Real.now() + shift])); }"
              "  static now() { return Real.now() + shift; } }"
              " window.Date = Shifted; })();")
    added = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    try:
        yield
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                {"identifier": added["identifier"]})
