"""Planner scenarios: evaluate, save, load, compare and export (the workspace ``/planung``).

A :class:`Plan` names an offer category, a mode (walk, bike, car, or transit = Bus & Bahn
when a timetable is loaded), a time budget (minutes), a weight (children under 10 or a need
layer, :class:`geo.vocabulary.Weight`) and the changes: new sites (WGS84 lon/lat) and
active offers to close (ids). :func:`evaluate` hands the changes to the engine's what-if
(street modes: :meth:`geo.engine.access.Accessibility.what_if`, one bounded multi-source
search on the transposed network; transit:
:meth:`~geo.engine.transit_engine.TransitEngine.changed_times`, the kept stop-to-stop scans
combined for the changed offers, no timetable scan) and counts, per Gemeinde, the weight
within the budget today and with the plan (``gained`` is rounded exactly as the what-if's
``children_within_<m>min_change``, so for children both agree). The map shows the plan's
travel times on the cells where the weight lives (:func:`map_image`; transit: the window
median per 100 m cell).

Scenarios are saved by name as one JSON file each (:class:`ScenarioStore`, atomic writes,
validated names and ids, a size cap, no path outside the store's folder) and compared
Gemeinde by Gemeinde (:func:`compare`). Exports (:func:`export`): the table as CSV and
XLSX, the layers as a GeoPackage (Gemeinden with coverage, added sites, closed offers,
sources) and the travel-time surface as a GeoTIFF (100 m INSPIRE cells, minutes). Every
export names the data sources and their vintages.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
import logging
import re
import secrets
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geo._io import neutralise_frame, write_json
from geo.engine.access import Accessibility
from geo.engine.region import RASTER, WEIGHTS, CellMinutes, to_minutes, weight_grid, weight_key
from geo.engine.street import StreetEngine
from geo.engine.transit_engine import TransitEngine
from geo.errors import AccessInputError, ErreichbarError, LimitError
from geo.messages import text
from geo.products.maps import surface_image
from geo.products.transit_status import timetable_source
from geo.settings import Settings
from geo.sources.population import write_cog
from geo.vocabulary import (
    METRIC_CRS,
    Category,
    DataSource,
    Mode,
    Weight,
    data_sources,
    label,
)

log = logging.getLogger(__name__)

#: Local time of the saved scenarios' time stamps.
LOCAL_TIME: Final = ZoneInfo("Europe/Berlin")
#: Export formats and their media types.
FORMATS: Final[dict[str, str]] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
    "tif": "image/tiff",
}
#: An export format (a key of :data:`FORMATS`).
ExportFormat = Literal["csv", "xlsx", "gpkg", "tif"]
#: A scenario id: lower-case letters, digits and hyphens (a file name, never a path).
SCENARIO_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: A scenario name: letters (any script), digits, blanks and . , ; : ( ) & + / ' -
_NAME: Final = re.compile(r"^[\w .,;:()&+/'’-]+$")

Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


class PlanError(AccessInputError):
    """A plan or scenario the planner cannot use; ``field`` names the part to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ScenarioNotFoundError(ErreichbarError):
    """No saved scenario has this id."""


