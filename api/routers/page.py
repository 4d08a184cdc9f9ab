"""The family page itself: the HTML, its script and styles, its texts, the list of maps.

The page (``/``) answers "Wo ist das nächste Angebot?" (``/nearest``) and "Was gibt es für
mein Kind?" (``/family/offers``). It is German by default; its fixed texts come from the
one message table (:mod:`geo.messages`, sections ``page`` and ``labels``), served as JSON
by ``/messages`` in the language of ``lang=`` or ``Accept-Language``. ``/karten`` lists
the generated maps as an HTML page (``/maps`` is the JSON list for programs).
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.guards import page_headers
from geo import messages
from geo.products.maps import map_names
from geo.settings import get_region
from geo.vocabulary import CATEGORIES, MODES, attribution

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"

#: Files of the page under ``STATIC`` → media type.
ASSETS = {"family.js": "text/javascript", "family.css": "text/css"}

LangQuery = Annotated[str | None, Query(max_length=8, description="language, e.g. de, tr")]
AcceptLanguage = Annotated[str | None, Header(max_length=500)]


def _lang_attrs(lang: str) -> str:
    """Return the ``lang``/``dir`` attributes of an ``<html>`` element in ``lang``."""
    return f'lang="{lang}" dir="{"rtl" if lang in messages.RTL else "ltr"}"'


@cache
def _page(credits: str, region: str, bounds: str, lang: str) -> str:
    """Return the page in ``lang`` with the data attribution ``credits`` filled in (escaped).

    ``region``: the region's title (in the page title); ``bounds``: its opening view, JSON
    ``[[south, west], [north, east]]`` (WGS84 degrees), until the Gemeinden have loaded.
    """
    return ((STATIC / "index.html").read_text("utf-8")
            .replace('lang="de" dir="ltr"', _lang_attrs(lang))
            .replace("<!--title-->", html.escape(messages.text("page.title", lang,
                                                               region=region)))
            .replace("<!--attribution-->", html.escape(credits.replace(" | ", "; ")))
            .replace("<!--bounds-->", html.escape(bounds)))


@router.get("/", response_class=HTMLResponse)
def family_page(settings: SettingsDep, lang: LangQuery = None,
                accept_language: AcceptLanguage = None) -> HTMLResponse:
    """Serve the family page in the chosen language (``lang=``, else ``Accept-Language``).

    Its scripts are Leaflet, ``/basemap.js`` (the offline base map, its own router) and
    ``/family.js``.
    """
    chosen = messages.negotiate(accept_language, lang)
    region = get_region(settings.region)
    w, s, e, n = region.bbox
    return HTMLResponse(_page(attribution(settings), region.title,
                              json.dumps([[s, w], [n, e]]), chosen),
                        headers=page_headers("family"))


@router.get("/messages")
def page_messages(lang: LangQuery = None,
                  accept_language: AcceptLanguage = None) -> dict[str, Any]:
    """Return the page's texts in the chosen language (German filling gaps).

    ``{"lang", "dir", "languages": {code: own name}, "categories", "modes", "page": {…},
    "labels": {…}}`` (categories and modes in the order of :mod:`geo.vocabulary`).
    """
    chosen = messages.negotiate(accept_language, lang)
    return {"lang": chosen, "dir": "rtl" if chosen in messages.RTL else "ltr",
            "languages": {code: messages.text("page.language_name", code)
                          for code in messages.languages()},
            "categories": list(CATEGORIES), "modes": list(MODES),
            "page": messages.section("page", chosen),
            "labels": messages.section("labels", chosen)}


@router.get("/karten", response_class=HTMLResponse)
def maps_page(settings: SettingsDep, lang: LangQuery = None,
              accept_language: AcceptLanguage = None) -> HTMLResponse:
    """List the generated maps (``erreichbar maps build``) as links, in the chosen language."""
    chosen = messages.negotiate(accept_language, lang)
    t = messages.section("page", chosen)
    names = map_names(settings.maps.out_dir)
    items = "".join(f'<li><a href="/maps/{html.escape(n)}">{html.escape(n)}</a></li>'
                    for n in names) or f"<li>{html.escape(t['maps_none'])}</li>"
    body = (f"<!DOCTYPE html><html {_lang_attrs(chosen)}><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(t['maps_title'])}</title>"
            '<link rel="stylesheet" href="/family.css"></head><body class="simple"><main>'
            f"<h1>{html.escape(t['maps_heading'])}</h1><p>{html.escape(t['maps_intro'])}</p>"
            f'<ul>{items}</ul><p><a href="/?lang={chosen}">{html.escape(t["back"])}</a></p>'
            "</main></body></html>")
    return HTMLResponse(body, headers=page_headers("family"))


def _asset(name: str) -> FileResponse:
    """Serve a script or style sheet of the page (:data:`ASSETS`)."""
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers={"X-Content-Type-Options": "nosniff"})


@router.get("/family.js")
def family_script() -> FileResponse:
    """Serve the family page's script."""
    return _asset("family.js")


@router.get("/family.css")
def family_style() -> FileResponse:
    """Serve the family page's style sheet (screen, phone and print)."""
    return _asset("family.css")

