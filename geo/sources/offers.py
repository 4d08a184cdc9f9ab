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
* Kitas, Horte, libraries, playgrounds and doctors from the ``poi`` layer of the OSM vector
  tiles: the county tiles (2021) everywhere, replaced by the newer city tiles (2026) where
  those exist; what changed between the two is reported by :func:`merge_tile_pois`. OSM
  tags Horte as kindergartens: a kindergarten named as a Hort (:func:`is_hort`) is an offer
  of category ``hort``, never ``kita``. (The school register of 2017 lists no Horte.)
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# opening_hours' __init__.pyi omits ParserError, which the extension module exports
from opening_hours import OpeningHours, ParserError  # type: ignore[attr-defined]
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pyproj import Transformer

from geo._io import atomic_path, guard_zip, neutralise_frame, unneutralise_cell
from geo.errors import DataError, ErreichbarError, LimitError
from geo.settings import LimitSettings, Settings, TileSource, get_region, get_settings
from geo.sources import offer_quality
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
    "kinderhort": Category.hort, "schulhort": Category.hort,
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


@lru_cache(maxsize=1024)
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
        problem = None if value is None else _opening_hours_problem(value)
        if problem:
            raise ValueError(problem)
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


@lru_cache(maxsize=1024)
def _opening_hours_problem(value: str) -> str | None:
    """Say why ``value`` is not OSM opening_hours syntax (None if it is).

    Cached, since offer lists repeat the same hours on many rows.
    """
    try:
        OpeningHours(value)
    except ParserError as exc:
        first = str(exc).strip().splitlines()[-1].strip(" =")
        return f"not valid OSM opening_hours syntax {value!r} ({first})"
    return None


#: Catalogue columns, in order (the model fields).
COLUMNS: Final[list[str]] = list(Offer.model_fields)


class OfferFileError(DataError):
    """An offer file has bad rows; ``problems`` lists (row, field, reason) for every one.

    ``unit`` names what the row numbers count: ``row`` (spreadsheet line, header = 1) or
    ``feature`` (1-based GeoJSON feature). The message lists the first
    :data:`MAX_LISTED` problems; :meth:`lines` gives one line per problem for the CLI.
    """

    def __init__(self, path: Path, n_rows: int, problems: list[tuple[int, str, str]],
                 unit: str = "row") -> None:
        self.path = path
        self.problems = problems
        self.unit = unit
        self.n_rows = n_rows
        lines = self.lines()
        super().__init__(f"{lines[0]}: {'; '.join(lines[1:])}")

    def lines(self) -> list[str]:
        """Return a headline and one line per problem.

        The headline names the file and the bad rows of all rows; at most
        :data:`MAX_LISTED` problems are listed, then how many more there are.
        """
        bad = len({row for row, _, _ in self.problems})
        head = (f"{self.path}: {bad} of {self.n_rows} {self.unit}s are bad, nothing "
                "imported")
        lines = [f"{self.unit} {row}, field {field!r}: {reason}"
                 for row, field, reason in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"… and {len(self.problems) - MAX_LISTED:,} more problems")
        return [head, *lines]


#: problems listed in an :class:`OfferFileError` message (all are in ``problems``)
MAX_LISTED: Final = 200


@dataclass
class _Table:
    """An offer file as text cells, before its headers are mapped to fields.

    ``cells`` has one list (one text per column) per readable non-empty row, ``index`` the
    row number the user sees of each; rows that could not be read (extra values, overlong
    cells, features that are not objects) are left out and listed in ``problems`` as
    (row, field, reason).
    """

    columns: list[str]
    index: list[int]
    cells: list[list[str]]
    problems: list[tuple[int, str, str]]
    n_rows: int  #: non-empty rows (or features) of the file, readable or not
    unit: str = "row"


