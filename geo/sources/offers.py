"""The offer catalogue of the prevention chain: model, import/export, and the real default offers.

One :class:`Offer` is one place where families find help: a Kita, a school, a family
centre, a counselling service, a doctor, a playground. Offers are read from CSV, GeoJSON
or Excel (:func:`read_offer_file`; the template is ``geo/sources/data/offer_template.csv``,
German headers accepted) and written to GeoJSON, GeoParquet or CSV (:func:`write_offers`).

The default catalogue of a region (:func:`load_offers`) is built only from real files in
the data directory:

* schools from the Lower Saxony school register (jedeschule.de, 2017), one offer per school;
* Familienzentren, counselling, Frühe Hilfen and family education from the hand-compiled
  ``offers_familie_sources.csv`` (status and geocode precision kept);
* Kitas, libraries, playgrounds and doctors from the ``poi`` layer of the OSM vector tiles:
  the county tiles (2021) everywhere, replaced by the newer city tiles (2026) where those
  exist; what changed between the two is reported by :func:`merge_tile_pois`.
"""

from __future__ import annotations

import json
import logging
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from opening_hours import OpeningHours
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pyproj import Transformer

from geo._io import atomic_path
from geo.errors import DataError
from geo.settings import Settings, TileSource, get_region, get_settings
from geo.sources.boundaries import load_units
from geo.vocabulary import METRIC_CRS, Category, Status

log = logging.getLogger(__name__)


class GeocodePrecision(StrEnum):
    """How exactly an offer's coordinates locate it."""

    exact = "exact"  #: given by the provider (imported files)
    poi = "poi"  #: an OSM point of interest
    address = "address"  #: an OSM house number on the named street
    street = "street"  #: somewhere on the named street
    town = "town"  #: the town centre only
    rounded = "rounded"  #: rounded to 3 decimals (±100 m), e.g. the school register


#: Accepted spellings of categories (after :func:`_key`), German labels included.
CATEGORY_ALIASES: Final[dict[str, Category]] = {
    **{c.value: c for c in Category},
    "kindergarten": Category.kita, "kindertagesstaette": Category.kita,
    "krippe": Category.kita, "kinderkrippe": Category.kita,
    "schule_sonstige": Category.schule,
    "familienzentren": Category.familienzentrum,
    "fruehe_hilfe": Category.fruehe_hilfen,
    "erziehungsberatung": Category.beratung,
    "familienbildungsstaette": Category.familienbildung,
}

#: Column aliases: normalised header (see :func:`_key`) → model field.
COLUMN_ALIASES: Final[dict[str, str]] = {
    "bezeichnung": "name", "kategorie": "category", "art": "category",
    "unterkategorie": "subcategory", "traeger": "traeger", "anbieter": "traeger",
    "strasse": "street", "hausnummer": "housenumber", "hausnr": "housenumber",
    "plz": "postcode", "postleitzahl": "postcode", "ort": "town", "gemeinde": "town",
    "breite": "lat", "breitengrad": "lat", "latitude": "lat",
    "laenge": "lon", "laengengrad": "lon", "longitude": "lon", "lng": "lon",
    "alter_von": "age_from", "alter_bis": "age_to", "oeffnungszeiten": "opening_hours",
    "plaetze": "capacity", "kapazitaet": "capacity", "sprachen": "languages",
    "kontakt": "contact", "kinderspezifisch": "child_specific",
    "quelle": "source", "stand": "source_date", "quellendatum": "source_date",
    "genauigkeit": "geocode_precision",
}

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _key(text: str) -> str:
    """Normalise a header or label: lower case, umlauts spelled out, separators → ``_``."""
    text = text.strip().lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


