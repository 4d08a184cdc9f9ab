"""A county's own population table: read it, check every row, scale the census cells to it.

The census grid is years old (Zensus 2011: 09.05.2011); a county knows its current
population per Gemeinde or municipal unit. A table (CSV, comma or semicolon, UTF-8; or XLSX,
first sheet, header in row 1) has one row per area:

* a **key** column (``key``, ``ags``, ``ars``, ``unit``, ``name``, ``gemeinde``,
  ``kommune``, ``schluessel`` …): a Gemeinde AGS (8 digits, ``03159016``), a unit ARS
  (9 digits, ``031595401``) or a unit name (``Samtgemeinde Dransfeld`` or ``Dransfeld``,
  matched by :func:`geo.sources.population.match_unit_names`). Leading zeros a spreadsheet
  dropped are restored when the padded key is a known area;
* ``children_under_10`` and/or ``inhabitants`` (``Kinder unter 10``, ``Einwohner``):
  persons, whole numbers ≥ 0 (German thousands separators ``12.022`` are read as 12022);
* ``date`` (``Stand``, ``Stichtag``): the reference day, ``31.12.2023`` or ``2023-12-31``.
  A column named ``population_YYYY_MM_DD`` (or ``inhabitants_…``, ``einwohner_…``) gives
  the inhabitants and their date at once: ``goettingen/population_units_2019.csv``
  (unit, osm_relation, population_2019_12_31) is such a table;
* optional ``source`` (``Quelle``): who published the figures (default: the file name).

A unit and one of its own Gemeinden must not both be listed (their areas overlap). Every
problem (unknown key, missing/negative/non-numeric number, duplicate or overlapping area, bad
date, missing column) is collected and reported in one :class:`PopulationFileError` with
its row number (the spreadsheet line; the header is row 1) and field; nothing is loaded.

**Scaling** (:func:`scale_cells`): every census cell inside a listed area is multiplied by
``official total / census sum of the area's cells``, so the area's cells add up to the
official total and each cell keeps its share of the area. Inhabitants scale the 1 km cells,
children the 100 m cells. The result is float; the census value stays in
``<column>_census``. The census sum of the 100 m children is the sum of the *published*
cells (< 3 children are suppressed), so scaling also spreads the suppressed children over
the published cells. Cells of areas without a total keep their census value; both are
reported. Scaled figures are described by :func:`describe_basis`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import DataError
from geo.settings import CensusSettings
from geo.sources.population import match_unit_names

log = logging.getLogger(__name__)

#: The figures a table can give, in output order.
VALUES: Final[tuple[str, ...]] = ("inhabitants", "children_under_10")
#: German names of the figures (the outputs' language).
VALUE_LABELS: Final[dict[str, str]] = {"inhabitants": "Einwohner",
                                       "children_under_10": "Kinder unter 10"}
#: Most data rows read from a table (a county has at most a few hundred areas).
MAX_ROWS: Final = 100_000
#: Most columns read from a table.
MAX_COLUMNS: Final = 50

_KEY_NAMES: Final = frozenset({
    "key", "ags", "ars", "unit", "name", "gemeinde", "kommune", "einheit", "gebiet", "area",
    "schluessel", "gemeindeschluessel", "regionalschluessel", "unit_ars", "gemeinde_ags"})
_VALUE_NAMES: Final[dict[str, frozenset[str]]] = {
    "inhabitants": frozenset({"inhabitants", "einwohner", "einwohnerzahl", "population",
                              "bevoelkerung", "bevoelkerungszahl"}),
    "children_under_10": frozenset({"children_under_10", "kinder_unter_10", "kinder_u10",
                                    "unter_10", "kinder_unter_10_jahren"}),
}
_DATE_NAMES: Final = frozenset({"date", "stand", "stichtag", "datum"})
_SOURCE_NAMES: Final = frozenset({"source", "quelle"})
#: ``population_2019_12_31``: inhabitants with the date in the column name.
_DATED: Final = re.compile(
    r"^(?:population|inhabitants|einwohner|bevoelkerung)_(\d{4})_(\d{2})_(\d{2})$")


class PopulationFileError(DataError):
    """A population table has problems; ``problems`` lists (row, field, reason) for each.

    ``row`` is the spreadsheet line (header = row 1), or None for a problem of a column.
    """

    def __init__(self, path: Path, n_rows: int,
                 problems: list[tuple[int | None, str, str]]) -> None:
        self.path = path
        self.problems = problems
        bad = len({row for row, _, _ in problems if row is not None})
        text = "; ".join(f"column {field!r}: {reason}" if row is None
                         else f"row {row}, field {field!r}: {reason}"
                         for row, field, reason in problems)
        rows = f"{bad} of {n_rows} rows are bad, " if bad else ""
        super().__init__(f"{path}: {rows}nothing loaded: {text}")


@dataclass(frozen=True)
class PopulationTable:
    """A checked population table.

    Attributes
    ----------
    path
        The file.
    source
        Who published the figures (the ``source`` column, else the file name).
    dates
        The distinct reference days, sorted.
    totals
        One row per area, indexed by the row number: ``area`` (Gemeinde AGS or unit ARS),
        ``level`` (``gemeinde`` or ``unit``) and the given :data:`VALUES` (persons, float).
    """

    path: Path
    source: str
    dates: tuple[dt.date, ...]
    totals: pd.DataFrame

    @property
    def values(self) -> tuple[str, ...]:
        """The figures the table gives (``inhabitants``, ``children_under_10``)."""
        return tuple(v for v in VALUES if v in self.totals)

    @property
    def description(self) -> str:
        """``<source>, <date>``, e.g. ``population_units_2019.csv, 31.12.2019``."""
        return f"{self.source}, {' / '.join(f'{d:%d.%m.%Y}' for d in self.dates)}"

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``erreichbar layers check-population``)."""
        return {"path": str(self.path), "source": self.source,
                "dates": [d.isoformat() for d in self.dates],
                "areas": self.totals["level"].value_counts().to_dict(),
                "totals": {v: round(float(self.totals[v].sum()), 3) for v in self.values}}


