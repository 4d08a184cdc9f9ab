"""Pydantic request and response models of the API (GeoJSON where the answer is a map layer).

Coordinates are WGS84 degrees ``[lon, lat]``; times are minutes; distances metres.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo.vocabulary import Category, Mode, StreetMode, Weight


class Problem(BaseModel):
    """One reason a request was refused."""

    loc: list[str] = Field(description="where: ['query', field] or ['body', field, …]")
    msg: str = Field(description="what is wrong, in words, in the language of lang= or "
                                 "Accept-Language (German by default)")
    type: str = Field(description="kind of problem, e.g. outside_region, not_found")


class ErrorBody(BaseModel):
    """Body of every 4xx answer."""

    detail: list[Problem]
    suggestions: list[str] = Field(default_factory=list,
                                   description="close names when an address was not found")


class Health(BaseModel):
    """Whether the service is ready, what it has loaded and from which data vintage."""

    ready: bool = Field(description="every travel-time endpoint can answer; while false "
                                    "they answer 503 naming what is missing")
    missing: dict[str, str] = Field(description="derived data not built yet → how to build "
                                                "it, e.g. network_walk → erreichbar network "
                                                "build")
    region: str
    title: str
    vintages: dict[str, str] = Field(description="data set → date of the data")
    offers: dict[str, int] = Field(description="active offers per category")
    warm: list[str] = Field(description="category/mode pairs with nearest tables ready")
    geocoder: dict[str, int] = Field(description="addresses, streets, places indexed")
    maps: list[str] = Field(description="generated maps under /maps/")
    timetable: str = Field(
        default="none", description="the region's public-transport timetable: none (mode "
        "transit answers 409), long_distance_only (e.g. gtfs.de's fv feed alone) or loaded")
    timetable_days: tuple[dt.date, dt.date] | None = Field(
        default=None, description="first and last service day of the loaded timetable "
        "(/there-and-back answers dates within them); null without one")
    modes: list[str] = Field(
        default_factory=list, description="modes the region can answer: each street mode "
        "whose network is built, transit with a loaded timetable (a region without street "
        "data, e.g. the Enzkreis, has transit alone)")


class PointGeometry(BaseModel):
    """GeoJSON Point."""

    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float] = Field(description="[lon, lat], WGS84 degrees")


class LineGeometry(BaseModel):
    """GeoJSON LineString."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]]


class OfferProperties(BaseModel):
    """Catalogue fields of one offer (``None`` = unknown)."""

    id: str
    name: str
    category: str
    subcategory: str | None = None
    traeger: str | None = None
    street: str | None = None
    housenumber: str | None = None
    postcode: str | None = None
    town: str | None = None
    gemeinde: str | None = Field(default=None, description="VG5000 Gemeinde the offer lies in")
    age_from: float | None = Field(default=None, description="years")
    age_to: float | None = Field(default=None, description="years")
    opening_hours: str | None = Field(default=None, description="OSM opening_hours syntax")
    open: bool | None = Field(default=None,
                              description="open at the requested time (open_at, or weekday and "
                                          "time; None: hours unknown or not asked)")
    matches: bool | None = Field(
        default=None, description="/offers with age or open_at: true when every asked filter "
                                  "is known to match, None when one is unknown (no ages or "
                                  "hours); offers known not to match are left out")
    address: str | None = Field(
        default=None, description="postal address: the offer's own, else the nearest OSM house "
                                  "number (see address_source); None: unknown")
    address_source: Literal["offer", "housenumber_street", "housenumber_nearby"] | None = Field(
        default=None, description="offer: the offer's own fields; housenumber_street: nearest "
                                  "house number on its street (≤ 150 m); housenumber_nearby: "
                                  "nearest house number (≤ 50 m), the offer naming no street")
    capacity: int | None = Field(default=None, description="places")
    status: str
    geocode_precision: str | None = None
    source: str
    source_date: str | None = None


class OfferFeature(BaseModel):
    """One offer as a GeoJSON Feature."""

    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry
    properties: OfferProperties