class Offer(BaseModel):
    """One offer of the prevention chain (one row of the catalogue)."""

    id: str = Field(min_length=1, description="stable identifier")
    name: str = Field(min_length=1)
    category: Category
    subcategory: str | None = Field(default=None, description="e.g. school type, 'library'")
    traeger: str | None = Field(default=None, description="provider (Träger)")
    street: str | None = None
    housenumber: str | None = None
    postcode: str | None = None
    town: str | None = None
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    age_from: float | None = Field(default=None, ge=0, le=120, description="years")
    age_to: float | None = Field(default=None, ge=0, le=120, description="years")
    opening_hours: str | None = Field(default=None, description="OSM opening_hours syntax")
    capacity: int | None = Field(default=None, ge=0, description="places")
    languages: str | None = Field(default=None, description="'; '-separated, e.g. 'de; tr'")
    contact: str | None = None
    child_specific: bool = Field(
        default=True, description="False for general offers (doctors, libraries, playgrounds)")
    status: Status = Status.active
    geocode_precision: GeocodePrecision | None = None
    source: str = Field(min_length=1, description="where the offer is documented")
    source_date: str | None = Field(default=None, description="YYYY, YYYY-MM or YYYY-MM-DD")

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        if isinstance(value, str):
            found = CATEGORY_ALIASES.get(_key(value))
            if found is None:
                raise ValueError(f"unknown category {value!r} (use one of "
                                 f"{', '.join(c.value for c in Category)})")
            return found
        return value

    @field_validator("lat", "lon", "age_from", "age_to", mode="before")
    @classmethod
    def _decimal_comma(cls, value: Any) -> Any:
        return value.strip().replace(",", ".") if isinstance(value, str) else value

    @field_validator("opening_hours")
    @classmethod
    def _opening_hours(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                OpeningHours(value)
            except Exception as exc:  # the parser raises its own ParserError
                first = str(exc).strip().splitlines()[-1].strip(" =")
                raise ValueError(f"not valid OSM opening_hours syntax {value!r} ({first})") \
                    from None
        return value

    @field_validator("source_date")
    @classmethod
    def _source_date(cls, value: str | None) -> str | None:
        if value is not None and not _DATE.match(value):
            raise ValueError(f"{value!r} is not a date like 2024, 2024-05 or 2024-05-31")
        return value

    @model_validator(mode="after")
    def _ages(self) -> Offer:
        if self.age_from is not None and self.age_to is not None and self.age_from > self.age_to:
            raise ValueError(f"age_from {self.age_from} is above age_to {self.age_to}")
        return self


#: Catalogue columns, in order (the model fields).
COLUMNS: Final[list[str]] = list(Offer.model_fields)


class OfferFileError(DataError):
    """An offer file has bad rows; ``problems`` lists (row, field, reason) for every one.

    ``unit`` names what the row numbers count: ``row`` (spreadsheet line, header = 1) or
    ``feature`` (1-based GeoJSON feature).
    """

    def __init__(self, path: Path, n_rows: int, problems: list[tuple[int, str, str]],
                 unit: str = "row") -> None:
        self.path = path
        self.problems = problems
        bad = len({row for row, _, _ in problems})
        lines = "; ".join(f"{unit} {row}, field {field!r}: {reason}"
                          for row, field, reason in problems)
        super().__init__(f"{path}: {bad} of {n_rows} {unit}s are bad, nothing imported: "
                         f"{lines}")


def _read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """Read an offer file into strings; index = row number as the user sees it.

    Returns the frame and what a row number means (``row`` = spreadsheet line with the
    header as row 1, ``feature`` = 1-based GeoJSON feature number).
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None,
                                engine="python", encoding="utf-8-sig", skip_blank_lines=False
                                ).fillna("")
            frame.index = frame.index + 2
        elif suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl"
                                  ).fillna("")
            frame.index = frame.index + 2
        elif suffix in (".geojson", ".json"):
            return _read_geojson(path), "feature"
        else:
            raise DataError(f"{path}: unknown offer file type {suffix!r}; use .csv, .xlsx "
                            "or .geojson")
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read offer file: {exc}") from exc
    return frame, "row"


def _read_geojson(path: Path) -> pd.DataFrame:
    """GeoJSON features as rows: properties plus ``lon``/``lat`` of Point geometries."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not valid GeoJSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise DataError(f"{path}: not a GeoJSON FeatureCollection")
    rows = []
    for feature in doc.get("features") or []:
        row = {k: "" if v is None else str(v)
               for k, v in (feature.get("properties") or {}).items()}
        geometry = feature.get("geometry") or {}
        coords = geometry.get("coordinates") if geometry.get("type") == "Point" else None
        if isinstance(coords, list) and len(coords) >= 2:
            row["lon"], row["lat"] = str(coords[0]), str(coords[1])
        elif geometry:
            row["_geometry"] = f"geometry must be a Point, not {geometry.get('type')!r}"
        rows.append(row)
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1), dtype=object).fillna("")