def _key(text: str) -> str:
    """Normalise a header: lower case, umlauts spelled out, separators → ``_``."""
    text = str(text).strip().lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _cell_text(value: Any) -> str:
    """Return a spreadsheet cell as text: integral floats without ``.0``, dates as ISO days."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _read_xlsx(path: Path) -> pd.DataFrame:
    """Read the first sheet as strings (header in row 1), after checking its size."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        n_rows, n_columns = sheet.max_row, sheet.max_column
        if n_rows is not None and n_rows > MAX_ROWS + 1:
            raise DataError(f"{path}: the sheet has {n_rows:,} rows; at most {MAX_ROWS:,} "
                            "data rows are read (one row per Gemeinde or unit)")
        if n_columns is not None and n_columns > MAX_COLUMNS:
            raise DataError(f"{path}: the sheet has {n_columns} columns; at most "
                            f"{MAX_COLUMNS} are read")
        rows = [[_cell_text(v) for v in row[:MAX_COLUMNS + 1]] for row in itertools.islice(
            sheet.iter_rows(values_only=True), MAX_ROWS + 2)]
    finally:
        book.close()
    if not rows:
        raise DataError(f"{path}: the sheet is empty")
    header = [h or f"column {i + 1}" for i, h in enumerate(rows[0])]
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object).fillna("")
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    return frame


