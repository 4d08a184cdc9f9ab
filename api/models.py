"""Pydantic request and response models of the API (GeoJSON where the answer is a map layer).

Coordinates are WGS84 degrees ``[lon, lat]``; times are minutes; distances metres.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from geo.vocabulary import Category, StreetMode, Weight


class Problem(BaseModel):
    """One reason a request was refused."""

    loc: list[str] = Field(description="where: ['query', field] or ['body', field, …]")
    msg: str = Field(description="what is wrong, in words")
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
                              description="open at the requested open_at (None: hours unknown "
                                          "or not asked)")
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
    precision: str | None = Field(default=None, description="address, street or place")


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


class NearestAnswer(BaseModel):
    """The k nearest offers of one point."""

    origin: Origin
    category: str
    mode: str
    max_minutes: float = Field(description="offers beyond this travel time are not listed")
    results: list[NearestOffer]


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
    mode: StreetMode = Field(default=StreetMode.walk)
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