def _rename_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Map headers (English field names or German aliases) to model fields."""
    fields = set(COLUMNS) | {"_geometry"}
    mapping: dict[str, str] = {}
    for column in frame.columns:
        key = _key(str(column)) if column != "_geometry" else column
        field = key if key in fields else COLUMN_ALIASES.get(key)
        if field is None:
            log.warning("%s: column %r is not an offer field, ignored", path, column)
        elif field in mapping.values():
            raise DataError(f"{path}: columns {column!r} and another both mean {field!r}")
        else:
            mapping[column] = field
    missing = [f for f in ("name", "category", "lat", "lon") if f not in mapping.values()]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (see the template "
                        "geo/sources/data/offer_template.csv)")
    return frame[list(mapping)].rename(columns=mapping)


def validate_rows(records: list[dict[str, Any]], rows: list[int]
                  ) -> tuple[list[Offer], list[tuple[int, str, str]]]:
    """Validate rows against :class:`Offer`; collect every problem instead of stopping.

    Parameters
    ----------
    records
        One dict per row (field → value; missing values left out).
    rows
        The row number of each record, for the messages.

    Returns
    -------
    offers, problems
        The valid offers, and (row, field, reason) for each problem of the bad rows.
    """
    offers: list[Offer] = []
    problems: list[tuple[int, str, str]] = []
    for row, record in zip(rows, records, strict=True):
        try:
            offers.append(Offer.model_validate(record))
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "-"
                reason = "missing value" if err["type"] == "missing" else \
                    err["msg"].removeprefix("Value error, ")
                problems.append((row, field, reason))
    return offers, problems


def region_check(lon: np.ndarray, lat: np.ndarray, settings: Settings) -> np.ndarray:
    """Distance (metres) of WGS84 points outside the region polygon; 0 inside.

    The county polygon (VG5000, EPSG:3035) is buffered by
    ``settings.offers.region_tolerance_m`` before testing, so points within that
    distance of the border count as inside.
    """
    county = load_units(settings, "county").geometry.iloc[0]
    x, y = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True).transform(lon, lat)
    points = shapely.points(x, y)
    distance = shapely.distance(county, points)
    return np.where(distance > settings.offers.region_tolerance_m, distance, 0.0)


def to_frame(offers: list[Offer]) -> gpd.GeoDataFrame:
    """Offers as a GeoDataFrame: one column per model field, Point geometry (EPSG:4326)."""
    frame = pd.DataFrame([o.model_dump(mode="json") for o in offers], columns=COLUMNS)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                            crs="EPSG:4326")


def read_offer_file(path: Path, settings: Settings | None = None) -> gpd.GeoDataFrame:
    """Import offers from a CSV, GeoJSON or Excel file, checking every row.

    Parameters
    ----------
    path
        ``.csv`` (comma or semicolon, UTF-8), ``.xlsx`` (first sheet, header in row 1)
        or ``.geojson`` (Point features; lon/lat from the geometry). Headers may be the
        model field names or German aliases (``Name``, ``Kategorie``, ``Träger``,
        ``Breite``/``Länge``, ``Öffnungszeiten``, ...; see ``geo/sources/data/offer_template.csv``).
        Missing ``id``: ``<file stem>-<row>``; missing ``source``: the file name;
        missing ``geocode_precision``: ``exact``.
    settings
        Region to check the coordinates against (default: the process settings).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per offer, columns :data:`COLUMNS`, Point geometry in EPSG:4326.

    Raises
    ------
    OfferFileError
        Any row is bad (unknown category, missing name, broken opening hours,
        coordinates outside the region, ...): the message lists every problem with its
        row number and field, and no row is imported.
    DataError
        The file cannot be read or lacks a required column.
    """
    settings = settings or get_settings()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: offer file not found")
    raw, unit = _read_table(path)
    table = _rename_columns(raw, path)
    table = table.astype(str).apply(lambda column: column.str.strip())
    table = table[(table != "").any(axis=1)]
    if table.empty:
        raise DataError(f"{path}: no offers in the file")
    problems: list[tuple[int, str, str]] = []
    if "_geometry" in table:
        problems += [(int(r), "geometry", m) for r, m in table["_geometry"].items() if m]
        table = table.drop(columns="_geometry")
    defaults = {"source": path.name, "geocode_precision": GeocodePrecision.exact.value}
    records = []
    for row, values in table.iterrows():
        record = {**defaults, "id": f"{path.stem}-{row}"}
        record.update({k: v for k, v in values.items() if v})
        records.append(record)
    rows = [int(r) for r in table.index]
    offers, row_problems = validate_rows(records, rows)
    problems += row_problems
    valid_rows = [r for r in rows if r not in {p[0] for p in row_problems}]
    if offers:
        outside = region_check(np.array([o.lon for o in offers]),
                               np.array([o.lat for o in offers]), settings)
        region = get_region(settings.region)
        for row, offer, dist in zip(valid_rows, offers, outside, strict=True):
            if dist > 0:
                problems.append((row, "lat/lon", f"({offer.lat}, {offer.lon}) lies "
                                 f"{dist / 1000:.1f} km outside {region.title} ({region.ags})"))
    duplicated = pd.Series([r["id"] for r in records], index=rows)
    problems += [(r, "id", f"id {i!r} is used more than once")
                 for r, i in duplicated[duplicated.duplicated(keep=False)].items()]
    if problems:
        raise OfferFileError(path, len(table), sorted(problems), unit)
    log.info("read %d offers from %s", len(offers), path)
    return to_frame(offers)


def write_offers(offers: gpd.GeoDataFrame, path: Path) -> Path:
    """Write offers atomically as GeoJSON (``.geojson``), GeoParquet (``.parquet``) or CSV.

    The CSV has the template's columns (lat/lon, no geometry column) and reads back
    with :func:`read_offer_file`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".geojson":
            offers.to_file(tmp, driver="GeoJSON")
        elif suffix == ".parquet":
            offers.to_parquet(tmp)
        elif suffix == ".csv":
            pd.DataFrame(offers.drop(columns="geometry")).to_csv(tmp, index=False)
        else:
            raise DataError(f"{path}: unknown offer export type {suffix!r}; use .geojson, "
                            ".parquet or .csv")
    log.info("wrote %d offers to %s", len(offers), path)
    return path


