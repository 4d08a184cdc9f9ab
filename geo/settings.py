"""One typed configuration for Erreichbar: paths, regions, speeds and thresholds.

Every tunable lives here with its unit and why it has its value. Values can be set
by environment variables with the prefix ``ERREICHBAR_`` (e.g. ``ERREICHBAR_DATA_DIR``)
or by the CLI options, which override the environment.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Repository root (the folder holding ``pyproject.toml``); the default data directory
#: ``../shared/data`` is resolved against it, not against the working directory.
REPO_ROOT = Path(__file__).resolve().parent.parent


class TileSource(BaseModel):
    """An OpenMapTiles-style vector-tile set on disk (``{z}/{x}/{y}.pbf`` + metadata.json)."""

    path: str = Field(description="folder relative to the data directory")
    zoom: int = 14
    vintage: str = Field(description="OSM data date, e.g. '2021-08'")


class ContextFactSetting(BaseModel):
    """A county-level figure without a small-area source, quoted in the reports with its source."""

    label: str = Field(description="what it is, in German")
    year: int
    value: str = Field(description="the figure as printed, with unit")
    source: str = Field(description="who published it")


class FeedSource(BaseModel):
    """One official GTFS feed of a region (``erreichbar gtfs load --region R`` without a path).

    Downloaded when online into ``<work_dir>/raw/gtfs/<name>.zip`` (cached, revalidated by
    ETag / Last-Modified); offline a file placed there, else ``offline_copy``, is used.
    """

    name: str = Field(description="short id; prefixes the feed's ids when several are merged")
    title: str = Field(description="what the feed holds, in German")
    url: str = Field(description="published download URL of the GTFS zip")
    attribution: str = Field(description="licence and attribution the publisher asks for")
    offline_copy: str | None = Field(
        default=None, description="file in the data directory used when the download is not "
        "possible (relative path)")
    offline_note: str = Field(default="", description="how the offline copy differs")


class Region(BaseModel):
    """A study region: its county key and the data that covers it."""

    name: str
    title: str
    ags: str = Field(description="Amtlicher Gemeindeschlüssel of the county, e.g. '03159'")
    bbox: tuple[float, float, float, float] = Field(
        description="min_lon, min_lat, max_lon, max_lat (WGS84 degrees)"
    )
    tiles: TileSource | None = Field(default=None, description="default network tiles")
    city_tiles: TileSource | None = Field(
        default=None, description="newer tiles that cover part of the region"
    )
    geofabrik: str | None = Field(
        default=None, description="Geofabrik extract path holding the region"
    )
    own_youth_office: list[str] = Field(
        default_factory=list,
        description="AGS of municipalities with their own Jugendamt (excluded from the "
        "county's youth-office area)",
    )
    context_facts: list[ContextFactSetting] = Field(
        default_factory=list,
        description="county-level figures quoted in the reports' context box (never weights)")
    feeds: list[FeedSource] = Field(
        default_factory=list,
        description="official GTFS feeds covering the region, merged by `gtfs load --region`")


#: gtfs.de publishes DELFI's Germany-wide timetable split into local (buses, trams), regional
#: rail and long-distance rail, CC BY 4.0 (https://gtfs.de); clipped to a region on loading.
_GTFSDE = "https://download.gtfs.de/germany/{}/latest.zip"
_GTFSDE_ATTRIBUTION = "CC BY 4.0: DELFI e.V., GTFS.de, © OpenStreetMap contributors"


def _gtfsde_feeds(long_distance_copy: str | None = None,
                  local_copy: str | None = None, local_note: str = "") -> list[FeedSource]:
    """Return the three gtfs.de feeds (local, regional rail, long-distance), offline copies."""
    return [
        FeedSource(name="nv", title="Nahverkehr (Bus, Tram) Deutschland, gtfs.de",
                   url=_GTFSDE.format("nv_free"), attribution=_GTFSDE_ATTRIBUTION,
                   offline_copy=local_copy, offline_note=local_note),
        FeedSource(name="rv", title="Regionalverkehr (Bahn) Deutschland, gtfs.de",
                   url=_GTFSDE.format("rv_free"), attribution=_GTFSDE_ATTRIBUTION),
        FeedSource(name="fv", title="Fernverkehr (ICE/IC) Deutschland, gtfs.de",
                   url=_GTFSDE.format("fv_free"), attribution=_GTFSDE_ATTRIBUTION,
                   offline_copy=long_distance_copy,
                   offline_note="gtfs.de fv_free of 2025-11, only the trips calling in the "
                   "county's bbox (data README)" if long_distance_copy else ""),
    ]


GOETTINGEN = Region(
    name="goettingen",
    title="Landkreis Göttingen",
    ags="03159",
    bbox=(9.57, 51.38, 10.72, 51.93),
    tiles=TileSource(path="goettingen/osm-tiles-landkreis-2021", vintage="2021-08"),
    city_tiles=TileSource(path="goettingen/osm-tiles", vintage="2026-08"),
    geofabrik="europe/germany/niedersachsen",
    own_youth_office=["03159016"],
    context_facts=[ContextFactSetting(
        label="Anteil der Kinder unter 10 Jahren in SGB-II-Bedarfsgemeinschaften",
        year=2014, value="ca. 17 %",
        source="Landkreis Göttingen, Präventionskette (eigene Angabe des Landkreises)")],
    feeds=_gtfsde_feeds(long_distance_copy="germany/gtfs/gtfsde_fernverkehr_goettingen_2025-11.zip"),
)

#: Enzkreis (Baden-Württemberg): the region of the real VPE test timetable
#: (``germany/gtfs/vpe_enzkreis_2025.zip``). No network tiles and no offers exist for it in
#: the data directory: it serves the public-transport tests and users of the VPE feed
#: (boundaries and Zensus grids come from the Germany-wide files).
ENZKREIS = Region(
    name="enzkreis",
    title="Enzkreis",
    ags="08236",
    bbox=(8.50, 48.79, 8.90, 49.01),
    feeds=_gtfsde_feeds(local_copy="germany/gtfs/vpe_enzkreis_2025.zip",
                        local_note="stand-in: only the VPE regional and community buses of "
                        "2024/25 (Axelhka/WS2425_App_Abgabe), not all of gtfs.de nv_free"),
)


class WalkSpeeds(BaseModel):
    """Walking speed in km/h. 4.8 km/h (1.33 m/s) is r5's and Conveyal's default."""

    default: float = 4.8
    steps: float = 2.4


class BikeSpeeds(BaseModel):
    """Cycling speed in km/h (12 km/h: r5 default, an everyday adult with a child seat)."""

    default: float = 12.0
    #: pushing the bike on footways and steps (German StVO: footways are not for cycling)
    push: float = 4.8
    steps: float = 2.0
    #: unpaved tracks: slower than asphalt
    track: float = 10.0


class CarSpeeds(BaseModel):
    """Car speed in km/h per road class, outside and inside built-up areas.

    German general limits: 100 km/h outside and 50 km/h inside built-up areas (StVO §3);
    motorways have no general limit (130 km/h advisory). The values are typical free-flow
    averages, lower than the legal limits on small roads. A ``maxspeed`` tag, where the
    data has one, wins over the class value (capped at the class rural value for motorways).
    Urban = the edge's midpoint lies in a residential/commercial/industrial/retail
    landuse area of the tiles (the built-up area approximated by OSM landuse).
    """

    rural: dict[str, float] = Field(
        default_factory=lambda: {
            "motorway": 120.0, "trunk": 100.0, "primary": 90.0, "secondary": 80.0,
            "tertiary": 70.0, "minor": 50.0, "service": 20.0, "track": 15.0,
        }
    )
    urban: dict[str, float] = Field(
        default_factory=lambda: {
            "motorway": 100.0, "trunk": 60.0, "primary": 50.0, "secondary": 50.0,
            "tertiary": 45.0, "minor": 30.0, "service": 15.0, "track": 10.0,
        }
    )
    #: ramps/links get this share of their class speed
    link_factor: float = 0.7


class CensusSettings(BaseModel):
    """Which census the population grids come from, and how it is named in every output.

    Offline, the data directory holds the **Zensus 2011** grids (census day 09.05.2011; the
    1 km inhabitants of Germany add up to 80,212,528, the 2011 result). Online,
    ``erreichbar layers download`` fetches the Zensus 2022 grids from Destatis; then set
    ``census=zensus2022`` (environment ``ERREICHBAR_CENSUS__NAME``) to read those.
    """

    name: Literal["zensus2011", "zensus2022"] = Field(
        default="zensus2011", description="census the grids are read from")
    download_url: str = Field(
        default="https://www.destatis.de/static/DE/zensus/gitterdaten",
        description="Destatis folder of the Zensus 2022 grid downloads (one zipped CSV per "
        "feature, e.g. Zensus2022_Bevoelkerungszahl.zip); used by `erreichbar layers download`")

    @property
    def title(self) -> str:
        """Display name, e.g. ``Zensus 2011``."""
        return f"Zensus {self.year}"

    @property
    def year(self) -> int:
        """Census year."""
        return int(self.name.removeprefix("zensus"))

    @property
    def census_day(self) -> dt.date:
        """Reference day of the counts (Stichtag)."""
        return CENSUS_DAYS[self.name]

    @property
    def folder(self) -> Path:
        """Folder of the Germany-wide grids.

        Relative to the data directory (offline) or the download cache (online).
        """
        return Path("germany") / self.name

    @property
    def attribution(self) -> str:
        """Attribution required by the licence (dl-de/by-2.0)."""
        return f"© Statistisches Bundesamt (Destatis), {self.title}"


#: Census reference days (Stichtage) of the German censuses.
CENSUS_DAYS: dict[str, dt.date] = {"zensus2011": dt.date(2011, 5, 9),
                                   "zensus2022": dt.date(2022, 5, 15)}


class PopulationSettings(BaseModel):
    """Current population totals that the census cells are scaled to.

    The census grid is years old; a county knows its current totals per Gemeinde or unit.
    With ``own_file`` set, the census cells inside each area are scaled to the area's total
    (their distribution kept): see :mod:`geo.sources.population_table`.
    """

    own_file: Path | None = Field(
        default=None,
        description="the county's own population table (CSV/XLSX: key = Gemeinde AGS, unit "
        "ARS or unit name; children_under_10 and/or inhabitants; date), environment "
        "ERREICHBAR_POPULATION__OWN_FILE; None = census counts unscaled")


class NetworkSettings(BaseModel):
    """How tiles become a routable graph."""

    #: vertices closer than this (metres) are one node; z14 tiles are quantised to
    #: ~0.37 m per unit at 51.5°N, so 1 m absorbs the rounding of both neighbours.
    snap_tolerance_m: float = 1.0
    #: worker processes for tile decoding (None = all cores)
    workers: int | None = None


class OfferSettings(BaseModel):
    """How offers are imported, checked and merged."""

    #: an offer may lie this far (metres) outside the county polygon and still count as
    #: inside: VG5000 is generalised for 1:5,000,000 and its borders are off by up to
    #: several hundred metres, so real offers near the border would otherwise be refused.
    region_tolerance_m: float = 1000.0
    #: a 2021 and a 2026 tile POI of the same category are one place when they lie within
    #: this distance (metres) and have the same name (or within a third of it, unnamed);
    #: 100 m covers a POI moving from a building centroid to its entrance.
    match_distance_m: float = 100.0
    #: worker processes for decoding the POI tiles (None = all cores)
    workers: int | None = None
    #: a county's own offer list (CSV/XLSX/GeoJSON, see geo/sources/data/offer_template.csv) that
    #: every job adds to the default catalogue (environment: ERREICHBAR_OFFERS__OWN_FILE)
    own_file: Path | None = None
    #: OSM tags a Hort (after-school care of primary-school children) as
    #: ``amenity=kindergarten``: such a POI whose name matches this case-insensitive regular
    #: expression ("Hort an der Hainbundschule", "Horte Brüder-Grimm-Schule", "Hortgruppe
    #: GDA", "Kinderhort …"; not "Hortensienweg") is an offer of category ``hort``, not ``kita``
    hort_pattern: str = r"\b(?:schul|kinder)?hort(?:e|gruppe)?\b"
    #: … unless its name also matches this: a Kita with a Hort group ("Kindertagesstätte
    #: Weende-Nord / AWO Hainbund-Hort") is a mixed house and stays a Kita
    hort_unless: str = r"kita|kindergarten|kindertages|familienzentrum"
    #: categories whose offers are merged when two lie within ``match_distance_m`` with the
    #: same name (geo.sources.offer_quality.dedupe; the newer source wins)
    dedupe_categories: tuple[str, ...] = ("kita", "hort")
    #: a Gemeinde whose active Kitas per 100 children under 10 fall below this share of the
    #: county median is flagged "Kita-Daten vermutlich unvollständig" (offer_quality.completeness)
    completeness_share: float = Field(default=0.7, gt=0, le=1)


class AccessSettings(BaseModel):
    """How homes and offers join the network, and which travel times are reported.

    The access leg from a point (cell centre, offer, query point) to its nearest node of
    the mode's network is the straight line times ``detour_factor`` at the mode's access
    speed: walking 4.8 km/h, cycling 12 km/h (the mode's default speeds) and, by car,
    15 km/h (the urban ``service`` road speed: driveways and parking lanes).
    """

    detour_factor: float = Field(
        default=1.3, ge=1.0,
        description="metres travelled per crow-fly metre on the access leg; 1.3 is the usual "
        "network-to-straight ratio of short trips (detour indices 1.2–1.4 in the literature)",
    )
    snap_max_m: float = Field(
        default=1000.0, gt=0,
        description="points farther than this (metres, EPSG:3035) from every node of the "
        "mode's network are 'not connected': reported, never dropped. A 1 km Zensus cell's "
        "houses may lie ~700 m (half its diagonal) from its centre; 1 km leaves room for that",
    )
    thresholds_min: tuple[int, ...] = Field(
        default=(5, 10, 15, 20, 30), description="coverage thresholds, minutes")
    white_spot_min: int = Field(
        default=15, gt=0,
        description="the one white-spot definition, with white_spot_mode: people needing "
        "longer than this (minutes) to the nearest active offer of a category live in a "
        "white spot of that category. Maps, reports and the API use it and state it")
    white_spot_mode: Literal["walk", "bike"] = Field(
        default="walk",
        description="mode of the white-spot definition: on foot, the way families without "
        "a car and without a bike seat for two children reach a daily offer")
    nearest_max_min: float = Field(
        default=60.0, gt=0,
        description="k-nearest answers list offers reachable within this time (minutes); "
        "the search radius of the precomputed nearest-offer tables (pandana's maxdist)")
    k_max: int = Field(default=5, ge=1, le=10, description="most nearest offers per query")
    isochrone_buffer_m: float = Field(
        default=50.0, gt=0,
        description="reachable street pieces are buffered by this (metres) to become "
        "isochrone polygons: the houses along a street, not the fields behind them")
    e2sfca_zones_min: tuple[float, ...] = Field(
        default=(10.0, 20.0, 30.0),
        description="E2SFCA travel-time zones (upper bounds, minutes; Luo & Qi 2009)")
    e2sfca_weights: tuple[float, ...] = Field(
        default=(1.0, 0.68, 0.22),
        description="E2SFCA weight per zone (Gaussian, Luo & Qi 2009)")


class TransitSettings(BaseModel):
    """Public transport: walking to, from and between stops, transfer bounds, time windows.

    Until the street walk network is plugged in, walks are crow-fly distances times
    ``detour_factor`` at ``walk_speed_kmh``. 1.3 is the usual ratio of network to straight
    distance for short urban/rural walks (network detour indices of 1.2–1.4 in the
    literature); r5 and OpenTripPlanner use 1.33 m/s (4.8 km/h) for walking.
    """

    walk_speed_kmh: float = Field(default=4.8, gt=0, description="walk speed, km/h")
    detour_factor: float = Field(
        default=1.3, ge=1.0, description="walked metres per crow-fly metre"
    )
    max_walk_m: float = Field(
        default=800.0, ge=0,
        description="longest single walk (access, egress, one transfer), crow-fly metres",
    )
    max_transfers: int = Field(default=3, ge=0, le=10, description="changes of vehicle")
    board_slack_s: int = Field(
        default=60, ge=1,
        description="seconds needed at a stop before a vehicle's departure (r5: 60 s); "
        "also makes same-second transfers impossible",
    )
    max_travel_s: int = Field(
        default=3 * 3600, gt=0,
        description="travel times longer than this (seconds) count as unreachable",
    )
    date: dt.date | None = Field(
        default=None,
        description="service day of transit surfaces and coverage; None = the feed's first "
        "Tuesday with the full weekday timetable (geo.transit.timetable.default_date)",
    )
    window_start_s: int = Field(default=7 * 3600, description="default window start, "
                                "seconds after midnight (07:00)")
    window_end_s: int = Field(default=9 * 3600, description="default window end (09:00)")
    window_step_s: int = Field(default=60, gt=0, description="departure every minute (R5)")
    stop_matrix_max_bytes: int = Field(
        default=2_000_000_000, gt=0,
        description="largest stop-to-stop matrix kept for transit what-if and supply, bytes "
        "(stops² × departures × 2: the Enzkreis 23 MB, 2,000 stops × 134 departures 1.1 GB)")
    clip_margin_m: float = Field(
        default=5000.0, ge=0,
        description="halo around the county polygon, metres: trips calling at a stop inside "
        "it are kept when clipping a feed (whole, so lines that leave and re-enter the "
        "region stay connected)",
    )


class DownloadSettings(BaseModel):
    """Where and how ``erreichbar network download`` fetches OSM extracts."""

    #: Geofabrik's server; extracts are ``<url>/<region.geofabrik>-latest.osm.pbf``
    geofabrik_url: str = "https://download.geofabrik.de"
    #: Overpass API endpoint (osmnx's default server)
    overpass_url: str = "https://overpass-api.de/api/interpreter"
    #: seconds to wait for a connection or the next bytes of a response
    timeout_s: float = 60.0
    #: server-side Overpass limit (seconds); a county's streets take 1–3 minutes
    overpass_timeout_s: int = 900
    #: servers ask clients to identify themselves (Geofabrik, Overpass usage policies)
    user_agent: str = "erreichbar/0.1 (travel-time accessibility; python-httpx)"


class ReportSettings(BaseModel):
    """Settings of the reports, the transition view and the site search.

    What the mobility reports (``erreichbar report``), the Kita → Grundschule transition
    view and the best-new-site search show and assume.
    """

    thresholds_min: tuple[int, ...] = Field(
        default=(10, 15, 20, 30), description="coverage thresholds of the reports, minutes")
    categories: tuple[str, ...] = Field(
        default=("kita", "grundschule", "hort", "familienzentrum", "fruehe_hilfen", "beratung",
                 "familienbildung"),
        description="offer categories of the coverage tables (the prevention chain's core)")
    map_categories: tuple[str, ...] = Field(
        default=("kita", "grundschule", "familienzentrum"),
        description="categories with a static map and a white-spot table")
    white_spot_rows: int = Field(
        default=12, ge=1, description="places listed per white-spot table (most children first)")
    place_classes: tuple[str, ...] = Field(
        default=("city", "town", "village", "suburb", "quarter", "neighbourhood", "hamlet",
                 "isolated_dwelling"),
        description="OSM place classes that name white spots (field names and localities "
        "are left out: nobody lives there by name)")
    transition_mode: Literal["walk", "bike", "car"] = Field(
        default="walk", description="mode of the Kita → Grundschule distance check")
    transition_max_min: float = Field(
        default=15.0, gt=0,
        description="a child's nearest Kita and nearest Grundschule further apart than this "
        "(minutes, transition mode) count as a difficult transition")
    site_candidate_spacing_m: float = Field(
        default=500.0, gt=0,
        description="network-node candidates for new sites are thinned to one per square of "
        "this size (metres, EPSG:3035): a site's exact street corner matters less than its "
        "village, and the coverage matrix stays small")
    sites_k: int = Field(default=3, ge=1, le=20, description="new sites proposed per report")
    site_nearby_m: float = Field(
        default=500.0, gt=0,
        description="before a site is proposed, the named offers of its category within this "
        "distance (metres, EPSG:3035) are listed: the data may lack a Kita that is there")
    partner_rows: int = Field(
        default=8, ge=1, description="partners listed per Familienzentrum (nearest first)")


class MapSettings(BaseModel):
    """Folium maps written by ``erreichbar maps build`` (see :mod:`geo.products.maps`)."""

    out_dir: Path = Field(default=REPO_ROOT / "maps", description="folder of the HTML maps")
    categories: tuple[str, ...] = Field(
        default=("kita", "grundschule", "hort", "familienzentrum", "fruehe_hilfen", "beratung",
                 "familienbildung"),
        description="categories that get a map per mode (the child-specific ones; doctors "
        "and playgrounds are in the API)")
    breaks_min: tuple[int, ...] = Field(
        default=(5, 10, 15, 20, 30, 45, 60),
        description="upper bounds of the colour classes of the travel-time surface, minutes")
    base_map_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="optional online base map (off by default: maps render without internet)")


class BaseMapSettings(BaseModel):
    """The offline base map drawn from the region's vector tiles (:mod:`geo.products.basemap`).

    Zooms are Web Mercator tile zooms (256-pixel tiles): 8 shows the county on a phone,
    9–10 on a desktop, 15 a neighbourhood's streets, 17 single houses.
    """

    min_zoom: int = Field(default=8, ge=0, le=22, description="first zoom with tiles")
    max_zoom: int = Field(default=17, ge=0, le=22, description="last zoom with tiles")
    prebuild_max_zoom: int = Field(
        default=12, ge=0, le=22,
        description="tiles up to this zoom are drawn by `erreichbar basemap build`; higher "
        "zooms are drawn on the first request and kept on disk")
    supersample: int = Field(default=2, ge=1, le=4,
                             description="drawing scale before smoothing down (1 = none)")
    street_label_zoom: int = Field(default=15, ge=0, le=22,
                                   description="first zoom with street names")
    max_labels: int = Field(default=150, ge=1, le=1000,
                            description="most labels in one /basemap/labels answer")
    max_age_s: int = Field(default=86_400, ge=0,
                           description="Cache-Control max-age of tiles and labels, seconds")
    max_image_px: int = Field(default=4096, ge=64,
                              description="largest side of a render_image picture, pixels")


class ChainStage(BaseModel):
    """One stage of the prevention chain (Präventionskette): who, which offers, how far.

    Ages are years, the stage's range half-open ``[age_from, age_to)``; an offer belongs to
    the stage when its own range (``[age_from, age_to]`` of the offer, else of its name rule
    or category, :class:`ChainSettings`) overlaps it: ``offer_from < age_to`` and
    ``offer_to > age_from``.
    """

    key: str = Field(description="machine name, e.g. 'krippe'")
    label: str | None = Field(
        default=None, description="German label; None = the 'stage' label of "
        "the message table geo.messages (labels.stage.<key>)")
    age_from: float = Field(ge=0, description="years, inclusive (pregnancy counts as 0)")
    age_to: float = Field(gt=0, description="years, exclusive")
    categories: tuple[str, ...] = Field(description="offer categories of the stage")
    budget_min: float = Field(
        gt=0, description="time budget, minutes: 15 for daily offers (Kita, school), 30 for "
        "weekly ones (counselling, family education, meeting points)")
    kind: Literal["offers", "transition"] = Field(
        default="offers",
        description="'offers': reach the stage's offers; 'transition': the Kita → Grundschule "
        "transition of geo.products.transition (a child's nearest Kita and nearest Grundschule "
        "in the same Gemeinde and at most budget_min apart)")


class NameAgeRule(BaseModel):
    """Ages told by an offer's name where the catalogue has none.

    OSM tags a Krippe as ``amenity=kindergarten``: a name matching ``pattern``
    (case-insensitive regular expression) and not ``unless`` gets ``[age_from, age_to]``
    years (``age_source`` = ``name``). (Horte are a category of their own, ``hort``:
    :attr:`OfferSettings.hort_pattern`.)
    """

    category: str
    pattern: str
    unless: str = Field(default=r"kita|kindergarten|kindertages|familienzentrum",
                        description="names that also match this are mixed houses: no rule")
    age_from: float = Field(ge=0)
    age_to: float = Field(ge=0)


class ChainSettings(BaseModel):
    """The stages of the prevention chain and how their gaps are judged.

    Used by ``erreichbar chain``, ``erreichbar actors`` and ``erreichbar guide``
    (:mod:`geo.products.chain`, :mod:`geo.products.actors`, :mod:`geo.products.guide`).
    """

    stages: tuple[ChainStage, ...] = Field(default=(
        ChainStage(key="fruehe_hilfen", age_from=0, age_to=1, categories=("fruehe_hilfen",),
                   budget_min=30),
        ChainStage(key="krippe", age_from=1, age_to=3, categories=("kita",), budget_min=15),
        ChainStage(key="kindergarten", age_from=3, age_to=6, categories=("kita",),
                   budget_min=15),
        ChainStage(key="uebergang", age_from=5, age_to=7, categories=("kita", "grundschule"),
                   budget_min=15, kind="transition"),
        ChainStage(key="grundschule", age_from=6, age_to=10, categories=("grundschule", "hort"),
                   budget_min=15),
        ChainStage(key="alle", age_from=0, age_to=18,
                   categories=("familienzentrum", "beratung", "familienbildung"),
                   budget_min=30),
    ), description="the stages, in the order of a child's life")
    category_ages: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "fruehe_hilfen": (0.0, 3.0), "kita": (0.0, 6.0), "grundschule": (6.0, 10.0),
            "hort": (6.0, 10.0), "schule": (10.0, 18.0), "familienzentrum": (0.0, 18.0),
            "beratung": (0.0, 18.0), "familienbildung": (0.0, 18.0), "gesundheit": (0.0, 18.0),
            "freizeit": (0.0, 18.0)},
        description="default age range [from, to] (years) of an offer without its own: Frühe "
        "Hilfen from pregnancy to 3 (NZFH), Krippe + Kindergarten to school entry, Grundschule "
        "and Hort classes 1–4, the rest for all minors")
    name_ages: tuple[NameAgeRule, ...] = Field(default=(
        NameAgeRule(category="kita", pattern=r"krippe", age_from=0.0, age_to=3.0),
    ), description="ages from offer names (Krippe: under-threes)")
    gap_share: float = Field(
        default=0.5, gt=0, le=1,
        description="a stage is a gap (broken link) of a Gemeinde when fewer than this share "
        "of its children under 10 reach an offer of the stage within the budget")
    modes: tuple[str, ...] = Field(
        default=("walk", "bike", "transit"),
        description="modes without a car; transit only when a timetable is loaded")
    map_mode: Literal["walk", "bike"] = Field(
        default="bike", description="mode of the chain map and the family guide's selection")
    actor_mode: Literal["walk", "bike"] = Field(
        default="bike", description="mode of the travel times between Familienzentren")
    actor_near_min: float = Field(
        default=15.0, gt=0,
        description="Familienzentren at most this far apart (minutes, actor mode) are close")
    actor_link_max_min: float = Field(
        default=30.0, gt=0,
        description="pairs of Familienzentren at most this far apart (minutes) or with touching "
        "catchments are links of the network (GraphML, GeoJSON, map)")
    partner_categories: tuple[str, ...] = Field(
        default=("kita", "grundschule", "hort", "schule", "fruehe_hilfen", "beratung",
                 "familienbildung", "gesundheit"),
        description="categories of potential partners of a Familienzentrum")
    guide_max_min: float = Field(
        default=90.0, gt=0,
        description="the family guide's minutes from the main place are searched this far; "
        "longer trips read 'über N min'")


class ApiSettings(BaseModel):
    """The query API (``erreichbar serve``, :mod:`api.main`)."""

    host: str = Field(default="127.0.0.1", description="bind address (loopback: not public)")
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=1, ge=1,
        description="uvicorn worker processes; each loads the engine (≈0.6 GB) and answers "
        "/nearest with routes at ≈100 req/s on one core (bench/bench_api.py)")
    warm_up: bool = Field(
        default=True,
        description="compute every category × mode nearest table at startup in a background "
        "thread (≈2 s each) so that the first /nearest of each is fast too")
    max_scenario_sites: int = Field(default=20, ge=1, description="added sites per scenario")
    max_body_bytes: int = Field(
        default=65_536, ge=1024,
        description="largest request body (bytes); larger bodies are refused with 413. 64 kB "
        "holds 200 best-site candidates or 200 offer ids many times over")
    echo_chars: int = Field(
        default=200, ge=20,
        description="error answers quote at most this many characters of the input")
    heavy_slots: int = Field(
        default=1, ge=1,
        description="heavy requests (isochrones, coverage, scenarios, best sites, "
        "there-and-back) computed at once per worker process, each in its own thread; "
        "one more is refused at once with 503 and Retry-After instead of queueing. 1 on "
        "2 cores leaves a core to /nearest (bench/bench_api_load.py: 2 slots gave no more "
        "heavy answers per minute, a higher memory peak and slower /nearest)")
    threads: int = Field(
        default=8, ge=2,
        description="worker threads of the plain-def endpoints (/nearest and the heavy "
        "ones; the server's default is 40): each new thread pays a one-time set-up of "
        "≈ 50 ms in the engine's first coordinate transformation, so 40 of them at once "
        "stalled /nearest for 2 s; 8 serve ≈ 800 /nearest per second at 10 ms each")
    retry_after_s: int = Field(
        default=5, ge=1, description="Retry-After (seconds) of a 503 when every heavy slot "
        "is busy: about the time of a county-wide car isochrone")
    isochrone_simplify_m: float = Field(
        default=25.0, ge=0,
        description="isochrone outlines are simplified to this tolerance (metres, EPSG:3035; "
        "half the street buffer AccessSettings.isochrone_buffer_m, so no reached street "
        "leaves its polygon by more than this)")
    isochrone_max_minutes: dict[str, float] = Field(
        default_factory=lambda: {"walk": 180.0, "bike": 120.0, "car": 90.0, "transit": 180.0},
        description="per mode, the largest sum of the budgets of one /isochrones request "
        "(minutes): each budget is its own polygon, and a car reaches the whole county in "
        "about an hour, so six car budgets near 60 min cost six county-wide polygons. "
        "Larger sums are refused with 422 naming minutes")
    isochrone_max_bytes: int = Field(
        default=8_000_000, ge=1000,
        description="largest /isochrones answer (bytes of JSON); a larger one is refused with "
        "422 naming minutes (ask fewer or smaller budgets)")
    best_sites_max_work: int = Field(
        default=1000, ge=1,
        description="/scenarios/best-sites: largest number of candidates × k (given "
        "candidates); the default street-node candidates are bounded by "
        "ReportSettings.site_candidate_spacing_m and best_sites_max_minutes")
    best_sites_max_minutes: dict[str, float] = Field(
        default_factory=lambda: {"walk": 30.0, "bike": 15.0, "car": 10.0},
        description="/scenarios/best-sites: largest time budget per mode (minutes); each of "
        "the ≈6,000–8,000 street-node candidates gets a bounded Dijkstra that grows with the "
        "reached area: Frühe Hilfen (the sparsest category) at these budgets take 12–20 s, "
        "bike 20 min 45 s, car 15 min 90 s (2 cores shared)")


class PlannerSettings(BaseModel):
    """The planners' workspace ``/planung`` (:mod:`geo.products.scenarios`)."""

    folder: str = Field(
        default="scenarios",
        description="saved scenarios live in <work_dir>/processed/<region>/<folder>/, one "
        "JSON file each (written atomically)")
    name_max_chars: int = Field(default=80, ge=1, description="longest scenario name")
    file_max_bytes: int = Field(
        default=16_384, ge=1024,
        description="largest scenario file (bytes); 20 added sites and 200 closed offers "
        "need about 8 kB")
    max_scenarios: int = Field(
        default=1000, ge=1, description="most saved scenarios; saving more is refused")
    max_minutes: int = Field(
        default=60, ge=1, le=120, description="largest time budget of a scenario, minutes")
    max_remove: int = Field(default=200, ge=1, description="most closed offers per scenario")


class LimitSettings(BaseModel):
    """Size limits on user-supplied files and downloads.

    Hostile or broken inputs are refused with a message before they can exhaust memory or
    disk (zip bombs, a cell at XFD1048576).

    Every limit can be raised through the environment, e.g.
    ``ERREICHBAR_LIMITS__OFFER_MAX_ROWS=500000``.
    """

    offer_file_max_bytes: int = Field(
        default=50_000_000, gt=0,
        description="largest offer file (CSV/XLSX/GeoJSON), bytes: 200,000 rows of ~250 "
        "bytes; a county's list is a few hundred kB")
    offer_max_rows: int = Field(
        default=200_000, gt=0,
        description="most data rows (or GeoJSON features) of an offer file: ten times "
        "Germany's ≈60,000 Kitas and ≈32,000 schools together, and checked in seconds")
    offer_max_columns: int = Field(
        default=200, gt=0,
        description="most columns of an offer file; the template has 19 (plus notes)")
    cell_max_chars: int = Field(
        default=10_000, gt=0,
        description="longest text of one cell (characters); longer is that row's error. "
        "Names, addresses and opening hours are far shorter")
    xlsx_max_unpacked_bytes: int = Field(
        default=500_000_000, gt=0,
        description="most bytes the XML inside an .xlsx may unpack to (a 200,000-row sheet "
        "of the template is ≈200 MB)")
    zip_max_members: int = Field(
        default=1_000, gt=0,
        description="most members of a zip archive (.xlsx ≈10–50, GTFS ≈10–20)")
    zip_max_ratio: float = Field(
        default=200.0, gt=1,
        description="most unpacked bytes per compressed byte of a zip member above 1 MB: "
        "text compresses 5–20 : 1, DEFLATE bombs ≈1000 : 1")
    gtfs_max_bytes: int = Field(
        default=1_000_000_000, gt=0,
        description="largest GTFS zip, bytes (also the download cap): Germany-wide feeds "
        "(DELFI, gtfs.de) are 200–600 MB")
    gtfs_max_unpacked_bytes: int = Field(
        default=5_000_000_000, gt=0,
        description="most bytes a GTFS feed may unpack to (zip) or hold (folder): "
        "Germany-wide ≈2–4 GB; gtfs-kit holds it in memory several times over")
    osm_download_max_bytes: int = Field(
        default=8_000_000_000, gt=0,
        description="largest OSM extract download, bytes: Geofabrik's Germany is ≈4.5 GB, "
        "Lower Saxony ≈0.7 GB")
    census_download_max_bytes: int = Field(
        default=2_000_000_000, gt=0,
        description="largest Zensus 2022 grid archive download (Destatis, ``erreichbar layers "
        "download``), bytes; a generous cap, the transfer stops beyond it")


class BatchSettings(BaseModel):
    """Many regions as Dask tasks (``erreichbar batch``, :mod:`geo.products.batch`).

    Each region is computed with a halo: its network, offers and routes extend this far
    beyond its border, so that families near the edge see the offers across it. The halo
    is ``max(AccessSettings.thresholds_min)`` minutes at the fastest speed of the modes
    run (the fastest edge of their networks) plus ``AccessSettings.snap_max_m``, capped.
    """

    halo_cap_m: float = Field(
        default=65_000.0, ge=0,
        description="largest halo (metres). 30 min by car at 120 km/h plus the 1 km snap "
        "cut-off is 61 km: the default leaves every mode's halo sufficient")
    workers: int = Field(default=2, ge=1, description="LocalCluster worker processes")
    retries: int = Field(
        default=1, ge=0, description="retries of a failed region task before it is reported")
    memory_limit: str = Field(
        default="3GB", description="LocalCluster memory limit per worker (Dask syntax)")


class Settings(BaseSettings):
    """All settings. Environment: ``ERREICHBAR_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ERREICHBAR_", env_nested_delimiter="__")

    data_dir: Path = Field(
        default=REPO_ROOT.parent / "shared" / "data",
        description="folder with the real input data (default ../shared/data)",
    )
    work_dir: Path = Field(
        default=REPO_ROOT / "data",
        description="holds raw/ (downloads) and processed/ (built data)",
    )
    region: str = "goettingen"
    census: CensusSettings = CensusSettings()
    population: PopulationSettings = PopulationSettings()
    walk: WalkSpeeds = WalkSpeeds()
    bike: BikeSpeeds = BikeSpeeds()
    car: CarSpeeds = CarSpeeds()
    network: NetworkSettings = NetworkSettings()
    access: AccessSettings = AccessSettings()
    transit: TransitSettings = TransitSettings()
    offers: OfferSettings = OfferSettings()
    download: DownloadSettings = DownloadSettings()
    maps: MapSettings = MapSettings()
    api: ApiSettings = ApiSettings()
    report: ReportSettings = ReportSettings()
    limits: LimitSettings = LimitSettings()
    chain: ChainSettings = ChainSettings()
    planner: PlannerSettings = PlannerSettings()
    batch: BatchSettings = BatchSettings()
    basemap: BaseMapSettings = BaseMapSettings()

    @property
    def raw_dir(self) -> Path:
        """Download cache folder."""
        return self.work_dir / "raw"

    @property
    def processed_dir(self) -> Path:
        """Built-data folder."""
        return self.work_dir / "processed"


#: Known regions by name.
REGIONS: dict[str, Region] = {r.name: r for r in (GOETTINGEN, ENZKREIS)}


def get_region(name: str) -> Region:
    """Return the region called ``name`` or raise a RegionError listing the known ones."""
    from geo.errors import RegionError

    try:
        return REGIONS[name]
    except KeyError:
        raise RegionError(
            f"unknown region {name!r}; known regions: {', '.join(sorted(REGIONS))}"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (environment read once)."""
    return Settings()