def _read_rows(path: Path) -> pd.DataFrame:
    """Read the table as strings, indexed by spreadsheet line (header = 1), size checked."""
    if not path.is_file():
        raise DataError(f"{path}: population table not found")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame = _read_xlsx(path)
    elif suffix in (".csv", ".txt"):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None,
                                engine="python", encoding="utf-8-sig",
                                skip_blank_lines=False, nrows=MAX_ROWS + 1).fillna("")
        except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as exc:
            raise DataError(f"{path}: cannot read the population table: {exc}") from None
        frame.index = frame.index + 2
    else:
        raise DataError(f"{path}: unknown population table type {suffix!r}; use .csv or .xlsx")
    if len(frame) > MAX_ROWS or len(frame.columns) > MAX_COLUMNS:
        raise DataError(f"{path}: more than {MAX_ROWS:,} rows or {MAX_COLUMNS} columns; a "
                        "population table has one row per Gemeinde or unit")
    frame = frame.astype(str).apply(lambda column: column.str.strip())
    return frame[(frame != "").any(axis=1)]


def _columns(frame: pd.DataFrame) -> tuple[dict[str, str], dt.date | None,
                                           list[tuple[int | None, str, str]]]:
    """Which column is which field; the date given by a dated column name; column problems."""
    found: dict[str, list[str]] = {}
    dated: dt.date | None = None
    for column in frame.columns:
        key = _key(column)
        match = _DATED.match(key)
        field = ("key" if key in _KEY_NAMES else "date" if key in _DATE_NAMES
                 else "source" if key in _SOURCE_NAMES
                 else next((v for v, names in _VALUE_NAMES.items() if key in names),
                           "inhabitants" if match else None))
        if match:
            try:
                dated = dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                field = None
        if field is not None:
            found.setdefault(field, []).append(column)
    problems: list[tuple[int | None, str, str]] = [
        (None, " / ".join(columns), f"{len(columns)} columns mean {field!r}; keep one")
        for field, columns in found.items() if len(columns) > 1]
    if "key" not in found:
        problems.append((None, "key", ("missing: name the areas by Gemeinde AGS, unit ARS "
                                       "or unit name (column 'ags', 'ars' or 'unit')")))
    if not any(v in found for v in VALUES):
        problems.append((None, "inhabitants",
                         "missing: give 'inhabitants' and/or 'children_under_10'"))
    if "date" not in found and dated is None:
        problems.append((None, "date", ("missing: add the reference day ('date' or "
                                        "'Stand', e.g. 31.12.2023)")))
    return {field: columns[0] for field, columns in found.items()}, dated, problems


def _area_keys(text: pd.Series, units: gpd.GeoDataFrame,
               gemeinden: gpd.GeoDataFrame) -> tuple[pd.Series, pd.Series]:
    """Area key (AGS/ARS) and level (``gemeinde``/``unit``) per key text; NaN/'' if unknown."""
    digits = text.str.fullmatch(r"\d{1,9}")
    gem8 = text.where(digits, "").str.zfill(8)
    unit9 = text.where(digits, "").str.zfill(9)
    is_gem = digits & gem8.isin(set(gemeinden["ags"]))
    is_unit = digits & ~is_gem & unit9.isin(set(units["ags"]))
    named = match_unit_names(text.where(~digits, ""), units)
    # None as a 0-d object array, as np.select makes it (numpy's stubs refuse a bare None)
    unknown = np.asarray(None)
    area = pd.Series(np.select([is_gem, is_unit, named.notna()], [gem8, unit9, named],
                               default=unknown), index=text.index)
    level = pd.Series(np.select([is_gem, is_unit | named.notna()], ["gemeinde", "unit"],
                                default=""), index=text.index)
    return area, level