# --- the default catalogue ---------------------------------------------------------------

#: Tile POIs taken as offers: (class, subclass) → (category, child-specific, German label).
POI_OFFERS: Final[dict[tuple[str, str], tuple[Category, bool, str]]] = {
    ("school", "kindergarten"): (Category.kita, True, "Kindergarten"),
    ("library", "library"): (Category.freizeit, False, "Bibliothek"),
    ("playground", "playground"): (Category.freizeit, False, "Spielplatz"),
    ("doctors", "doctors"): (Category.gesundheit, False, "Arztpraxis"),
}
SCHOOLS_FILE: Final = "schools_jedeschule_2017.csv"
FAMILY_FILE: Final = "offers_familie_sources.csv"


def default_inputs(settings: Settings) -> list[Path]:
    """Files the default catalogue is built from (for cache keys), tiles included."""
    from geo.sources.tiles import open_tileset

    region = get_region(settings.region)
    folder = settings.data_dir / region.name
    tiles = []
    for source in (region.tiles, region.city_tiles):
        if source is not None:
            tileset = open_tileset(settings.data_dir / source.path, source.zoom)
            tiles += [*tileset.paths, tileset.root / "metadata.json"]
    return [folder / SCHOOLS_FILE, folder / FAMILY_FILE, *tiles]