class _Rows:
    """Collects the rows of a table file (CSV, XLSX) under its header, within the limits."""

    def __init__(self, path: Path, header: list[str], header_row: int,
                 limits: LimitSettings) -> None:
        self.path, self.limits, self.header_row = path, limits, header_row
        while header and not header[-1].strip():
            header = header[:-1]  # trailing empty header cells (Excel, "a;b;c;")
        if len(header) > limits.offer_max_columns:
            raise LimitError(f"{path}: the header has {len(header):,} columns, more than the "
                             f"{limits.offer_max_columns:,} allowed (limits.offer_max_columns)")
        self.columns = _unique_headers(header, path, limits.cell_max_chars)
        self.index: list[int] = []
        self.cells: list[list[str]] = []
        self.problems: list[tuple[int, str, str]] = []
        self.n_rows = 0

    def add(self, row: int, values: list[str]) -> None:
        """Take spreadsheet row ``row``; a row with a problem is listed, not kept."""
        if row - self.header_row > self.limits.offer_max_rows:
            raise LimitError(f"{self.path}: more than {self.limits.offer_max_rows:,} data rows "
                             f"(row {row:,} is not empty or lies beyond the limit; "
                             "limits.offer_max_rows)")
        values = [v.strip() for v in values]
        if not any(values):
            return
        self.n_rows += 1
        n = len(self.columns)
        used = len(values)
        while not values[used - 1]:
            used -= 1
        if used > n:
            reason = (f"has {used:,} values but the header has {n} columns (a separator "
                      "inside an unquoted value?)")
            self.problems.append((row, "-", reason))
            return
        values = values[:n] + [""] * (n - len(values))
        long = [] if max(map(len, values)) <= self.limits.cell_max_chars else [
            (c, len(v)) for c, v in zip(self.columns, values, strict=True)
            if len(v) > self.limits.cell_max_chars]
        for column, size in long:
            reason = f"is {size:,} characters long, more than the {self.limits.cell_max_chars:,}"
            self.problems.append((row, column, f"{reason} allowed"))
        if not long:
            self.index.append(row)
            self.cells.append(values)

    def table(self) -> _Table:
        """Return the collected rows."""
        return _Table(self.columns, self.index, self.cells, self.problems, self.n_rows)


def _unique_headers(header: list[str], path: Path, max_chars: int) -> list[str]:
    """Header texts, stripped; empty ones named ``column N``, repeats numbered like pandas."""
    out: list[str] = []
    for i, text in enumerate(header, start=1):
        text = text.strip() or f"column {i}"
        if len(text) > max_chars:
            raise DataError(f"{path}: header of column {i} is {len(text):,} characters long")
        name, k = text, 0
        while name in out:
            k += 1
            name = f"{text}.{k}"
        out.append(name)
    return out


def _read_table(path: Path, limits: LimitSettings) -> _Table:
    """Read an offer file into text cells, row by row, within ``limits``.

    Row numbers are what the user sees: the spreadsheet line (header = row 1) for CSV and
    XLSX, the 1-based feature for GeoJSON.
    """
    size = path.stat().st_size
    if size > limits.offer_file_max_bytes:
        raise LimitError(f"{path}: {size:,} bytes, more than the "
                         f"{limits.offer_file_max_bytes:,} allowed for an offer file "
                         "(limits.offer_file_max_bytes)")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(path, limits)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, limits)
    if suffix in (".geojson", ".json"):
        return _read_geojson(path, limits)
    raise DataError(f"{path}: unknown offer file type {suffix!r}; use .csv, .xlsx or .geojson")


