"""The Erreichbar query API: nearest offers, isochrones, coverage, scenarios, maps.

A thin FastAPI layer over :class:`geo.engine.access.Accessibility` (travel times),
:class:`geo.sources.geocode.Geocoder` (offline address search) and the maps of :mod:`geo.products.maps`.
Both are built once at startup (lifespan); the nearest-offer tables of every category and
mode are warmed in a background thread, so ``/nearest`` answers in milliseconds.

Bad input is answered with 4xx and an :class:`~api.models.ErrorBody` naming the field and
the reason, never with a traceback. Requests are not logged (no family addresses or
coordinates in logs): ``erreichbar serve`` runs uvicorn without its access log.
"""

import datetime as dt
import html
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import fastapi_offline
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from opening_hours import OpeningHours
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import (
    BestSitesAnswer,
    BestSitesRequest,
    CoverageRow,
    CoverageTable,
    ErrorBody,
    Figures,
    GemeindeCollection,
    Health,
    IsochroneCollection,
    Level,
    LineGeometry,
    MapList,
    Mode,
    NearestAnswer,
    NearestOffer,
    OfferCollection,
    OfferFeature,
    OfferProperties,
    Origin,
    PointGeometry,
    Problem,
    Scenario,
    ScenarioAnswer,
    ScenarioRow,
    ThereAndBackAnswer,
)
from geo.engine.access import Accessibility
from geo.errors import DataError, EmptyResultError, ErreichbarError, RegionError
from geo.networks.snap import to_metric
from geo.products import siting
from geo.products.maps import STATIC_DIR, map_names
from geo.settings import Settings, get_region, get_settings
from geo.sources.geocode import AddressNotFoundError, Geocoder
from geo.vocabulary import CATEGORIES, Category, attribution
from geo.vocabulary import vintages as source_vintages

if TYPE_CHECKING:
    from geo.engine.transit_access import TransitAccess

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
_MAP_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
#: Swagger UI 5 and ReDoc files of the fastapi-offline package, served under /docs-static
#: so that /docs and /redoc work without a CDN.
DOCS_STATIC = Path(fastapi_offline.__file__).resolve().parent / "static"
#: Answer when mode transit is asked for but no timetable is loaded (the data's state, not
#: the request, is at fault: 409 Conflict; the message says how to load one).
NO_TIMETABLE = {409: {"model": ErrorBody,
                      "description": "mode transit, but no public-transport timetable is "
                                     "loaded (detail names the field mode)"}}


class RequestError(Exception):
    """A refused request: HTTP status, the request field to blame, reason, suggestions."""

    def __init__(self, status: int, loc: list[str], msg: str, kind: str,
                 suggestions: list[str] | None = None) -> None:
        super().__init__(msg)
        self.status, self.loc, self.msg, self.kind = status, loc, msg, kind
        self.suggestions = suggestions or []


def _status(exc: ErreichbarError) -> tuple[int, str]:
    """HTTP status and problem type of an engine error."""
    if isinstance(exc, AddressNotFoundError):
        return 404, "address_not_found"
    if isinstance(exc, EmptyResultError):
        return 404, "no_offers"
    if isinstance(exc, RegionError):
        return 422, "outside_region"
    return 422, "invalid"


@contextmanager
def blame(*loc: str) -> Iterator[None]:
    """Turn an engine error raised inside into a :class:`RequestError` about ``loc``."""
    try:
        yield
    except ErreichbarError as exc:
        status, kind = _status(exc)
        if isinstance(exc, EmptyResultError):  # no offers: the category is to blame
            loc = ("query", "category")
        raise RequestError(status, list(loc), str(exc), kind,
                           getattr(exc, "suggestions", None)) from exc