def school_offers(path: Path) -> list[Offer]:
    """One offer per school of the jedeschule.de register extract (rows share an id stem).

    A school listed with several school types (``NI-10376-0``, ``-1``, ...) becomes one
    offer: category ``grundschule`` when one of its types is Grundschule, else ``schule``;
    ``subcategory`` lists all types. Coordinates are rounded to 3 decimals in the source.
    """
    if not path.exists():
        raise DataError(f"{path}: school register extract not found")
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows["school"] = rows["id"].str.rsplit("-", n=1).str[0]
    schools = rows.groupby("school", sort=True).agg(
        name=("name", "first"), lat=("lat", "first"), lon=("lon", "first"),
        plz=("plz", "first"), types=("school_type", lambda t: "; ".join(dict.fromkeys(t[t != ""]))))
    log.info("read %d rows / %d schools from %s", len(rows), len(schools), path)
    return [Offer(id=key, name=s["name"], lat=s.lat, lon=s.lon, postcode=s.plz or None,
                  category=Category.grundschule if "Grundschule" in s.types.split("; ")
                  else Category.schule, subcategory=s.types or None,
                  geocode_precision=GeocodePrecision.rounded,
                  source="Niedersächsisches Schulverzeichnis (nibis) via jedeschule.de",
                  source_date="2017")
            for key, s in schools.iterrows()]