class OfferCollection(BaseModel):
    """Offers as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[OfferFeature]
    matched: int | None = Field(
        default=None, description="with age or open_at: offers known to match (listed first); "
                                  "the others listed have matches = None (unknown)")
    unknown: int | None = Field(default=None,
                                description="with age or open_at: offers of unknown match")


class GemeindeFeature(BaseModel):
    """One Gemeinde as a GeoJSON Feature (VG5000, generalised, WGS84)."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(description="GeoJSON (Multi)Polygon")
    properties: dict[str, str] = Field(description="ags, name")


class GemeindeCollection(BaseModel):
    """Gemeinden as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[GemeindeFeature]


class Origin(BaseModel):
    """The query point, and the address it came from."""

    lon: float
    lat: float
    address: str | None = Field(default=None, description="matched address (address= only)")
    precision: str | None = Field(default=None, description="address, street, place or stop")
    number_found: bool | None = Field(
        default=None, description="false: the street has no such house number, the point is "
                                  "on the street (see note); None: no number asked")
    note: str | None = Field(default=None, description="what was not found, in the asked "
                                                       "language, e.g. 'Hausnummer nicht "
                                                       "gefunden; Meinten Sie …?'")
    suggestions: list[str] = Field(default_factory=list,
                                   description="'Meinten Sie …?': queries of close spellings "
                                               "that have the house number; never taken silently")


class TransitLeg(BaseModel):
    """One leg of a journey by public transport (mode transit): a ride or a walk."""

    model_config = ConfigDict(populate_by_name=True)

    route: str = Field(description="line name (e.g. '720', 'ICE 1234'), 'walk' for a walk")
    trip: str | None = Field(default=None, description="GTFS trip_id of a ride")
    from_: str = Field(alias="from", description="stop id, or 'origin'")
    from_name: str = Field(description="stop name (or 'origin')")
    departure: str = Field(description="local date-time YYYY-MM-DDTHH:MM:SS")
    to: str = Field(description="stop id, or 'destination'")
    to_name: str = Field(description="stop name (or 'destination')")
    arrival: str = Field(description="local date-time YYYY-MM-DDTHH:MM:SS")


class NearestOffer(BaseModel):
    """One of the k nearest offers with its route."""

    rank: int = Field(description="1 = nearest")
    offer: OfferProperties
    location: PointGeometry
    minutes: float = Field(description="door-to-door travel time, minutes")
    access_m: float | None = Field(
        default=None, description="straight metres from the query point to the network "
                                  "(with route=true)")
    route: LineGeometry | None = Field(
        default=None, description="query point → streets → offer (with route=true)")
    address: str | None = Field(default=None, description="the offer's address (offer.address)")
    address_source: str | None = Field(default=None,
                                       description="where it comes from (offer.address_source)")
    open_now: bool | None = Field(default=None, description="open now, Europe/Berlin; None: "
                                                            "opening hours unknown")
    open_today: str | None = Field(
        default=None, description="today's opening times, e.g. '08:00–12:00, 14:00–16:00', or "
                                  "'heute geschlossen' (in the asked language); None: unknown")
    other_modes: dict[str, float | None] = Field(
        default_factory=dict,
        description="minutes to this offer by walk, bike and car, and by transit when that is "
                    "the asked mode (transit has no precomputed table); None: beyond "
                    "max_minutes or not connected")
    legs: list[TransitLeg] | None = Field(
        default=None, description="mode transit with route=true: the legs of the journey of "
        "the median departure (rides with line, stops and times; walks)")


class NearestAnswer(BaseModel):
    """The k nearest offers of one point."""

    origin: Origin
    category: str
    mode: str
    max_minutes: float = Field(description="offers beyond this travel time are not listed")
    results: list[NearestOffer]
    nearest_anyway: NearestOffer | None = Field(
        default=None, description="when no offer lies within max_minutes: the nearest one "
                                  "anyway, with its minutes by this mode (no route); None "
                                  "otherwise or when none is connected")
    suggest_mode: str | None = Field(
        default=None, description="when no offer lies within max_minutes: the first mode of "
                                  "walk, bike, transit, car that reaches one within it")


class IsochroneProperties(BaseModel):
    """Budget (minutes), mode and area (km²) of one reach polygon."""

    minutes: float
    mode: str
    area_km2: float


class IsochroneFeature(BaseModel):
    """One reach polygon as a GeoJSON Feature."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(description="GeoJSON (Multi)Polygon")
    properties: IsochroneProperties