class Plan(BaseModel):
    """What a planner asks: category, mode, budget, weight and the changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category = Field(description="offer category, e.g. kita")
    mode: Mode = Field(default=Mode.walk,
                       description="walk, bike, car or transit (Bus & Bahn, needs a timetable)")
    minutes: int = Field(default=15, ge=1, le=120, description="time budget, minutes")
    weight: Weight = Field(default=Weight.children_under_10,
                           description="who is counted: children under 10 or a need layer")
    add: tuple[tuple[Lon, Lat], ...] = Field(
        default=(), max_length=50, description="new sites, [lon, lat] WGS84 degrees each")
    remove: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        default=(), max_length=500, description="ids of active offers to close")

    @property
    def changed(self) -> bool:
        """Whether the plan adds or closes anything."""
        return bool(self.add or self.remove)

    def describe(self, lang: str = "de") -> str:
        """One line saying what the plan is, e.g. ``Kita zu Fuß, 15 min, Kinder unter 10``."""
        return text("planner.export.plan", lang, category=label("category", self.category, lang),
                    mode=label("mode", self.mode, lang), minutes=self.minutes,
                    weight=label("weight", self.weight, lang), added=len(self.add),
                    removed=len(self.remove))


def check_plan(plan: Plan, settings: Settings) -> None:
    """Refuse a plan beyond the settings' limits (:class:`PlanError` naming the field).

    Limits: ``PlannerSettings.max_minutes``, ``ApiSettings.max_scenario_sites`` added sites,
    ``PlannerSettings.max_remove`` closed offers.
    """
    limits = settings.planner
    if plan.minutes > limits.max_minutes:
        raise PlanError("minutes", text("planner.errors.minutes", most=limits.max_minutes))
    if len(plan.add) > settings.api.max_scenario_sites:
        raise PlanError("add", text("planner.errors.too_many_sites",
                                    most=settings.api.max_scenario_sites))
    if len(plan.remove) > limits.max_remove:
        raise PlanError("remove", text("planner.errors.too_many_removed",
                                       most=limits.max_remove))


def check_changes(acc: Accessibility, plan: Plan) -> None:
    """Refuse closing an offer that is not an active one of the category, or a site outside.

    The checks the what-if makes, without computing it (for saving a plan).
    """
    active = acc.data.active
    ids = set(active.loc[active["category"] == plan.category, "id"])
    unknown = [i for i in plan.remove if i not in ids]
    if unknown:
        raise PlanError("remove", text("planner.errors.remove", reason=unknown[0]))
    if plan.add:
        add = np.asarray(plan.add, float).reshape(-1, 2)
        acc.data.check_points(add[:, 0], add[:, 1])


@dataclass(frozen=True)
class Evaluation:
    """A plan's coverage per Gemeinde and its travel times.

    ``table`` has one row per Gemeinde: ``ags``, ``name``, ``total`` (the weight: children,
    families or persons), ``within_before`` / ``within_after`` (weight within
    ``plan.minutes`` today and with the plan), ``gained`` (rounded difference, persons),
    ``share_before`` / ``share_after`` (0–1; NaN where the Gemeinde has no weight).
    """

    plan: Plan
    acc: Accessibility
    #: the plan's minutes (inf = none) and connected flag per cell of a grid (``children``,
    #: ``need``, ``inhabitants`` or ``raster``); today's when the plan changes nothing
    after: CellMinutes
    table: pd.DataFrame
    changed_cells: int  #: children cells whose time changed (the what-if's count)
    seconds: float  #: wall time of the evaluation, seconds

    def totals(self) -> dict[str, float]:
        """County sums: ``total``, ``within_before``, ``within_after``, ``gained``."""
        return {k: float(self.table[k].sum())
                for k in ("total", "within_before", "within_after", "gained")}


def _street_times(acc: Accessibility, engine: StreetEngine, plan: Plan
                  ) -> tuple[CellMinutes, CellMinutes, int]:
    """Today's and the plan's minutes per grid by a street mode, and the changed cells.

    The plan's surface is the engine's what-if (one bounded multi-source search).
    """
    base = engine.surface(plan.category)
    surface, changed = base, 0
    if plan.changed:
        result = acc.what_if(plan.category, plan.mode, add=list(plan.add),
                             remove=list(plan.remove))
        assert result.surface is not None  # a street engine's what-if has its surface
        surface, changed = result.surface, len(result.cells)
    return (lambda grid: engine.surface_minutes(base, grid),
            lambda grid: engine.surface_minutes(surface, grid), changed)


def _transit_times(acc: Accessibility, engine: TransitEngine, plan: Plan
                   ) -> tuple[CellMinutes, CellMinutes, int]:
    """Today's and the plan's window-median minutes per grid by Bus & Bahn, changed cells.

    Today's are the engine's cached cell times; the plan's combine the kept stop-to-stop
    scans for the changed offers (:meth:`TransitEngine.changed_times`: no timetable scan),
    once per grid asked for. PlanError when no timetable is loaded.
    """
    if acc.missing(plan.mode) is not None:
        raise PlanError("mode", text("planner.errors.transit_none",
                                     region=acc.settings.region))

    def before(grid: str) -> tuple[np.ndarray, np.ndarray]:
        return engine.cell_minutes(plan.category, grid)

    if not plan.changed:
        return before, before, 0

    @functools.cache
    def after(grid: str) -> tuple[np.ndarray, np.ndarray]:
        times, _ = engine.changed_times(plan.category, grid, plan.add, plan.remove)
        return to_minutes(times.median_s), np.isfinite(times.median_s)

    changed = int(np.count_nonzero(after("children")[0] != before("children")[0]))
    return before, after, changed


def evaluate(acc: Accessibility, plan: Plan) -> Evaluation:
    """Coverage per Gemeinde of ``plan``: today and with its changes (engine's what-if).

    Street modes change the node surface; Bus & Bahn (``transit``) combines the kept
    stop-to-stop scans into the cells' window medians (no timetable scan).

    Raises
    ------
    PlanError
        Mode ``transit`` without a timetable loaded (the message names the command).
    AccessInputError
        An unknown offer id to close.
    RegionError
        An added site outside the region or farther than the snap cut-off from a street.
    EmptyResultError
        The category has no active offer.
    """
    t0 = time.perf_counter()
    engine = acc.engine(plan.mode)
    if isinstance(engine, TransitEngine):
        base, plan_minutes, changed = _transit_times(acc, engine, plan)
    else:
        assert isinstance(engine, StreetEngine)  # every other mode is a street mode
        base, plan_minutes, changed = _street_times(acc, engine, plan)
    key = weight_key(plan.weight)

    def coverage(minutes: CellMinutes) -> pd.DataFrame:
        return acc.data.coverage("gemeinde", minutes, [plan.minutes], [key])

    before = coverage(base)
    after = coverage(plan_minutes) if plan.changed else before
    share = f"{key}_within_{plan.minutes}min_share"
    total = before[key].to_numpy(float)
    table = pd.DataFrame({
        "ags": before["ags"].to_numpy(), "name": before["name"].to_numpy(), "total": total,
        "within_before": np.nan_to_num(before[share].to_numpy(float) * total),
        "within_after": np.nan_to_num(after[share].to_numpy(float) * total),
        "gained": ((after[share] - before[share]) * before[key]).round().fillna(0)
        .astype(int).to_numpy(),
        "share_before": before[share].to_numpy(float),
        "share_after": after[share].to_numpy(float)})
    return Evaluation(plan, acc, plan_minutes, table, changed, time.perf_counter() - t0)


def populated_minutes(ev: Evaluation) -> pd.DataFrame:
    """Minutes of the plan at the cells where its weight lives (weight > 0).

    Columns ``x``, ``y`` (EPSG:3035 centres of the 100 m cells) and ``minutes`` (NaN =
    not connected or no offer reachable; Bus & Bahn: the window median).
    """
    grid = weight_grid(ev.plan.weight)
    column = WEIGHTS[weight_key(ev.plan.weight)][1]
    cells = ev.acc.cell_frame(grid)
    lives = np.nan_to_num(cells[column].to_numpy(float)) > 0
    minutes, _ = ev.after(grid)
    minutes = np.where(np.isfinite(minutes), minutes, np.nan)
    return pd.DataFrame({"x": cells["x"].to_numpy()[lives], "y": cells["y"].to_numpy()[lives],
                         "minutes": minutes[lives]})


def map_image(ev: Evaluation) -> tuple[str, list[list[float]]]:
    """Draw the plan's travel times on populated cells as a PNG data URL and its WGS84 bounds.

    Cells without the weight stay transparent; colours are the maps' minute classes
    (``MapSettings.breaks_min``, :func:`geo.products.maps.surface_image`). Bounds are
    ``[[south, west], [north, east]]`` degrees of the Web-Mercator image.
    """
    rgba, bounds = surface_image(populated_minutes(ev), ev.acc.settings.maps.breaks_min)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), bounds


# --------------------------------------------------------------------------- storage


class SavedScenario(BaseModel):
    """A scenario as stored: its id, name, time saved, the plan and the data vintages."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SCENARIO_ID.pattern, description="file name and link id")
    name: str = Field(min_length=1, max_length=200)
    saved: str = Field(description="ISO time, Europe/Berlin")
    plan: Plan
    vintages: dict[str, str] = Field(description="data source → vintage when saved")


def _slug(name: str) -> str:
    """File-name part of a scenario name: ``Kita Rosdorf Süd`` → ``kita-rosdorf-sued``."""
    lowered = name.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        lowered = lowered.replace(umlaut, plain)
    ascii_ = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")[:40].strip("-") or "szenario"


class ScenarioStore:
    """Saved scenarios of one region: one JSON file each in ``PlannerSettings.folder``.

    Parameters
    ----------
    settings
        Work directory, region and :class:`~geo.settings.PlannerSettings` (limits).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = settings.planner
        self.folder = settings.processed_dir / settings.region / self.limits.folder

    def _path(self, scenario_id: str) -> Path:
        """Return the file of ``scenario_id``; PlanError unless the id is a plain file name."""
        if not SCENARIO_ID.match(scenario_id):
            raise PlanError("id", text("planner.errors.id"))
        return self.folder / f"{scenario_id}.json"

    def check_name(self, name: str) -> str:
        """Return the name stripped; PlanError when empty, too long or with odd characters."""
        name = name.strip()
        if not 1 <= len(name) <= self.limits.name_max_chars or not _NAME.match(name):
            raise PlanError("name", text("planner.errors.name",
                                         most=self.limits.name_max_chars))
        return name

    def save(self, name: str, plan: Plan) -> SavedScenario:
        """Save ``plan`` under ``name`` as a new scenario (atomic write); return it.

        Raises
        ------
        PlanError
            A bad name.
        LimitError
            The store holds ``max_scenarios`` already, or the file would exceed
            ``file_max_bytes``.
        """
        name = self.check_name(name)
        check_plan(plan, self.settings)
        if len(self.ids()) >= self.limits.max_scenarios:
            raise LimitError(text("planner.errors.store_full", most=self.limits.max_scenarios))
        saved = SavedScenario(
            id=f"{_slug(name)}-{secrets.token_hex(3)}", name=name, plan=plan,
            saved=dt.datetime.now(LOCAL_TIME).isoformat(timespec="seconds"),
            vintages={s.key: f"{s.source} {s.vintage}" for s in data_sources(self.settings)})
        doc = saved.model_dump(mode="json")
        if len(json.dumps(doc, ensure_ascii=False).encode()) > self.limits.file_max_bytes:
            raise LimitError(text("planner.errors.too_large", most=self.limits.file_max_bytes))
        write_json(self._path(saved.id), doc)
        log.info("saved scenario %s (%s) in %s", saved.id, plan.describe(), self.folder)
        return saved

    def load(self, scenario_id: str) -> SavedScenario:
        """Read one scenario (ScenarioNotFoundError, or DataError for a damaged file)."""
        path = self._path(scenario_id)
        if not path.is_file():
            raise ScenarioNotFoundError(text("planner.errors.not_found", id=scenario_id))
        if path.stat().st_size > self.limits.file_max_bytes:
            raise LimitError(text("planner.errors.too_large", most=self.limits.file_max_bytes))
        try:
            saved = SavedScenario.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise PlanError("id", text("planner.errors.damaged", id=scenario_id,
                                       reason=exc.errors()[0]["msg"])) from None
        if saved.id != scenario_id:
            raise PlanError("id", text("planner.errors.damaged", id=scenario_id,
                                       reason="id"))
        return saved

    def ids(self) -> list[str]:
        """Ids of the stored scenario files (newest first)."""
        if not self.folder.is_dir():
            return []
        files = [p for p in self.folder.glob("*.json") if SCENARIO_ID.match(p.stem)]
        return [p.stem for p in sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)]

    def list(self) -> list[SavedScenario]:
        """Every readable scenario, newest first; unreadable files are logged and left out."""
        out = []
        for scenario_id in self.ids():
            try:
                out.append(self.load(scenario_id))
            except ErreichbarError as exc:
                log.warning("scenario file %s left out of the list: %s", scenario_id, exc)
        return out


def compare(acc: Accessibility, a: Plan, b: Plan) -> pd.DataFrame:
    """Weight gained per Gemeinde by two plans, side by side.

    Columns ``ags``, ``name``, ``total_a``, ``gained_a``, ``total_b``, ``gained_b`` and
    ``difference`` (``gained_b − gained_a``); the totals differ only when the plans count
    different weights.
    """
    first, second = evaluate(acc, a).table, evaluate(acc, b).table
    return pd.DataFrame({
        "ags": first["ags"], "name": first["name"],
        "total_a": first["total"], "gained_a": first["gained"],
        "total_b": second["total"].to_numpy(), "gained_b": second["gained"].to_numpy(),
        "difference": second["gained"].to_numpy() - first["gained"].to_numpy()})


# --------------------------------------------------------------------------- exports


def table_frame(ev: Evaluation, lang: str = "de") -> pd.DataFrame:
    """Return the Gemeinde table with headers for people (shares in percent)."""
    t = ev.table
    weight = label("weight", ev.plan.weight, lang)
    m = ev.plan.minutes
    return pd.DataFrame({
        text("planner.columns.ags", lang): t["ags"],
        text("planner.columns.name", lang): t["name"],
        weight: t["total"].round(1),
        text("planner.columns.within_before", lang, minutes=m): t["within_before"].round(1),
        text("planner.columns.within_after", lang, minutes=m): t["within_after"].round(1),
        text("planner.columns.gained", lang): t["gained"],
        text("planner.columns.share_before", lang): (t["share_before"] * 100).round(1),
        text("planner.columns.share_after", lang): (t["share_after"] * 100).round(1)})


def plan_sources(ev: Evaluation) -> tuple[DataSource, ...]:
    """Return the data sources of an evaluation: the region's, and the timetable for transit."""
    own = data_sources(ev.acc.settings)
    return (*own, timetable_source(ev.acc.settings)) if ev.plan.mode == Mode.transit else own


def _sources(ev: Evaluation) -> pd.DataFrame:
    """List the data sources with vintage and attribution (a sheet or table of every export)."""
    return pd.DataFrame([{"quelle": s.source, "inhalt": s.layer, "stand": s.vintage,
                          "lizenz": s.attribution} for s in plan_sources(ev)])


def _plan_rows(ev: Evaluation) -> pd.DataFrame:
    """Return the plan as key/value rows (sheet ``Szenario``, GeoPackage table ``szenario``)."""
    p = ev.plan
    return pd.DataFrame({"feld": ["szenario", "kategorie", "verkehrsmittel", "minuten",
                                  "gewicht", "neue_standorte", "geschlossen"],
                         "wert": [p.describe(), p.category.value, p.mode.value,
                                  str(p.minutes), p.weight.value,
                                  "; ".join(f"{lon:.6f},{lat:.6f}" for lon, lat in p.add),
                                  "; ".join(p.remove)]})


def _csv(ev: Evaluation, folder: Path) -> Path:
    """CSV (UTF-8 with BOM) of the table; ``#`` lines above it say plan and sources."""
    target = folder / "tabelle.csv"
    notes = [ev.plan.describe(), *(f"{s.source} ({s.vintage}), {s.attribution}"
                                   for s in plan_sources(ev))]
    body = neutralise_frame(table_frame(ev)).to_csv(index=False, lineterminator="\n")
    target.write_text("".join(f"# {n}\n" for n in notes) + body, "utf-8-sig")
    return target


def _xlsx(ev: Evaluation, folder: Path) -> Path:
    """XLSX: sheets ``Gemeinden`` (the table), ``Szenario`` and ``Quellen``."""
    target = folder / "tabelle.xlsx"
    with pd.ExcelWriter(target, engine="openpyxl") as xl:
        neutralise_frame(table_frame(ev)).to_excel(xl, sheet_name="Gemeinden", index=False)
        _plan_rows(ev).to_excel(xl, sheet_name="Szenario", index=False)
        _sources(ev).to_excel(xl, sheet_name="Quellen", index=False)
    return target


def _points(lonlat: np.ndarray, columns: dict[str, object]) -> gpd.GeoDataFrame:
    """Points (EPSG:3035) from WGS84 lon/lat rows with ``columns``."""
    lonlat = lonlat.reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]),
                            crs="EPSG:4326").to_crs(METRIC_CRS)


