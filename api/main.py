"""The Erreichbar query API: nearest offers, isochrones, coverage, scenarios, maps.

A thin FastAPI layer over :class:`geo.engine.access.Accessibility` (travel times),
:class:`geo.sources.geocode.Geocoder` (offline address search) and the maps of
:mod:`geo.products.maps`, with one router per concern (:mod:`api.routers`). The services
are built once at startup (lifespan); the nearest-offer tables of every category and
mode are warmed in a background thread, so ``/nearest`` answers in milliseconds.

:func:`create_app` is the app factory: ``erreichbar serve`` hands uvicorn
``functools.partial(create_app, settings)`` with ``factory=True`` (:mod:`api.server`),
tests and benchmarks call it with loaded services, and ``uvicorn --factory
api.main:create_app`` serves the process settings (environment ``ERREICHBAR_*``).

Bad input is answered with 4xx and an :class:`~api.models.ErrorBody` naming the field and
the reason, never with a traceback (:mod:`api.errors`); work per request is bounded
(:mod:`api.guards`). Requests are not logged (no family addresses or coordinates in logs):
the server runs without its access log.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api import errors
from api.guards import BodyLimit, HeavySlots
from api.models import ErrorBody
from api.routers import ROUTERS
from api.services import Services
from geo.products.maps import STATIC_DIR
from geo.settings import Settings, get_region, get_settings
from geo.vocabulary import attribution

#: Swagger UI 5 and ReDoc files of the fastapi-offline package, served under /docs-static
#: so that /docs and /redoc work without a CDN.
DOCS_STATIC = Path(fastapi_offline.__file__).resolve().parent / "static"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the services unless they were handed in; warm the nearest tables.

    Also sets the size of the worker-thread pool of the plain-def endpoints
    (ApiSettings.threads).
    """
    settings: Settings = app.state.settings
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api.threads
    if app.state.services is None:
        app.state.services = await anyio.to_thread.run_sync(Services.load, settings)
        if settings.api.warm_up and not app.state.services.missing():
            threading.Thread(target=app.state.services.warm_up, name="warm-up",
                             daemon=True).start()
    yield


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the FastAPI application.

    Parameters
    ----------
    settings
        Default: the services' settings, else the process settings. With ``services``
        given, they set only the API's own options (maps folder, limits, budgets).
    services
        Already loaded services (tests, benchmarks, embedding); default: loaded at startup.
    """
    settings = settings or (services.settings if services is not None else get_settings())
    region = get_region(settings.region)
    app = FastAPI(
        title="Erreichbar API",
        summary=f"Travel times to the family offers of {region.title}, offline.",
        description="Nearest offers, isochrones and coverage on foot, by bike and by car, "
                    f"from OpenStreetMap, BKG VG5000 and {settings.census.title} "
                    f"({attribution(settings)}). Times in minutes, coordinates WGS84. "
                    f"Request bodies up to {settings.api.max_body_bytes} bytes (else 413); "
                    f"{settings.api.heavy_slots} heavy requests at a time (else 503 with "
                    "Retry-After); per-request work budgets are named at each endpoint.",
        version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
        responses={422: {"model": ErrorBody, "description": "invalid or unusable input"}})
    app.state.settings, app.state.services = settings, services
    app.state.heavy = HeavySlots(settings.api.heavy_slots, settings.api.retry_after_s)
    errors.install(app, settings.api.echo_chars)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(GZipMiddleware, minimum_size=1000)  # HTML and JSON; PNGs are packed
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-static", StaticFiles(directory=DOCS_STATIC), name="docs-static")
    for router in ROUTERS:
        app.include_router(router)
    return app