class IsochroneCollection(BaseModel):
    """Reach polygons, largest budget first."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[IsochroneFeature]


class Figures(BaseModel):
    """Coverage figures of one population (children under 10, or inhabitants)."""

    persons: float = Field(description="persons in the area's cells")
    within_share: dict[int, float | None] = Field(
        description="minutes → share (0–1) reaching an offer within that time")
    mean_minutes: float | None = None
    median_minutes: float | None = None
    p90_minutes: float | None = None
    beyond_white_spot: float = Field(description="persons beyond the white-spot threshold")
    not_connected: float = Field(description="persons in cells off the network")


class CoverageRow(BaseModel):
    """Coverage of one area."""

    ags: str
    name: str
    level: str
    children: Figures = Field(description="census 100 m cells (the census named in /health), "
                                          "children under 10")
    inhabitants: Figures = Field(description="census 1 km cells, all inhabitants")
    weighted: Figures | None = Field(
        default=None, description="the requested weight's figures (need layers: families or "
                                  "persons in published 100 m cells)")


class CoverageTable(BaseModel):
    """Coverage of one category by one mode, one row per area of the level."""

    category: str
    mode: str
    level: str
    weight: Weight | None = Field(default=None, description="the weight of ``weighted``")
    white_spot_minutes: int
    white_spot_mode: str = Field(
        description="mode of the one white-spot definition (AccessSettings.white_spot_mode); "
                    "``beyond_white_spot`` counts the requested mode, a white spot when it is "
                    "this one")
    white_spot: str = Field(description="the white-spot definition in German, as reports "
                                        "and maps state it")
    rows: list[CoverageRow]


class Site(BaseModel):
    """A hypothetical new offer."""

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 degrees")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 degrees")


class Scenario(BaseModel):
    """Offers to add and/or close for one category and mode."""

    category: Category = Field(description="offer category, e.g. familienzentrum")
    mode: Mode = Field(default=Mode.walk, description="transit: walk + public transport "
                       "(window median), needs a loaded timetable")
    add: list[Site] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=200,
                              description="ids of active offers to close")


class ScenarioRow(BaseModel):
    """Children coverage of one Gemeinde before and after the scenario."""

    ags: str
    name: str
    children: float
    within_share_before: dict[int, float | None]
    within_share_after: dict[int, float | None]
    within_change: dict[int, int] = Field(description="children gaining (+) or losing (−) "
                                                      "an offer within that many minutes")
    beyond_white_spot_before: float
    beyond_white_spot_after: float


class ScenarioAnswer(BaseModel):
    """Children coverage per Gemeinde before and after a scenario."""

    category: str
    mode: str
    seconds: float = Field(description="computation time, seconds")
    changed_cells: int = Field(description="100 m children cells whose time changed")
    gemeinden: list[ScenarioRow]


class BestSitesRequest(BaseModel):
    """Ask where ``k`` new offers of a category would bring the most children within reach."""

    category: Category = Field(description="offer category, e.g. familienzentrum")
    mode: StreetMode = Field(default=StreetMode.walk)
    minutes: float = Field(default=15, gt=0, le=60, allow_inf_nan=False,
                           description="time budget, minutes")
    k: int = Field(default=3, ge=1, le=10, description="sites to propose")
    weight: Weight = Field(default=Weight.children_under_10,
                           description="bring these within reach: children under 10, or a need "
                                       "layer (single_parent_families, …)")
    unit: str | None = Field(default=None, min_length=1, max_length=100,
                             description="count only the children of this municipal unit "
                                         "(name or 9-digit ARS, e.g. Rosdorf)")
    candidates: list[Site] | None = Field(
        default=None, min_length=1, max_length=200,
        description="candidate points (e.g. schools, town halls); default: street nodes, "
                    "one per 500 m square")


class BestSite(BaseModel):
    """One proposed site, in the order the greedy algorithm picked it."""

    rank: int = Field(description="1 = picked first (adds the most children)")
    lon: float
    lat: float
    candidate: int = Field(description="index into the given candidates, or the street node")
    node: int = Field(description="street node of the site")
    gained: float = Field(description="weight (children, or the families/persons of a need "
                                      "weight) newly within the time")
    covered: float = Field(description="weight within the time with sites 1…rank")
    children_gained: float | None = Field(
        default=None, description="weight children_under_10 only: children newly within the time")
    children_covered: float | None = Field(
        default=None, description="weight children_under_10 only: children within the time "
                                  "with sites 1…rank")
    share_covered: float | None = Field(description="``covered`` as a share of the total")


class BestSitesAnswer(BaseModel):
    """Best new sites (greedy maximal covering, :func:`geo.products.siting.best_sites`)."""

    category: str
    mode: str
    minutes: float
    weight: Weight = Field(description="what the sites bring within reach")
    total: float = Field(description="the weight in the area (children, families, persons)")
    covered_before: float = Field(description="the weight within the time today")
    children_total: float | None = Field(
        default=None, description="weight children_under_10 only: children in the area")
    children_covered_before: float | None = Field(
        default=None, description="weight children_under_10 only: children within the time today")
    candidates: int = Field(description="candidates considered")
    seconds: float = Field(description="computation time, seconds")
    sites: list[BestSite] = Field(description="fewer than k when no site adds children")


class Journey(BaseModel):
    """One way of a there-and-back trip."""

    departure: str = Field(description="ISO local time")
    arrival: str = Field(description="ISO local time")
    minutes: float
    legs: list[dict[str, Any]] = Field(description="line, trip, stops and their names, times; "
                                                   "walks have route 'walk'")


class ThereAndBackAnswer(BaseModel):
    """Whether one can be at the offer by its start and get home after its end, the same day."""

    possible: bool
    date: str
    arrive_by: str = Field(description="HH:MM")
    leave_after: str = Field(description="HH:MM")
    outbound: Journey | None = Field(description="latest journey arriving by arrive_by")
    back: Journey | None = Field(description="earliest journey home after leave_after")
    reason: str = Field(description="why not (empty when possible)")


class MapList(BaseModel):
    """The generated maps."""

    maps: list[str] = Field(description="names to open as /maps/{name}")


class FamilyOffer(OfferProperties):
    """One offer of a stage, with the minutes from the origin."""

    minutes: dict[str, float | None] = Field(
        description="minutes from the origin on foot (walk) and by bike (None: beyond "
                    "ChainSettings.guide_max_min, 90)")
    lon: float = Field(description="WGS84 degrees")
    lat: float = Field(description="WGS84 degrees")


class FamilyStage(BaseModel):
    """One stage of the prevention chain that covers the child's age."""

    key: str = Field(description="stage key (ChainSettings.stages), e.g. kindergarten")
    label: str = Field(description="stage label in the asked language")
    age_from: float = Field(description="years")
    age_to: float = Field(description="years (exclusive)")
    budget_min: float = Field(description="offers within this many minutes are listed")
    matched: int | None = Field(
        default=None, description="with weekday and time: offers known open (listed first; "
                                  "then those of unknown hours, open = None)")
    offers: list[FamilyOffer] = Field(description="nearest first by the asked mode")


class FamilyAnswer(BaseModel):
    """What there is for a child of one age: the chain's stages and their offers in reach."""

    origin: Origin = Field(description="the address, or the Gemeinde's main place (its census "
                                       "cell with the most children under 10)")
    gemeinde: str | None = Field(default=None, description="AGS when gemeinde= was asked")
    age: float = Field(description="years")
    mode: str
    weekday: str | None = None
    time: str | None = Field(default=None, description="HH:MM")
    hours_unknown: str = Field(description="the words for open = None, in the asked language")
    stages: list[FamilyStage]