def _delimiter(line: str) -> str:
    """Return the separator of a CSV header line: the most frequent of ``;`` ``,`` TAB ``|``."""
    counts = {sep: line.count(sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _read_csv(path: Path, limits: LimitSettings) -> _Table:
    """Read a CSV (UTF-8, comma/semicolon/TAB): a malformed row is that row's problem."""
    csv.field_size_limit(max(csv.field_size_limit(), limits.offer_file_max_bytes))
    row = 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            sep = _delimiter(f.readline())
            f.seek(0)
            reader = csv.reader(f, delimiter=sep)
            rows: _Rows | None = None
            bad: list[tuple[int, str, str]] = []
            while True:
                row += 1
                try:
                    values = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    bad.append((row, "-", f"not valid CSV ({exc})"))
                    continue
                values = [unneutralise_cell(v) if v[:1] == "'" else v for v in values]
                if rows is None:
                    if any(v.strip() for v in values):
                        rows = _Rows(path, values, row, limits)
                else:
                    rows.add(row, values)
    except UnicodeDecodeError:
        raise DataError(f"{path}: {_first_non_utf8(path)} is not UTF-8 text; save the file "
                        "as 'CSV UTF-8' (Excel: Save as → CSV UTF-8)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read offer file: {exc}") from None
    if rows is None:
        raise DataError(f"{path}: the file is empty (no header row); see the template "
                        "geo/sources/data/offer_template.csv")
    table = rows.table()
    table.problems = sorted(bad + table.problems)
    table.n_rows += len(bad)
    return table


def _first_non_utf8(path: Path) -> str:
    """Where a file first stops being UTF-8: ``line N, byte M`` (1-based)."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"line {number}, byte {exc.start + 1} ({line[exc.start:exc.start + 1]!r})"
    return "the file"


def _cell_text(value: Any) -> str:
    """Return an Excel cell value as a CSV would hold it (integral numbers without ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_xlsx(path: Path, limits: LimitSettings) -> _Table:
    """Read the first sheet of an .xlsx, streamed (openpyxl read-only).

    The zip and the sheet's dimension are checked against ``limits`` first.
    """
    import openpyxl

    guard_zip(path, max_members=limits.zip_max_members,
              max_unpacked_bytes=limits.xlsx_max_unpacked_bytes,
              max_ratio=limits.zip_max_ratio, what="Excel file")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on damaged files
        raise DataError(f"{path}: not a readable Excel .xlsx file ({type(exc).__name__}: "
                        f"{exc})") from None
    row = 0
    try:
        if not book.worksheets:
            raise DataError(f"{path}: the workbook has no worksheet")
        sheet = book.worksheets[0]
        _check_dimension(sheet, path, limits)
        sheet.reset_dimensions()  # never trust it further: iterate what is really there
        rows: _Rows | None = None
        for row, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = [_cell_text(v) for v in cells]
            if rows is None:
                if row > limits.offer_max_rows:
                    raise LimitError(f"{path}: no header row in the first "
                                     f"{limits.offer_max_rows:,} rows")
                if any(v.strip() for v in values):
                    rows = _Rows(path, values, row, limits)
            else:
                rows.add(row, values)
    except ErreichbarError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged sheet XML, found while streaming
        raise DataError(f"{path}: the sheet is damaged near row {row} "
                        f"({type(exc).__name__}: {exc})") from None
    finally:
        book.close()
    if rows is None:
        raise DataError(f"{path}: the first sheet is empty (no header row)")
    return rows.table()


def _check_dimension(sheet: Any, path: Path, limits: LimitSettings) -> None:
    """Refuse a sheet whose stored dimension (e.g. ``A1:XFD1048576``) exceeds the limits."""
    from openpyxl.utils import get_column_letter

    n_rows, n_cols = sheet.max_row, sheet.max_column
    if n_rows is None or n_cols is None:
        return  # an unsized sheet: the row loop checks as it goes
    if n_rows - 1 > limits.offer_max_rows or n_cols > limits.offer_max_columns:
        raise LimitError(
            f"{path}: sheet {sheet.title!r} reaches row {n_rows:,} and column {n_cols:,} "
            f"(cell {get_column_letter(n_cols)}{n_rows}), beyond the "
            f"{limits.offer_max_rows:,} data rows and {limits.offer_max_columns} columns "
            "allowed (limits.offer_max_rows, limits.offer_max_columns); delete the cells "
            "beyond the table (Ctrl+End shows the last used cell)")


def _read_geojson(path: Path, limits: LimitSettings) -> _Table:
    """Read GeoJSON features as rows: properties plus ``lon``/``lat`` of Point geometries.

    A feature that is not a Point Feature object is that feature's problem.
    """
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise DataError(f"{path}: not valid GeoJSON ({reason})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise DataError(f"{path}: not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if features is None:
        features = []
    if not isinstance(features, list):
        raise DataError(f"{path}: 'features' must be a list of Feature objects, not a JSON "
                        f"{_json_kind(features)}")
    if len(features) > limits.offer_max_rows:
        raise LimitError(f"{path}: {len(features):,} features, more than the "
                         f"{limits.offer_max_rows:,} allowed (limits.offer_max_rows)")
    records, index, problems = [], [], []
    columns: dict[str, None] = {}
    for number, feature in enumerate(features, start=1):
        record, trouble = _feature_record(feature, limits)
        problems += [(number, field, reason) for field, reason in trouble]
        if record is None or trouble:
            continue
        columns.update(dict.fromkeys(record))
        if len(columns) > limits.offer_max_columns + 2:  # + lon, lat
            raise LimitError(f"{path}: the features have more than "
                             f"{limits.offer_max_columns:,} different properties "
                             "(limits.offer_max_columns)")
        records.append(record)
        index.append(number)
    names = list(columns)
    cells = [[r.get(c, "").strip() for c in names] for r in records]
    return _Table(names, index, cells, problems, len(features), "feature")


def _json_kind(value: Any) -> str:
    """JSON type name of a parsed value (``object``, ``array``, ``string`` …)."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _json_text(value: Any) -> str:
    """Return a property value as cell text (null → empty, objects and arrays as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _feature_record(feature: Any, limits: LimitSettings
                    ) -> tuple[dict[str, str] | None, list[tuple[str, str]]]:
    """One feature as text cells, or the problems that keep it from being one."""
    if not isinstance(feature, dict):
        return None, [("feature", (f"is a JSON {_json_kind(feature)}, not a GeoJSON "
                                  "Feature object"))]
    props = feature.get("properties")
    props = {} if props is None else props
    if not isinstance(props, dict):
        return None, [("properties", f"must be an object, not a JSON {_json_kind(props)}")]
    if len(props) > limits.offer_max_columns:
        return None, [("properties", (f"has {len(props):,} properties, more than the "
                                     f"{limits.offer_max_columns} allowed"))]
    record = {str(k): _json_text(v) for k, v in props.items()}
    problems = [(k, (f"is {len(v):,} characters long, more than the "
                    f"{limits.cell_max_chars:,} allowed"))
                for k, v in record.items() if len(v) > limits.cell_max_chars]
    geometry = feature.get("geometry")
    if geometry is None:
        return record, problems  # no coordinates: the lat/lon check reports it
    if not isinstance(geometry, dict):
        return None, [*problems, ("geometry", (f"must be a GeoJSON Point object, not a JSON "
                                              f"{_json_kind(geometry)}"))]
    coords = geometry.get("coordinates")
    if geometry.get("type") != "Point":
        problems.append(("geometry", (f"geometry must be a Point, not "
                                     f"{str(geometry.get('type'))[:40]!r}")))
    elif not (isinstance(coords, list) and len(coords) >= 2
              and all(isinstance(c, int | float) and not isinstance(c, bool)
                      for c in coords[:2])):
        problems.append(("geometry", "Point coordinates must be [longitude, latitude] numbers"))
    else:
        record["lon"], record["lat"] = str(coords[0]), str(coords[1])
    return record, problems


def _field_columns(columns: list[str], path: Path) -> dict[int, str]:
    """Map headers (English field names or German aliases) to model fields.

    Returns
    -------
    dict
        Column position → model field, for the columns that are offer fields.
    """
    fields = set(COLUMNS)
    mapping: dict[int, str] = {}
    for i, column in enumerate(columns):
        key = _key(str(column))
        field = key if key in fields else COLUMN_ALIASES.get(key)
        if field is None:
            log.warning("%s: column %r is not an offer field, ignored", path, column)
        elif field in mapping.values():
            raise DataError(f"{path}: columns {column!r} and another both mean {field!r}")
        else:
            mapping[i] = field
    missing = [f for f in ("name", "category", "lat", "lon") if f not in mapping.values()]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (see the template "
                        "geo/sources/data/offer_template.csv)")
    return mapping


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
    with _gc_paused():  # hundreds of thousands of small objects: no cycle hunting
        return _read_offers(path, settings)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector.

    Building 200,000 rows of small lists and dicts otherwise triggers full collections again
    and again (≈30 % of the import time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_offers(path: Path, settings: Settings) -> gpd.GeoDataFrame:
    """:func:`read_offer_file` after the checks of its arguments."""
    raw = _read_table(path, settings.limits)
    fields = list(_field_columns(raw.columns, path).items())
    defaults = {"source": path.name, "geocode_precision": GeocodePrecision.exact.value}
    records, rows = [], []
    for row, values in zip(raw.index, raw.cells, strict=True):
        record = {field: values[i] for i, field in fields if values[i]}
        if record:  # rows with values only in ignored columns are skipped
            records.append({**defaults, "id": f"{path.stem}-{row}", **record})
            rows.append(row)
    raw.cells = []  # the records hold the values now
    if not records and not raw.problems:
        raise DataError(f"{path}: no offers in the file")
    problems = list(raw.problems)
    offers, row_problems = validate_rows(records, rows)
    problems += row_problems
    bad_rows = {p[0] for p in row_problems}
    problems += _outside_problems(offers, [r for r in rows if r not in bad_rows], settings)
    duplicated = pd.Series([r["id"] for r in records], index=rows, dtype=object)
    problems += [(r, "id", f"id {i!r} is used more than once")
                 for r, i in duplicated[duplicated.duplicated(keep=False)].items()]
    if problems:
        raise OfferFileError(path, raw.n_rows, sorted(problems), raw.unit)
    log.info("read %d offers from %s", len(offers), path)
    return to_frame(offers)


def _outside_problems(offers: list[Offer], rows: list[int], settings: Settings
                      ) -> list[tuple[int, str, str]]:
    """(row, 'lat/lon', reason) for each offer outside the region (plus its tolerance)."""
    if not offers:
        return []
    outside = region_check(np.array([o.lon for o in offers]),
                           np.array([o.lat for o in offers]), settings)
    region = get_region(settings.region)
    return [(row, "lat/lon", (f"({offer.lat}, {offer.lon}) lies {dist / 1000:.1f} km outside "
                             f"{region.title} ({region.ags})"))
            for row, offer, dist in zip(rows, offers, outside, strict=True) if dist > 0]


def write_offers(offers: gpd.GeoDataFrame, path: Path) -> Path:
    """Write offers atomically as GeoJSON (``.geojson``), GeoParquet (``.parquet``) or CSV.

    The CSV has the template's columns (lat/lon, no geometry column) and reads back
    with :func:`read_offer_file`. Its text cells starting with ``= + - @ TAB CR`` get a
    leading apostrophe (:func:`geo._io.neutralise_cell`), so spreadsheets show them as text
    instead of running them as formulas; :func:`read_offer_file` removes it again.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".geojson":
            offers.to_file(tmp, driver="GeoJSON")
        elif suffix == ".parquet":
            offers.to_parquet(tmp)
        elif suffix == ".csv":  # no formulas: a leading = + - @ gets an apostrophe
            neutralise_frame(pd.DataFrame(offers.drop(columns="geometry"))).to_csv(
                tmp, index=False)
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


def is_hort(names: pd.Series, settings: Settings) -> np.ndarray:
    """Return, per name, whether it names a Hort (:attr:`OfferSettings.hort_pattern`).

    A name matching ``hort_pattern`` and not ``hort_unless`` (a mixed house, "Kita und
    Hort", stays a Kita); case-insensitive; a missing name is no Hort.
    """
    text = names.fillna("").astype(str)
    rule = settings.offers
    return (text.str.contains(rule.hort_pattern, case=False, regex=True)
            & ~text.str.contains(rule.hort_unless, case=False, regex=True)).to_numpy(bool)


def _poi_frame(source: TileSource, settings: Settings) -> gpd.GeoDataFrame:
    """Return the tile set's POIs that are offers, with category, label and a name (EPSG:3035).

    Kindergartens named as a Hort (:func:`is_hort`) get category ``hort``.
    """
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
    hort = (pois["category"] == Category.kita.value).to_numpy() & is_hort(pois["poi_name"],
                                                                          settings)
    pois.loc[hort, "category"] = Category.hort.value
    pois.loc[hort, "label"] = "Hort"
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
    """Kitas, Horte, libraries, playgrounds and doctors from the region's tiles, and changes.

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
    """Build the region's default catalogue from the data directory, with a build report.

    Returns
    -------
    offers, report
        The catalogue (as :func:`load_offers`), and a report: ``unlocated`` (names of
        family offers without coordinates), ``tile_changes`` (count per change type and
        category), ``changes`` (the change table, DataFrame), ``merged`` (duplicate Kitas
        merged, :func:`geo.sources.offer_quality.dedupe`).
    """
    folder = settings.data_dir / settings.region
    schools = school_offers(folder / SCHOOLS_FILE)
    family, unlocated = family_offers(folder / FAMILY_FILE)
    pois, changes = poi_offers(settings)
    offers, merged = offer_quality.dedupe(to_frame([*schools, *family, *pois]), settings)
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
        "merged": merged,
    }
    log.info("default catalogue of %s: %d offers", settings.region, len(offers))
    return offers, report


def load_offers(settings: Settings) -> gpd.GeoDataFrame:
    """Load the region's offer catalogue (EPSG:4326).

    The real default offers plus the county's own list where ``settings.offers.own_file``
    names one.

    Columns: :data:`COLUMNS` (the :class:`Offer` fields, incl. ``status``,
    ``geocode_precision``, ``source``, ``source_date``) and Point geometry. Planned and
    closed offers are included; filter ``status == "active"`` for reachability.

    A region whose data directory holds no default sources (:func:`has_default_catalogue`,
    e.g. the Enzkreis: only a timetable) has the own list alone.

    Raises
    ------
    DataError
        Neither default sources nor an own list: the message says how to give one.
    """
    if has_default_catalogue(settings):
        return add_own_offers(build_catalogue(settings)[0], settings)
    if settings.offers.own_file is None:
        raise DataError(
            f"region {settings.region}: the data directory {settings.data_dir} holds no "
            f"offers of it (no folder {settings.region}/ with the school register and family "
            "list, no vector tiles); give the county's own offer list with "
            "ERREICHBAR_OFFERS__OWN_FILE (template geo/sources/data/offer_template.csv)")
    return read_offer_file(Path(settings.offers.own_file), settings)


def has_default_catalogue(settings: Settings) -> bool:
    """Whether the data directory holds default offer sources of the region.

    Its folder (school register, family list) or its vector tiles (POIs).
    """
    return (settings.data_dir / settings.region).is_dir() \
        or get_region(settings.region).tiles is not None


def add_own_offers(catalogue: gpd.GeoDataFrame, settings: Settings,
                   own_file: Path | None = None) -> gpd.GeoDataFrame:
    """Return the catalogue plus the county's own offer list.

    The list is ``own_file``, else ``settings.offers.own_file``; the catalogue is returned
    unchanged when neither is set.

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
