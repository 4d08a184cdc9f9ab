"""The service itself: readiness and data vintages, the offline API docs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from api.deps import ServicesDep, SettingsDep
from api.guards import page_headers
from api.models import Health
from geo.products.maps import map_names
from geo.settings import get_region
from geo.vocabulary import CATEGORIES, vintages

router = APIRouter()


@router.get("/health", response_model=Health, tags=["service"])
def health(s: ServicesDep, settings: SettingsDep) -> Health:
    """Whether the service is ready, what is loaded and the data vintages.

    While not ready, ``missing`` says what to build and how; ``modes`` are the travel modes
    the region's data can answer.
    """
    region = get_region(settings.region)
    active = s.offers[s.offers["status"] == "active"]["category"].value_counts()
    tiles = {f"osm_{name}": t.vintage for name, t in
             (("tiles", region.tiles), ("city_tiles", region.city_tiles)) if t is not None}
    missing = s.missing()
    return Health(ready=not missing, missing=missing, region=region.name, title=region.title,
                  vintages={**vintages(settings), **tiles},
                  offers={c: int(active.get(c, 0)) for c in CATEGORIES}, warm=list(s.warm),
                  geocoder={"addresses": len(s.geocoder.addresses),
                            "streets": len(s.geocoder.streets),
                            "places": len(s.geocoder.places)},
                  maps=map_names(settings.maps.out_dir),
                  timetable=s.timetable(), timetable_days=s.timetable_days(), modes=s.modes())


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    """OpenAPI docs (Swagger UI from /docs-static, no CDN)."""
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=str(app.openapi_url), title=f"{app.title} – Swagger UI",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        swagger_js_url="/docs-static/swagger-ui-bundle.js",
        swagger_css_url="/docs-static/swagger-ui.css",
        swagger_favicon_url="/docs-static/favicon.png")
    page.headers.update(page_headers("docs"))
    return page


@router.get("/docs/oauth2-redirect", include_in_schema=False)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page."""
    page = get_swagger_ui_oauth2_redirect_html()
    page.headers.update(page_headers("docs"))
    return page


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request) -> HTMLResponse:
    """OpenAPI docs (ReDoc from /docs-static, no CDN, no web fonts)."""
    app = request.app
    page = get_redoc_html(openapi_url=str(app.openapi_url), title=f"{app.title} – ReDoc",
                          redoc_js_url="/docs-static/redoc.standalone.js",
                          redoc_favicon_url="/docs-static/favicon.png",
                          with_google_fonts=False)
    page.headers.update(page_headers("docs"))
    return page