def _gpkg(ev: Evaluation, folder: Path) -> Path:
    """Write the GeoPackage (EPSG:3035).

    Layers ``gemeinden``, ``neue_standorte``, ``geschlossen``; tables ``szenario`` and
    ``quellen``.
    """
    target = folder / "ebenen.gpkg"
    units = ev.acc.units("gemeinde").set_index("ags")
    table = ev.table.assign(minutes=ev.plan.minutes, weight=ev.plan.weight.value)
    gpd.GeoDataFrame(table, geometry=units.geometry.reindex(table["ags"]).to_numpy(),
                     crs=units.crs).to_file(target, layer="gemeinden", driver="GPKG")
    add = np.asarray(ev.plan.add, float).reshape(-1, 2)
    _points(add, {"id": [f"new-{i + 1}" for i in range(len(add))]}).to_file(
        target, layer="neue_standorte", driver="GPKG", geometry_type="Point")
    offers = ev.acc.offers
    closed = offers[offers["id"].isin(list(ev.plan.remove))]
    _points(closed[["lon", "lat"]].to_numpy(float),
            {"id": closed["id"].to_numpy(), "name": closed["name"].to_numpy()}
            ).to_file(target, layer="geschlossen", driver="GPKG", geometry_type="Point")
    pyogrio.write_dataframe(_plan_rows(ev), target, layer="szenario")
    pyogrio.write_dataframe(_sources(ev), target, layer="quellen")
    return target


