"""FastAPI dependencies shared by the routers.

The loaded services, readiness, the query point, the timetable and the query-parameter
rules (budgets, clock times).

One rule per fact: every endpoint that takes a point takes it through :func:`origin`
(``lat``/``lon`` or ``address``, inside the region as :meth:`Services.inside` says), and
every clock time goes through :func:`clock_seconds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

from api.errors import RequestError, blame, echo
from api.models import ErrorBody, Origin
from api.services import Services
from geo.errors import DataError
from geo.messages import negotiate, text
from geo.settings import Settings
from geo.sources.geocode import did_you_mean
from geo.transit.timetable import parse_clock
from geo.vocabulary import STREET_MODES

if TYPE_CHECKING:
    from geo.engine.transit_access import TransitAccess


async def get_services(request: Request) -> Services:
    """Return the app's loaded :class:`Services`.

    This and the other dependencies without work are ``async``: FastAPI runs a plain
    ``def`` dependency in a worker thread, one hand-off (and one wait for the GIL) more
    per request.
    """
    return request.app.state.services


async def app_settings(request: Request) -> Settings:
    """Return the app's settings (maps folder, limits, budgets)."""
    return request.app.state.settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(app_settings)]

#: 503 of the data-dependent endpoints, for the OpenAPI docs.
NOT_READY: dict[int | str, dict[str, Any]] = {503: {"model": ErrorBody, "description": (
    "derived data not built yet (detail says which and how to build it), or every heavy "
    "slot busy (Retry-After)")}}


async def ready(services: ServicesDep) -> None:
    """Refuse with 503 while derived data is missing (router dependency).

    The answer names what is not built yet and how to build it, before any parameter
    is looked at.
    """
    missing = services.missing()
    if missing:
        hints = sorted(set(missing.values()))
        raise RequestError(503, [], f"not ready: {', '.join(missing)} not built; "
                           f"{'; '.join(hints)}", "not_ready", sorted(missing),
                           values={"missing": ", ".join(missing), "hint": "; ".join(hints)})


def mode_ready(services: Services, mode: str, where: str = "query") -> None:
    """Load the engine of ``mode``; 409 naming ``mode`` when its data is not there.

    ``where``: the request part that carries ``mode`` (``query`` or ``body``).

    Street networks are checked by the readiness dependency (503); here it is the mode's
    own data, e.g. a region without a timetable for ``transit`` (the engine's message says
    how to load one), or a street mode in a region without street data (409
    ``mode_unavailable`` naming the modes it has, :meth:`Services.modes`).
    """
    if mode in STREET_MODES and not services.has_streets() and mode not in services.modes():
        have = services.modes()
        raise RequestError(409, [where, "mode"], f"mode {mode}: region {services.settings.region}"
                           f" has no street network; modes: {', '.join(have) or 'none'}",
                           "mode_unavailable", values={
                               "mode": text(f"labels.mode.{mode}"),
                               "modes": ", ".join(text(f"labels.mode.{m}") for m in have)})
    try:
        services.engine.engine(mode).load()
    except DataError as exc:
        raise RequestError(409, [where, "mode"], str(exc), "no_timetable") from exc


def timetable(services: Services) -> TransitAccess:
    """Return the engine's walk + public transport.

    409 naming ``mode`` when the region has no timetable (the engine's message says how
    to load one).
    """
    try:
        return services.engine.transit()
    except DataError as exc:
        raise RequestError(409, ["query", "mode"], str(exc), "no_timetable") from exc


async def asked_language(
    request: Request,
    lang: Annotated[str | None, Query(
        max_length=35, description="language of texts and error messages: de (default), en, "
                                   "tr, ar, uk, ru; else Accept-Language decides")] = None,
) -> str:
    """Return the language to answer in (:func:`geo.messages.negotiate`)."""
    return negotiate(request.headers.get("accept-language"), lang)


LangDep = Annotated[str, Depends(asked_language)]


def origin(
    services: ServicesDep,
    lang: LangDep,
    lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False,
                                       description="WGS84 latitude, degrees")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False,
                                       description="WGS84 longitude, degrees")] = None,
    address: Annotated[str | None, Query(
        min_length=1, max_length=200,
        description="instead of lat/lon: street and number, place, e.g. "
                    "'Weender Landstraße 2, Göttingen'")] = None,
) -> Origin:
    """Return the query point from ``lat``/``lon`` or ``address`` (exactly one of them).

    The point must lie inside the region (:meth:`Services.inside`). An address whose street
    lacks the house number asked for gives the street, with ``number_found`` false, a note
    in ``lang`` and the close spellings that have the number as ``suggestions``.
    """
    if address is not None:
        if lon is not None or lat is not None:
            raise RequestError(422, ["query", "address"],
                               "give either address or lat/lon, not both", "conflict")
        with blame("query", "address", address=echo(address, 100)):
            loc = services.geocoder.locate(address)
        note = None
        if loc.note is not None:  # the street without the number asked for
            note = text("api.number_not_found", lang) + (
                f"; {did_you_mean(loc.suggestions, lang)}" if loc.suggestions else "")
        return Origin(lon=loc.lon, lat=loc.lat, address=loc.label, precision=loc.precision,
                      number_found=False if loc.note is not None else None, note=note,
                      suggestions=list(loc.suggestions))
    if lon is None or lat is None:
        missing = "lat" if lat is None else "lon"
        raise RequestError(422, ["query", missing],
                           f"{missing} is required (or give address instead of lat/lon)",
                           "missing", values={"field": missing})
    if not services.inside(lon, lat):
        raise RequestError(422, ["query", "lat"], f"point (lon {lon:.5f}, lat {lat:.5f}) lies "
                           f"outside {services.engine.region.title}", "outside_region")
    return Origin(lon=lon, lat=lat)


OriginDep = Annotated[Origin, Depends(origin)]


def json_answer(model: BaseModel) -> Response:
    """Render the model as a JSON answer in the calling thread.

    Heavy endpoints build their answer in their worker thread, so the event loop only
    sends bytes.
    """
    return Response(model.model_dump_json(), media_type="application/json")


def blame_origin(point: Origin) -> tuple[str, str]:
    """Return the field to blame for a problem at the query point."""
    return ("query", "address") if point.address is not None else ("query", "lat")


def minute_list(text: str, max_minutes: float, total: float | None = None) -> list[float]:
    """Parse ``"10,20,30"`` into ``[10.0, 20.0, 30.0]``.

    1 to 6 budgets in (0, ``max_minutes``] adding up to at most ``total``; 422 naming
    ``minutes`` otherwise.
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not 0 < v <= max_minutes for v in values) or len(values) > 6:
        raise RequestError(422, ["query", "minutes"],
                           f"minutes must be 1 to 6 comma-separated numbers in (0, "
                           f"{max_minutes:g}], got {echo(text)}", "invalid")
    if total is not None and sum(values) > total:
        raise RequestError(422, ["query", "minutes"],
                           f"minutes add up to {sum(values):g}, more than the {total:g} one "
                           "request may ask for in this mode (each budget is a polygon of "
                           "its own): ask fewer or smaller budgets", "too_much_work")
    return values


def clock_seconds(text: str | None, field: str) -> int | None:
    """Parse ``HH:MM`` into seconds since midnight; 422 naming ``field`` otherwise.

    Hours go up to 47 for times past midnight, as in GTFS: the one rule of
    :func:`geo.transit.timetable.parse_clock`, which the CLI uses too.
    """
    if text is None:
        return None
    with blame("query", field):
        return parse_clock(text, field)