def family_offers(path: Path) -> tuple[list[Offer], list[str]]:
    """Offers of the hand-compiled family-support list, and the names of unlocated rows.

    Rows without coordinates cannot be placed and are returned by name (they are real
    offers whose site is unknown, so they are reported, never guessed). Rows without
    ``source_url`` rest on an OSM POI alone; their source says so.

    Raises
    ------
    OfferFileError
        A row is invalid (every problem listed with its CSV line).
    """
    if not path.exists():
        raise DataError(f"{path}: family offer list not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    located = (table["lat"] != "") & (table["lon"] != "")
    unlocated = table.loc[~located, "name"].tolist()
    records = []
    for line, r in table[located].iterrows():
        record = {k: v for k, v in r.items() if v and k in COLUMNS}
        record["id"] = f"familie-{line + 2}"
        record["source"] = r["source_url"] or f"OpenStreetMap POI only ({r['note']})"
        records.append(record)
    offers, problems = validate_rows(records, [int(i) + 2 for i in table.index[located]])
    if problems:
        raise OfferFileError(path, len(table), problems)
    log.info("read %d family offers from %s (%d without coordinates)", len(offers), path,
             len(unlocated))
    return offers, unlocated


def _poi_frame(source: TileSource, settings: Settings) -> gpd.GeoDataFrame:
    """The tile set's POIs that are offers, with category, label and a name (EPSG:3035)."""
    from geo.sources.tiles import feature_names, read_layer

    pois = read_layer(settings.data_dir / source.path, "poi", workers=settings.offers.workers,
                      cache_dir=settings.processed_dir / "tiles-cache", zoom=source.zoom)
    key = pd.Series(list(zip(pois["class"], pois["subclass"], strict=True)), index=pois.index)
    pois = pois[key.isin(list(POI_OFFERS))].copy()
    spec = [POI_OFFERS[k] for k in zip(pois["class"], pois["subclass"], strict=True)]
    pois["category"] = [s[0].value for s in spec]
    pois["child_specific"] = [s[1] for s in spec]
    pois["label"] = [s[2] for s in spec]
    pois["poi_name"] = feature_names(pois)
    pois["vintage"] = source.vintage
    return pois.to_crs(METRIC_CRS)


def merge_tile_pois(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, new_tiles: set[tuple[int, int]],
                    distance_m: float) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """County-wide 2021 POIs with the newer tiles' POIs preferred where those exist.

    Inside the newer tiles' area (their z14 tiles), the old POIs are replaced by the
    new ones. Each old POI there is paired with a new POI of the same category: same name
    within ``distance_m`` → ``unchanged``; otherwise the nearest within ``distance_m / 3``
    → ``renamed`` (or ``unchanged`` when both are unnamed). Unpaired old POIs are
    ``only_old`` (gone from OSM or moved), unpaired new ones ``only_new``.

    Parameters
    ----------
    old, new
        POIs from :func:`_poi_frame` (EPSG:3035), with ``tile_x``/``tile_y`` at z14.
    new_tiles
        (x, y) of the newer tile set's z14 tiles.
    distance_m
        Match distance in metres.

    Returns
    -------
    merged, changes
        The merged POIs, and one row per old/new POI in the overlap with ``change``,
        ``category``, ``name_old``, ``name_new``, ``distance_m``.
    """
    in_new = pd.Series(list(zip(old["tile_x"], old["tile_y"], strict=True)),
                       index=old.index).isin(new_tiles)
    overlap = old[in_new.to_numpy()].reset_index(drop=True)
    new = new.reset_index(drop=True)
    # 1) same category and name, nearest first, each POI used once
    named = overlap.reset_index(names="i_old").dropna(subset=["poi_name"]).merge(
        new.reset_index(names="i_new").dropna(subset=["poi_name"]),
        on=["category", "poi_name"], suffixes=("_old", "_new"))
    named["distance_m"] = shapely.distance(named["geometry_old"].values,
                                           named["geometry_new"].values)
    pairs = _one_to_one(named[named["distance_m"] <= distance_m])
    pairs["change"] = "unchanged"
    # 2) the rest: nearest of the same category within a third of the distance
    rest_old = overlap.drop(index=pairs["i_old"])
    rest_new = new.drop(index=pairs["i_new"])
    near = gpd.sjoin_nearest(rest_old.reset_index(names="i_old"),
                             rest_new.reset_index(names="i_new"),
                             max_distance=distance_m / 3, distance_col="distance_m",
                             lsuffix="old", rsuffix="new")
    near = _one_to_one(near[near["category_old"] == near["category_new"]]
                       .rename(columns={"category_old": "category"}))
    same = near["poi_name_old"].fillna("") == near["poi_name_new"].fillna("")
    near["change"] = np.where(same, "unchanged", "renamed")
    near = near.rename(columns={"poi_name_old": "name_old", "poi_name_new": "name_new"})
    pairs = pairs.assign(name_old=pairs["poi_name"], name_new=pairs["poi_name"])
    columns = ["change", "category", "name_old", "name_new", "distance_m"]
    gone = overlap.drop(index=[*pairs["i_old"], *near["i_old"]])
    added = new.drop(index=[*pairs["i_new"], *near["i_new"]])
    changes = pd.concat([
        pairs[columns], near[columns],
        pd.DataFrame({"change": "only_old", "category": gone["category"],
                      "name_old": gone["poi_name"]}),
        pd.DataFrame({"change": "only_new", "category": added["category"],
                      "name_new": added["poi_name"]}),
    ], ignore_index=True)
    merged = gpd.GeoDataFrame(pd.concat([old[~in_new.to_numpy()], new], ignore_index=True),
                              crs=old.crs)
    return merged, changes


def _one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Keep each ``i_old`` and ``i_new`` once, nearest pairs first."""
    pairs = pairs.sort_values("distance_m", kind="stable")
    return pairs.drop_duplicates("i_old").drop_duplicates("i_new")


def poi_offers(settings: Settings) -> tuple[list[Offer], pd.DataFrame]:
    """Kitas, libraries, playgrounds and doctors from the region's tiles, and the change table.

    County tiles everywhere, newer city tiles preferred where they exist (see
    :func:`merge_tile_pois`); only POIs inside the county polygon (VG5000, no tolerance).
    """
    region = get_region(settings.region)
    if region.tiles is None:
        raise DataError(f"region {region.name} has no vector tiles for POIs")
    pois = _poi_frame(region.tiles, settings)
    changes = pd.DataFrame(columns=["change", "category", "name_old", "name_new", "distance_m"])
    if region.city_tiles is not None:
        from geo.sources.tiles import open_tileset

        city = _poi_frame(region.city_tiles, settings)
        city_tiles = set(open_tileset(settings.data_dir / region.city_tiles.path,
                                      region.city_tiles.zoom).tiles)
        pois, changes = merge_tile_pois(pois, city, city_tiles, settings.offers.match_distance_m)
    county = load_units(settings, "county").geometry.iloc[0]
    pois = pois[shapely.contains(county, pois.geometry.values)].to_crs("EPSG:4326")
    sources = {t.vintage: t.path for t in (region.tiles, region.city_tiles) if t is not None}
    offers = [
        Offer(id=f"osm{p.vintage}-{p.category}-{p.geometry.x:.6f}-{p.geometry.y:.6f}",
              name=p.poi_name if isinstance(p.poi_name, str) else f"{p.label} (ohne Namen)",
              category=p.category, subcategory=p.subclass, child_specific=p.child_specific,
              lat=p.geometry.y, lon=p.geometry.x, geocode_precision=GeocodePrecision.poi,
              source=f"OpenStreetMap vector tiles {sources[p.vintage]} (poi layer)",
              source_date=p.vintage)
        for p in pois.itertuples()
    ]
    log.info("%d POI offers from the tiles of %s", len(offers), region.name)
    return offers, changes


def build_catalogue(settings: Settings) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The region's default catalogue from the data directory, with a build report.

    Returns
    -------
    offers, report
        The catalogue (as :func:`load_offers`), and a report: ``unlocated`` (names of
        family offers without coordinates), ``tile_changes`` (count per change type and
        category), ``changes`` (the change table, DataFrame).
    """
    folder = settings.data_dir / settings.region
    schools = school_offers(folder / SCHOOLS_FILE)
    family, unlocated = family_offers(folder / FAMILY_FILE)
    pois, changes = poi_offers(settings)
    offers = to_frame([*schools, *family, *pois])
    duplicated = offers["id"][offers["id"].duplicated()]
    if len(duplicated):
        raise DataError(f"duplicate offer ids in the default catalogue: "
                        f"{', '.join(duplicated[:5])}")
    outside = region_check(offers["lon"].to_numpy(), offers["lat"].to_numpy(), settings) > 0
    if outside.any():
        raise DataError(f"default offers outside the region: "
                        f"{'; '.join(offers.loc[outside, 'name'].head(10))}")
    counts = changes.groupby(["change", "category"]).size()
    report = {
        "unlocated": unlocated,
        "tile_changes": {c: counts[c].to_dict() for c in counts.index.levels[0]}
        if len(counts) else {},
        "changes": changes,
    }
    log.info("default catalogue of %s: %d offers", settings.region, len(offers))
    return offers, report


def load_offers(settings: Settings) -> gpd.GeoDataFrame:
    """The region's offer catalogue (EPSG:4326): the real default offers plus the county's
    own list where ``settings.offers.own_file`` names one.

    Columns: :data:`COLUMNS` (the :class:`Offer` fields, incl. ``status``,
    ``geocode_precision``, ``source``, ``source_date``) and Point geometry. Planned and
    closed offers are included; filter ``status == "active"`` for reachability.
    """
    return add_own_offers(build_catalogue(settings)[0], settings)


def add_own_offers(catalogue: gpd.GeoDataFrame, settings: Settings,
                   own_file: Path | None = None) -> gpd.GeoDataFrame:
    """The catalogue plus the county's own offer list (``own_file``, else
    ``settings.offers.own_file``; unchanged when neither is set).

    Raises OfferFileError for bad rows and DataError when an id is already taken.
    """
    own_file = own_file or settings.offers.own_file
    if own_file is None:
        return catalogue
    own = read_offer_file(Path(own_file), settings)
    clash = sorted(set(own["id"]) & set(catalogue["id"]))
    if clash:
        raise DataError(f"{own_file}: ids already in the default catalogue: "
                        f"{', '.join(clash[:10])}")
    return pd.concat([catalogue, own], ignore_index=True)