def _none(value: Any) -> Any:
    """NaN/None → None, numpy scalars → Python scalars (for pydantic)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and not np.isfinite(value) else value
    return None if value is pd.NA or value is pd.NaT else value


@dataclass
class Services:
    """What the app loads once: the engine, the address index and derived offer tables."""

    settings: Settings
    engine: Accessibility
    geocoder: Geocoder
    offers: pd.DataFrame  #: catalogue with ``gemeinde`` (name) and ``gemeinde_ags``
    gemeinden: dict[str, Any]  #: GeoJSON of the Gemeinden (ags, name), WGS84
    by_id: dict[str, tuple[OfferProperties, PointGeometry]] = field(default_factory=dict)
    warm: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {row["id"]: (self.offer_properties(row),
                                  PointGeometry(coordinates=(row["lon"], row["lat"])))
                      for _, row in self.offers.iterrows()}

    @classmethod
    def load(cls, settings: Settings) -> "Services":
        """Load offers, boundaries and the address index (≈15 s; networks load lazily)."""
        engine = Accessibility(settings)
        gemeinden = engine.units("gemeinde")
        offers = engine.offers
        located = gpd.sjoin(offers[["geometry"]].to_crs(gemeinden.crs),
                            gemeinden[["ags", "name", "geometry"]], how="left",
                            predicate="within")
        located = located[~located.index.duplicated()]
        table = pd.DataFrame(offers.drop(columns="geometry"))
        table["gemeinde"] = located["name"].reindex(table.index)
        table["gemeinde_ags"] = located["ags"].reindex(table.index)
        outline = gemeinden[["ags", "name", "geometry"]].to_crs("EPSG:4326")
        return cls(settings, engine, Geocoder(settings), table,
                   json.loads(outline.to_json(drop_id=True)))

    def warm_up(self) -> None:
        """Build the nearest table of every category × street mode (background thread;
        transit has no table and, in most regions, no timetable)."""
        from geo.vocabulary import STREET_MODES

        for category in self.engine.categories():
            offers = self.offers[(self.offers["category"] == category)
                                 & (self.offers["status"] == "active")]
            for mode in STREET_MODES:
                try:
                    self.engine.nearest_many(offers["lon"].to_numpy()[:1],
                                             offers["lat"].to_numpy()[:1], category, mode, 1)
                except ErreichbarError as exc:
                    log.warning("warm-up %s/%s: %s", category, mode, exc)
                    continue
                self.warm.append(f"{category}/{mode}")
        log.info("nearest tables ready: %d", len(self.warm))

    def offer_properties(self, row: pd.Series, open_: bool | None = None) -> OfferProperties:
        """Catalogue row → :class:`OfferProperties`."""
        data = {k: _none(row.get(k)) for k in OfferProperties.model_fields if k != "open"}
        return OfferProperties(**data, open=open_)


def _services(request: Request) -> Services:
    return request.app.state.services


def _timetable(services: Services) -> "TransitAccess":
    """The engine's walk + public transport; 409 naming ``mode`` when the region has no
    timetable (the engine's message says how to load one)."""
    try:
        return services.engine.transit()
    except DataError as exc:
        raise RequestError(409, ["query", "mode"], str(exc), "no_timetable") from exc


def _mode_services(request: Request, mode: str) -> Services:
    """The services for a query in ``mode``: mode transit needs a loaded timetable (409
    naming ``mode`` otherwise)."""
    services = _services(request)
    if mode == Mode.transit:
        _timetable(services)
    return services


def _points(lon: float | None, lat: float | None, address: str | None,
            services: Services) -> Origin:
    """The query point from ``lat``/``lon`` or ``address`` (exactly one of them)."""
    if address is not None:
        if lon is not None or lat is not None:
            raise RequestError(422, ["query", "address"],
                               "give either address or lat/lon, not both", "conflict")
        with blame("query", "address"):
            loc = services.geocoder.locate(address)
        return Origin(lon=loc.lon, lat=loc.lat, address=loc.label, precision=loc.precision)
    if lon is None or lat is None:
        missing = "lat" if lat is None else "lon"
        raise RequestError(422, ["query", missing],
                           f"{missing} is required (or give address instead of lat/lon)",
                           "missing")
    return Origin(lon=lon, lat=lat)


def _unit_ags(services: Services, unit: str) -> str:
    """ARS of a municipal unit given by name or ARS; RequestError naming ``unit``."""
    units = services.engine.units("unit")
    match = units[(units["name"] == unit) | (units["ags"] == unit)]
    if match.empty:
        raise RequestError(422, ["body", "unit"], f"unknown municipal unit {unit!r}",
                           "unknown_unit", sorted(units["name"]))
    return str(match["ags"].iloc[0])


def _seconds_of_day(value: dt.time | None) -> int | None:
    """Clock time → seconds since midnight."""
    return None if value is None else value.hour * 3600 + value.minute * 60 + value.second


def _minute_list(text: str, max_minutes: float) -> list[float]:
    """``"10,20,30"`` → [10.0, 20.0, 30.0]; RequestError naming ``minutes`` otherwise."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not 0 < v <= max_minutes for v in values) or len(values) > 6:
        raise RequestError(422, ["query", "minutes"],
                           f"minutes must be 1 to 6 comma-separated numbers in (0, "
                           f"{max_minutes:g}], got {text!r}", "invalid")
    return values


def _figures(row: pd.Series, prefix: str, thresholds: list[int], white_spot: int) -> Figures:
    return Figures(
        persons=float(row[prefix]),
        within_share={m: _none(row[f"{prefix}_within_{m}min_share"]) for m in thresholds},
        mean_minutes=_none(row[f"{prefix}_mean_minutes"]),
        median_minutes=_none(row[f"{prefix}_median_minutes"]),
        p90_minutes=_none(row[f"{prefix}_p90_minutes"]),
        beyond_white_spot=float(row[f"{prefix}_beyond_{white_spot}min"]),
        not_connected=float(row[f"{prefix}_not_connected"]))


def _problem_response(status: int, problems: list[Problem],
                      suggestions: list[str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=problems, suggestions=suggestions or []).model_dump(),
                        status_code=status)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The FastAPI application on ``settings`` (default: the services' settings, else the
    process settings).

    ``services`` already loaded (tests, benchmarks, embedding) are used as they are;
    otherwise they are loaded at startup. Explicit ``settings`` then only set the API's
    own options (maps folder, limits).
    """
    settings = settings or (services.settings if services is not None else get_settings())
    region = get_region(settings.region)
    access = settings.access
    map_dir = settings.maps.out_dir

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is None:
            app.state.services = Services.load(settings)
            if settings.api.warm_up:
                threading.Thread(target=app.state.services.warm_up, name="warm-up",
                                 daemon=True).start()
        yield

    app = FastAPI(
        title="Erreichbar API",
        summary=f"Travel times to the family offers of {region.title}, offline.",
        description="Nearest offers, isochrones and coverage on foot, by bike and by car, "
                    f"from OpenStreetMap, BKG VG5000 and {settings.census.title} "
                    f"({attribution(settings)}). Times in minutes, coordinates WGS84.",
        version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
        responses={422: {"model": ErrorBody, "description": "invalid or unusable input"}})
    if services is not None:
        app.state.services = services
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-static", StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        """OpenAPI docs (Swagger UI from /docs-static, no CDN)."""
        return get_swagger_ui_html(
            openapi_url=str(app.openapi_url), title=f"{app.title} – Swagger UI",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png")

    @app.get(str(app.swagger_ui_oauth2_redirect_url), include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        """Swagger UI's OAuth2 redirect page."""
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        """OpenAPI docs (ReDoc from /docs-static, no CDN, no web fonts)."""
        return get_redoc_html(openapi_url=str(app.openapi_url), title=f"{app.title} – ReDoc",
                              redoc_js_url="/docs-static/redoc.standalone.js",
                              redoc_favicon_url="/docs-static/favicon.png",
                              with_google_fonts=False)

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return _problem_response(exc.status, [Problem(loc=exc.loc, msg=exc.msg, type=exc.kind)],
                                 exc.suggestions)

    @app.exception_handler(ErreichbarError)
    async def _engine_error(_: Request, exc: ErreichbarError) -> JSONResponse:
        status, kind = _status(exc)
        return _problem_response(status, [Problem(loc=["query"], msg=str(exc), type=kind)],
                                 getattr(exc, "suggestions", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem_response(422, [Problem(loc=[str(p) for p in e["loc"]], msg=e["msg"],
                                               type=e["type"]) for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem_response(exc.status_code, [Problem(loc=[], msg=str(exc.detail),
                                                           type="http")])

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s: %s", type(exc).__name__, exc)
        return _problem_response(500, [Problem(loc=[], msg="internal error", type="internal")])

    @app.get("/health", response_model=Health, tags=["service"])
    def health(request: Request) -> Health:
        """Data vintages and what is loaded."""
        s = _services(request)
        active = s.offers[s.offers["status"] == "active"]["category"].value_counts()
        vintages = {**source_vintages(settings),
                    **{f"osm_{name}": t.vintage for name, t in
                       (("tiles", region.tiles), ("city_tiles", region.city_tiles))
                       if t is not None}}
        return Health(region=region.name, title=region.title, vintages=vintages,
                      offers={c: int(active.get(c, 0)) for c in CATEGORIES},
                      warm=list(s.warm),
                      geocoder={"addresses": len(s.geocoder.addresses),
                                "streets": len(s.geocoder.streets),
                                "places": len(s.geocoder.places)},
                      maps=map_names(map_dir))

    @app.get("/offers", response_model=OfferCollection, tags=["offers"])
    def offers(
        request: Request,
        category: Annotated[Category | None, Query(description="offer category")] = None,
        gemeinde: Annotated[str | None, Query(
            max_length=100, description="Gemeinde name or 8-digit AGS, e.g. Rosdorf")] = None,
        age: Annotated[float | None, Query(
            ge=0, le=120, allow_inf_nan=False,
            description="age in years: drops offers whose known age range excludes it")] = None,
        open_at: Annotated[dt.datetime | None, Query(
            description="local time, e.g. 2026-11-26T10:00: drops offers known to be closed "
                        "then (offers without opening hours stay, with open = null)")] = None,
        include_inactive: Annotated[bool, Query(
            description="also planned and closed offers")] = False,
    ) -> OfferCollection:
        """Offers of the catalogue as GeoJSON, filtered."""
        s = _services(request)
        frame = s.offers if include_inactive else s.offers[s.offers["status"] == "active"]
        if category is not None:
            frame = frame[frame["category"] == str(category)]
        if gemeinde is not None:
            known = s.offers["gemeinde"].dropna().unique()
            if gemeinde not in known and gemeinde not in set(s.offers["gemeinde_ags"].dropna()):
                raise RequestError(422, ["query", "gemeinde"],
                                   f"unknown Gemeinde {gemeinde!r} in {region.title}",
                                   "unknown_gemeinde", sorted(known))
            frame = frame[(frame["gemeinde"] == gemeinde) | (frame["gemeinde_ags"] == gemeinde)]
        if age is not None:
            frame = frame[~((frame["age_from"] > age) | (frame["age_to"] < age))]
        is_open: dict[Any, bool | None] = {}
        if open_at is not None:
            when = open_at.replace(tzinfo=None)
            for idx, hours in frame["opening_hours"].dropna().items():
                is_open[idx] = bool(OpeningHours(hours).is_open(when))
            frame = frame[[is_open.get(i, True) for i in frame.index]]
        return OfferCollection(features=[
            OfferFeature(geometry=PointGeometry(coordinates=(row["lon"], row["lat"])),
                         properties=s.offer_properties(row, is_open.get(idx)))
            for idx, row in frame.iterrows()])

    @app.get("/gemeinden", response_model=GemeindeCollection, tags=["offers"])
    def gemeinden(request: Request) -> dict[str, Any]:
        """The Gemeinden of the region as GeoJSON (VG5000, generalised; ags, name)."""
        return _services(request).gemeinden

    @app.get("/nearest", response_model=NearestAnswer, tags=["travel times"],
             responses=NO_TIMETABLE)
    async def nearest(
        request: Request,
        category: Annotated[Category, Query(description="offer category")],
        lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False,
                                           description="WGS84 latitude, degrees")] = None,
        lon: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False,
                                           description="WGS84 longitude, degrees")] = None,
        address: Annotated[str | None, Query(
            min_length=1, max_length=200,
            description="instead of lat/lon: street and number, place, e.g. "
                        "'Weender Landstraße 2, Göttingen'")] = None,
        mode: Annotated[Mode, Query(description="travel mode")] = Mode.walk,
        k: Annotated[int, Query(ge=1, le=access.k_max, description="offers listed")] = 3,
        route: Annotated[bool, Query(
            description="include each route's geometry and the access distance; without "
                        "them the answer is a table lookup (about 5× faster)")] = True,
    ) -> NearestAnswer:
        """The k nearest active offers of a category from a point or an address, with the
        door-to-door minutes and the route of each.

        Async on purpose: the work is a few milliseconds of CPU, done on the event loop
        without a thread hand-off (threads only contend for the GIL).
        """
        s = _mode_services(request, mode)
        origin = _points(lon, lat, address, s)
        where = ("query", "address") if address is not None else ("query", "lat")
        results = []
        with blame(*where):
            if not route:
                table = s.engine.nearest_many(np.array([origin.lon]), np.array([origin.lat]),
                                              str(category), str(mode), k)
                for row in table.itertuples():
                    props, point = s.by_id[row.offer_id]
                    results.append(NearestOffer(rank=int(row.rank), offer=props, location=point,
                                                minutes=round(float(row.minutes), 2)))
            else:
                found = s.engine.nearest_routes(origin.lon, origin.lat, str(category),
                                                str(mode), k)
                access_m = round(found.access_m, 1) if np.isfinite(found.access_m) else None
                for rank, (offer_id, seconds, line) in enumerate(
                        zip(found.offer_ids, found.seconds, found.routes, strict=True), 1):
                    props, point = s.by_id[offer_id]
                    results.append(NearestOffer(
                        rank=rank, offer=props, location=point,
                        minutes=round(float(seconds) / 60.0, 2), access_m=access_m,
                        route=LineGeometry(coordinates=np.round(line, 6).tolist())))
        return NearestAnswer(origin=origin, category=str(category), mode=str(mode),
                             max_minutes=access.nearest_max_min, results=results)

    @app.get("/isochrones", response_model=IsochroneCollection, tags=["travel times"],
             responses=NO_TIMETABLE)
    def isochrones(
        request: Request,
        lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False,
                                    description="WGS84 latitude, degrees")],
        lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False,
                                    description="WGS84 longitude, degrees")],
        mode: Annotated[Mode, Query(description="travel mode")] = Mode.walk,
        minutes: Annotated[str, Query(max_length=60,
                                      description="comma-separated budgets, minutes")] = "10,20,30",
    ) -> IsochroneCollection:
        """Areas reachable from a point within each budget, along the streets (GeoJSON)."""
        budgets = _minute_list(minutes, access.nearest_max_min)
        s = _mode_services(request, mode)
        with blame("query", "lat"):
            polys = s.engine.isochrones(lon, lat, str(mode), budgets)
        return IsochroneCollection.model_validate(polys.__geo_interface__)

    @app.get("/coverage", response_model=CoverageTable, tags=["coverage"],
             responses=NO_TIMETABLE)
    def coverage(
        request: Request,
        category: Annotated[Category, Query(description="offer category")],
        unit: Annotated[Level, Query(description="area level of the rows")] = Level.gemeinde,
        mode: Annotated[Mode, Query(description="travel mode")] = Mode.walk,
        minutes: Annotated[str | None, Query(
            max_length=60, description="comma-separated thresholds, minutes "
                                       f"(default {','.join(map(str, access.thresholds_min))})")
        ] = None,
    ) -> CoverageTable:
        """Share of children (and inhabitants) per area reaching an offer within each
        threshold, mean/median/p90 minutes and white spots."""
        values = (_minute_list(minutes, access.nearest_max_min) if minutes is not None
                  else [float(m) for m in access.thresholds_min])
        if any(not m.is_integer() for m in values):
            raise RequestError(422, ["query", "minutes"], f"thresholds are whole minutes, got "
                               f"{minutes!r}", "invalid")
        thresholds = sorted({int(m) for m in values})
        s = _mode_services(request, mode)
        with blame("query", "category"):
            table = s.engine.coverage(str(unit), str(category), str(mode), thresholds)
        rows = [CoverageRow(ags=r["ags"], name=r["name"], level=r["level"],
                            children=_figures(r, "children", thresholds, access.white_spot_min),
                            inhabitants=_figures(r, "inhabitants", thresholds,
                                                 access.white_spot_min))
                for _, r in table.iterrows()]
        return CoverageTable(category=str(category), mode=str(mode), level=str(unit),
                             white_spot_minutes=access.white_spot_min, rows=rows)

    @app.post("/scenarios", response_model=ScenarioAnswer, tags=["coverage"])
    def scenarios(request: Request, scenario: Annotated[Scenario, Body()]) -> ScenarioAnswer:
        """What if offers were added at these sites and/or closed: children coverage per
        Gemeinde before and after."""
        if len(scenario.add) > settings.api.max_scenario_sites:
            raise RequestError(422, ["body", "add"], f"at most "
                               f"{settings.api.max_scenario_sites} sites per scenario", "invalid")
        loc = ["body", "add" if scenario.add else "remove"]
        with blame(*loc):
            result = _services(request).engine.what_if(
                str(scenario.category), str(scenario.mode),
                add=[(site.lon, site.lat) for site in scenario.add], remove=scenario.remove)
        thresholds = list(access.thresholds_min)
        white = f"children_beyond_{access.white_spot_min}min"
        rows = [ScenarioRow(
            ags=r["ags"], name=r["name"], children=float(r["children"]),
            within_share_before={m: _none(r[f"children_within_{m}min_share_before"])
                                 for m in thresholds},
            within_share_after={m: _none(r[f"children_within_{m}min_share_after"])
                                for m in thresholds},
            within_change={m: int(r[f"children_within_{m}min_change"]) for m in thresholds},
            beyond_white_spot_before=float(r[f"{white}_before"]),
            beyond_white_spot_after=float(r[f"{white}_after"]))
            for _, r in result.gemeinden.iterrows()]
        return ScenarioAnswer(category=str(scenario.category), mode=str(scenario.mode),
                              seconds=round(result.seconds, 3), changed_cells=len(result.cells),
                              gemeinden=rows)

    @app.post("/scenarios/best-sites", response_model=BestSitesAnswer, tags=["coverage"])
    def best_sites(request: Request,
                   query: Annotated[BestSitesRequest, Body()]) -> BestSitesAnswer:
        """Where would k new offers bring the most children under 10 within the time?
        Greedy maximal covering over street nodes or the given candidates, with the
        children gained by each site (:func:`geo.products.siting.best_sites`)."""
        s = _services(request)
        unit_ags = None if query.unit is None else _unit_ags(s, query.unit)
        candidates = (None if query.candidates is None else
                      (np.array([c.lon for c in query.candidates]),
                       np.array([c.lat for c in query.candidates])))
        with blame("body", "category" if candidates is None else "candidates"):
            summary = siting.best_sites(s.engine, str(query.category), str(query.mode),
                                        query.minutes, query.k, candidates, unit_ags).summary()
        summary["sites"] = [{k: _none(v) for k, v in site.items()} for site in summary["sites"]]
        return BestSitesAnswer.model_validate(summary)

    @app.get("/there-and-back", response_model=ThereAndBackAnswer, tags=["travel times"],
             responses=NO_TIMETABLE)
    def there_and_back(
        request: Request,
        lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False,
                                    description="home, WGS84 latitude, degrees")],
        lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False,
                                    description="home, WGS84 longitude, degrees")],
        offer_id: Annotated[str, Query(min_length=1, max_length=200,
                                       description="id of an active offer (see /offers)")],
        date: Annotated[dt.date | None, Query(
            description="day of the visit (default: the timetable's regular day)")] = None,
        arrive_by: Annotated[dt.time | None, Query(
            description="be at the offer by HH:MM (default: its opening time that day)")
        ] = None,
        leave_after: Annotated[dt.time | None, Query(
            description="leave the offer after HH:MM (default: its closing time that day)")
        ] = None,
    ) -> ThereAndBackAnswer:
        """Can one get from home to an offer by walking and public transport before it
        starts, and home again after it ends, the same day? With the connections (line,
        departure, arrival) of both ways."""
        s = _services(request)
        transit = _timetable(s)
        start, end = _seconds_of_day(arrive_by), _seconds_of_day(leave_after)
        if start is not None and end is not None and end < start:
            raise RequestError(422, ["query", "leave_after"], f"leave_after {leave_after} "
                               f"lies before arrive_by {arrive_by}", "invalid")
        x, y = to_metric(np.array([lon]), np.array([lat]))
        if not shapely.contains_xy(s.engine.units("county").union_all(), x[0], y[0]):
            raise RequestError(422, ["query", "lat"], f"point (lon {lon:.5f}, lat {lat:.5f}) "
                               f"lies outside {region.title}", "outside_region")
        with blame("query", "offer_id"):
            trip = transit.there_and_back(float(x[0]), float(y[0]), offer_id, date, start, end)
        return ThereAndBackAnswer.model_validate(trip.summary())

    @app.get("/maps", response_model=MapList, tags=["maps"])
    def maps_index() -> MapList:
        """Names of the generated maps (``erreichbar maps build``)."""
        return MapList(maps=map_names(map_dir))

    @app.get("/maps/{name}", response_class=HTMLResponse, tags=["maps"],
             responses={404: {"model": ErrorBody}})
    def map_page(name: str) -> FileResponse:
        """One generated map (HTML, works offline)."""
        stem = name.removesuffix(".html")
        path = map_dir / f"{stem}.html"
        if not _MAP_NAME.match(stem) or not path.is_file():
            raise RequestError(404, ["path", "name"], f"no map {name!r}; build maps with "
                               "'erreichbar maps build'", "not_found", map_names(map_dir))
        return FileResponse(path, media_type="text/html")

    family_html = (HERE / "static" / "index.html").read_text("utf-8").replace(
        "<!--attribution-->", html.escape(attribution(settings).replace(" | ", "; ")))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def family_page() -> HTMLResponse:
        """The family page: address or map click → nearest offers (German)."""
        return HTMLResponse(family_html)

    return app


#: The application (``uvicorn api.main:app``), on the process settings.
app = create_app()
