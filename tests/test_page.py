"""The family page's routes without a browser: texts per language, the page's language, /karten.

The app is built without loading the services (no lifespan): these routes need the
settings only. The browser tests are in tests/test_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from geo import messages
from geo.settings import MapSettings, Settings
from geo.vocabulary import CATEGORIES, MODES

#: The languages the page is translated into by hand (issue 14 §5).
PAGE_LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru")


@pytest.fixture()
def client(settings: Settings, tmp_path: Path) -> TestClient:
    """The app on the test settings with an empty maps folder (``tmp_path``)."""
    return TestClient(create_app(settings.model_copy(
        update={"maps": MapSettings(out_dir=tmp_path)})))


@pytest.mark.parametrize("lang", PAGE_LANGUAGES)
def test_every_page_text_categories_and_modes_are_translated(lang: str) -> None:
    """Each language has every fixed text of the page of its own (none falls back to
    German) except the Leichte-Sprache heading, which belongs to German alone."""
    own = messages.table(lang)
    german_page = {k for k in messages.table("de") if k.startswith("page.")}
    missing = german_page - set(own) - ({"page.easy_heading"} if lang != "de" else set())
    assert missing == set()
    for category in CATEGORIES:
        assert f"labels.category.{category}" in own
    for mode in MODES:
        assert f"labels.mode.{mode}" in own
    assert len({own[f"labels.category.{c}"] for c in CATEGORIES}) == len(CATEGORIES)


def test_leichte_sprache_explains_every_category() -> None:
    for category in CATEGORIES:
        easy = messages.text(f"labels.category_easy.{category}")
        sentences = [s for s in easy.split(".") if s.strip()]
        assert sentences and all(len(s.split()) <= 15 for s in sentences), category


def test_messages_follow_lang_then_accept_language(client: TestClient) -> None:
    body = client.get("/messages", params={"lang": "ar"}).json()
    assert (body["lang"], body["dir"]) == ("ar", "rtl")
    assert body["page"]["address"] == messages.text("page.address", "ar")
    assert body["labels"]["category.kita"] == messages.text("labels.category.kita", "ar")
    assert body["categories"] == list(CATEGORIES) and body["modes"] == list(MODES)
    assert set(body["languages"]) == set(PAGE_LANGUAGES)
    assert body["languages"]["tr"] == "Türkçe"
    turkish = client.get("/messages", headers={"Accept-Language": "tr-TR,tr;q=0.9"}).json()
    assert (turkish["lang"], turkish["dir"]) == ("tr", "ltr")
    assert turkish["page"]["search"] == "Ara"
    assert client.get("/messages", params={"lang": "xx"}).json()["lang"] == "de"
    too_long = client.get("/messages", params={"lang": "x" * 50})
    assert too_long.status_code == 422


def test_page_is_served_in_the_chosen_language(client: TestClient) -> None:
    arabic = client.get("/", params={"lang": "ar"}).text
    assert '<html lang="ar" dir="rtl">' in arabic
    assert f"<title>{messages.text('page.title', 'ar', region='Landkreis Göttingen')}</title>" \
        in arabic
    german = client.get("/").text
    assert '<html lang="de" dir="ltr">' in german
    assert "<title>Erreichbar – Angebote für Familien im Landkreis Göttingen</title>" in german
    assert "OpenStreetMap" in german  # the data attribution is filled in
    assert client.get("/family.css").headers["content-type"].startswith("text/css")


def test_maps_page_lists_the_maps_as_links(client: TestClient, tmp_path: Path) -> None:
    empty = client.get("/karten", params={"lang": "en"})
    assert empty.headers["content-type"].startswith("text/html")
    assert messages.text("page.maps_none", "en") in empty.text
    for name in ("kita-walk", "weisse-flecken-walk"):
        (tmp_path / f"{name}.html").write_text("<html></html>", "utf-8")
    page = client.get("/karten").text
    assert '<a href="/maps/kita-walk">kita-walk</a>' in page
    assert '<a href="/maps/weisse-flecken-walk">weisse-flecken-walk</a>' in page
    assert "<title>Karten – Erreichbar</title>" in page
    assert "default-src 'none'" in client.get("/karten").headers["content-security-policy"]