def _numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Persons per cell text and the reason ('' if fine) for each bad one."""
    clean = text.str.replace(r"[\s\u00a0\u202f']", "", regex=True)
    thousands = clean.str.fullmatch(r"\d{1,3}(\.\d{3})+")
    clean = clean.where(~thousands, clean.str.replace(".", "", regex=False))
    number = pd.to_numeric(clean.str.replace(",", ".", regex=False), errors="coerce")
    whole = number.notna() & (number % 1 == 0)
    reason = np.select(
        [text == "", number.isna(), number < 0, ~whole],
        ["missing value", "not a number: " + text.map(repr),
         "negative number " + text, "not a whole number of persons: " + text.map(repr)],
        default="")
    return number.astype(float), pd.Series(reason, index=text.index)


def _dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse the reference day per cell text; give the reason ('' if fine) for each bad one."""
    day = pd.to_datetime(text, format="%d.%m.%Y", errors="coerce").fillna(
        pd.to_datetime(text, format="%Y-%m-%d", errors="coerce"))
    future = day > pd.Timestamp(dt.date.today())
    reason = np.select(
        [text == "", day.isna(), future],
        ["missing value", "not a date (DD.MM.YYYY or YYYY-MM-DD): " + text.map(repr),
         "lies in the future: " + text],
        default="")
    return day, pd.Series(reason, index=text.index)


def _overlaps(area: pd.Series, level: pd.Series,
              gemeinden: gpd.GeoDataFrame) -> list[tuple[int, str]]:
    """(row, reason) for areas given twice or a Gemeinde given beside its own unit."""
    rows_of = area.dropna().groupby(area.dropna()).groups
    problems = [(int(row), f"{a} is also given in row "
                 + ", ".join(str(r) for r in rows if r != row))
                for a, rows in rows_of.items() if len(rows) > 1 for row in rows]
    unit_of = dict(zip(gemeinden["ags"], gemeinden["unit_ags"], strict=True))
    units_given = {a: rows[0] for a, rows in rows_of.items() if (level[rows] == "unit").all()}
    for row in area.index[(level == "gemeinde")]:
        unit = unit_of.get(area[row])
        if unit in units_given:
            other = int(units_given[unit])
            problems.append((int(row), f"Gemeinde {area[row]} lies in unit {unit}, also given "
                             + f"in row {other}: give one of them"))
            problems.append((other, f"unit {unit} holds Gemeinde {area[row]}, also given in "
                             + f"row {row}: give one of them"))
    return problems


def read_population_table(path: Path, units: gpd.GeoDataFrame,
                          gemeinden: gpd.GeoDataFrame) -> PopulationTable:
    """Read and check a county's own population table (see the module docstring).

    Parameters
    ----------
    path
        ``.csv`` or ``.xlsx`` file.
    units, gemeinden
        The region's municipal units and Gemeinden (:func:`geo.sources.boundaries.load_units`).

    Returns
    -------
    PopulationTable
        The totals per area (persons), their source and reference days.

    Raises
    ------
    PopulationFileError
        Any row or column is bad: every problem with its row number and field.
    DataError
        The file is missing, unreadable, empty or too large.
    """
    path = Path(path)
    frame = _read_rows(path)
    if frame.empty:
        raise DataError(f"{path}: no rows in the population table")
    columns, dated, problems = _columns(frame)
    totals = pd.DataFrame(index=frame.index)
    if "key" in columns:
        totals["area"], totals["level"] = _area_keys(frame[columns["key"]], units, gemeinden)
        unknown = frame.loc[totals["area"].isna(), columns["key"]]
        problems += [(int(r), columns["key"], "no Gemeinde (AGS), unit (ARS) or unit name "
                      + f"{text!r} in the region") for r, text in unknown.items()]
        problems += [(r, columns["key"], why) for r, why in
                     _overlaps(totals["area"], totals["level"], gemeinden)]
    for value in (v for v in VALUES if v in columns):
        totals[value], reason = _numbers(frame[columns[value]])
        problems += [(int(r), columns[value], why) for r, why in reason[reason != ""].items()]
    days = pd.Series(pd.Timestamp(dated) if dated else pd.NaT, index=frame.index)
    if "date" in columns:
        days, reason = _dates(frame[columns["date"]])
        problems += [(int(r), columns["date"], why) for r, why in reason[reason != ""].items()]
    if problems:
        raise PopulationFileError(path, len(frame), sorted(
            problems, key=lambda p: (-1 if p[0] is None else p[0], p[1])))
    source = (" / ".join(sorted(set(frame[columns["source"]]) - {""})) if "source" in columns
              else "") or path.name
    dates = tuple(sorted({d.date() for d in days}))
    log.info("population table %s: %d areas, %s", path, len(totals), ", ".join(
        f"{v} {totals[v].sum():,.0f}" for v in VALUES if v in totals))
    return PopulationTable(path=path, source=source, dates=dates, totals=totals)


