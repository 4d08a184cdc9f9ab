"""The family page (German): address or map click → the nearest offers."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.guards import page_headers
from geo.vocabulary import attribution

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"


@cache
def _page(credits: str) -> str:
    """Return the page with the data attribution ``credits`` filled in (escaped)."""
    return (STATIC / "index.html").read_text("utf-8").replace(
        "<!--attribution-->", html.escape(credits.replace(" | ", "; ")))


@router.get("/", response_class=HTMLResponse)
def family_page(settings: SettingsDep) -> HTMLResponse:
    """Serve the family page; its only script besides Leaflet is /family.js (see the CSP)."""
    return HTMLResponse(_page(attribution(settings)), headers=page_headers("family"))


@router.get("/family.js")
def family_script() -> FileResponse:
    """Serve the family page's script."""
    return FileResponse(STATIC / "family.js", media_type="text/javascript",
                        headers={"X-Content-Type-Options": "nosniff"})