def _tif(ev: Evaluation, folder: Path) -> Path:
    """GeoTIFF (COG, EPSG:3035, 100 m): minutes to the nearest offer with the plan.

    Every 100 m cell of the county (not only the populated ones); nodata −1 = outside the
    county, not connected or no offer reachable. Tags name the plan and the sources.
    """
    target = folder / "fahrzeit.tif"
    grid = ev.acc.data.raster_grid()
    minutes, _ = ev.after(RASTER)
    minutes = np.where(np.isfinite(minutes), minutes, np.nan)
    tags = {"szenario": ev.plan.describe(),
            **{f"quelle_{s.key}": f"{s.source} {s.vintage}; {s.attribution}"
               for s in plan_sources(ev)}}
    write_cog(target, pd.DataFrame({"x": grid["x"], "y": grid["y"], "minutes": minutes}),
              "minutes", 100, tuple(ev.acc.units("county").total_bounds), "float32", -1.0,
              tags)
    return target


#: The writer of each export format (into a folder; returns the file).
_WRITERS: Final[dict[str, Callable[[Evaluation, Path], Path]]] = {
    "csv": _csv, "xlsx": _xlsx, "gpkg": _gpkg, "tif": _tif}


def export(ev: Evaluation, fmt: ExportFormat) -> bytes:
    """Bytes of one export of the evaluation (see :data:`FORMATS`).

    Written in a private temporary folder, read back and removed (nothing persists).
    """
    if fmt not in _WRITERS:
        raise PlanError("format", text("planner.errors.format", formats=", ".join(FORMATS)))
    with tempfile.TemporaryDirectory(prefix="erreichbar-export-") as tmp:
        return _WRITERS[fmt](ev, Path(tmp)).read_bytes()