def scale_cells(cells: gpd.GeoDataFrame, table: PopulationTable,
                value: str) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Scale census cells to the table's totals, keeping each cell's share of its area.

    Parameters
    ----------
    cells
        Census cells with ``value`` (persons), ``gemeinde_ags`` and ``unit_ags``
        (:func:`geo.sources.population.read_inhabitants_1km` for ``inhabitants``,
        :func:`geo.sources.population.read_children_100m` for ``children_under_10``).
    table
        The checked table (:func:`read_population_table`).
    value
        ``inhabitants`` or ``children_under_10``.

    Returns
    -------
    cells, report
        A copy with ``value`` scaled (float persons: cell * official / census sum of its
        area; a Gemeinde's total wins over its unit's) and ``<value>_census`` (the census
        value), unchanged if the table has no ``value``. The report: ``scaled`` (bool),
        ``areas`` (areas scaled), ``census`` and ``total`` (sums before and after, persons),
        ``areas_without_cells`` (listed areas with a total > 0 but no census persons: not
        scalable) and ``census_outside`` (census persons in areas the table does not list;
        kept unscaled).
    """
    if value not in table.values:
        return cells, {"scaled": False}
    totals = table.totals
    official = totals.set_index("area")[value]
    gem = set(totals.loc[totals["level"] == "gemeinde", "area"])
    units = set(totals.loc[totals["level"] == "unit", "area"])
    area = cells["gemeinde_ags"].where(cells["gemeinde_ags"].isin(gem),
                                       cells["unit_ags"].where(cells["unit_ags"].isin(units)))
    census = cells[value].groupby(area).sum().reindex(official.index).fillna(0)
    factor = (official / census).where(census > 0)
    out = cells.copy()
    out[f"{value}_census"] = cells[value]
    out[value] = cells[value].to_numpy(dtype=float) * area.map(factor).fillna(1.0).to_numpy()
    missing = sorted(factor.index[factor.isna() & (official > 0)])
    if missing:
        log.warning("%s: no census %s in %s; their totals cannot be spread", table.path,
                    value, ", ".join(missing))
    report = {"scaled": True, "areas": int(factor.notna().sum()),
              "census": round(float(cells[value].sum()), 3),
              "total": round(float(out[value].sum()), 3), "areas_without_cells": missing,
              "census_outside": round(float(cells.loc[area.isna(), value].sum()), 3)}
    return out, report


def describe_basis(census: CensusSettings, table: PopulationTable | None,
                   value: str | None = None) -> str:
    """Describe the population basis in German, e.g. for a report's source line.

    Parameters
    ----------
    census
        The census the grids come from.
    table
        The own population table, or None.
    value
        ``inhabitants`` / ``children_under_10`` for that figure alone; None for both.

    Returns
    -------
    str
        ``Zensus 2011 (09.05.2011)`` (unscaled), ``Zensus 2011-Verteilung, skaliert auf
        <source>, <date>``, or, when the table covers only some figures, that text with
        ``(nur Einwohner; Kinder unter 10: Zensus 2011 (09.05.2011))``.
    """
    plain = f"{census.title} ({census.census_day:%d.%m.%Y})"
    if table is None or (value is not None and value not in table.values):
        return plain
    scaled = f"{census.title}-Verteilung, skaliert auf {table.description}"
    rest = [v for v in VALUES if v not in table.values]
    if value is None and rest:
        only = ", ".join(VALUE_LABELS[v] for v in table.values)
        others = ", ".join(VALUE_LABELS[v] for v in rest)
        scaled += f" (nur {only}; {others}: {plain})"
    return scaled
