"""Mobility reports for social planning: one A4 report per municipal unit and a county overview.

``erreichbar report --unit "<name or AGS>" [--all] [--format html|pdf] [--out DIR]`` writes,
per unit, a German, print-friendly report (HTML from ``geo/products/templates/unit.html``; PDF via
WeasyPrint) with

* inhabitants (census, 1 km) and children under 10 (census, 100 m);
* offers by category in the unit, active vs planned/closed;
* children-weighted coverage within ``ReportSettings.thresholds_min`` by walk, bike and car,
  for the unit, the county and the youth-office area (:meth:`Accessibility.coverage`);
* a static map per ``ReportSettings.map_categories`` (matplotlib, no tile server) and a
  table of white spots named by their nearest OSM place;
* the Kita → Grundschule transition (:mod:`geo.products.transition`) and the best new sites
  (:mod:`geo.products.siting`);
* data sources, vintages, licences, the date and the parameters used.

Every figure is the engine's (:class:`geo.engine.access.Accessibility`,
:mod:`geo.products.transition`,
:mod:`geo.products.siting`); this module only selects, formats and lays them out. Each number in the
HTML carries ``data-key`` / ``data-value`` attributes with the unformatted value, so tests
and other tools can read it back.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from scipy.spatial import cKDTree

from geo._io import atomic_write, clean_stray_tmp, neutralise_frame
from geo.engine import coverage as cov
from geo.engine.access import Accessibility
from geo.errors import DataError, RegionError
from geo.networks.snap import to_metric
from geo.products import siting, transition
from geo.products.chain import ChainData, chain_section
from geo.products.priority import CORE_CATEGORIES, CORE_MODES, FORMULA, priority_table
from geo.settings import Settings
from geo.sources import population
from geo.sources.social import context_facts
from geo.vocabulary import (
    STREET_MODES,
    Category,
    Status,
    attribution,
    data_sources,
    label,
)

log = logging.getLogger(__name__)

FORMATS: Final = ("html", "pdf")
#: Minute classes of the maps (upper bounds) and their colours (green → red, then purple).
MAP_BINS: Final = (5.0, 10.0, 15.0, 20.0, 30.0, np.inf)
MAP_COLOURS: Final = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#b2182b")
# --------------------------------------------------------------------------- formatting


def _de(value: float, decimals: int) -> str:
    """German number: decimal comma, dot thousands (e.g. ``24.735``, ``72,4``)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def fmt(value: Any, kind: str) -> str:
    """Format an engine value for the report.

    ``kind``: ``int`` (persons, counts), ``pct`` (share 0–1 → ``72,4 %``), ``min``
    (minutes, one decimal; inf → ``nicht erreichbar``, NaN → ``–``).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if kind == "int":
        return _de(round(float(value)), 0)
    if kind == "pct":
        return f"{_de(100.0 * float(value), 1)} %"
    if kind == "min":
        return "nicht erreichbar" if np.isinf(value) else _de(float(value), 1)
    raise ValueError(f"unknown number kind {kind!r}")


def _num(key: str, value: Any, kind: str) -> dict[str, str]:
    """Return a number for the template: its key, raw value (repr) and formatted text."""
    raw = value.item() if isinstance(value, np.generic) else value
    return {"key": key, "value": repr(raw), "text": fmt(raw, kind)}


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    """Encode a matplotlib figure as a PNG data URI (the HTML stays one file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def slug(name: str) -> str:
    """File-name form of a unit name (``Hann. Münden`` → ``hann-muenden``)."""
    text = name.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


# --------------------------------------------------------------------------- figures


@dataclass
class ReportData:
    """The engine's figures a set of reports needs, computed once and shared.

    Parameters
    ----------
    acc
        The engine of the region.
    """

    acc: Accessibility
    _coverage: dict[tuple[str, str, str], gpd.GeoDataFrame] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """The engine's settings."""
        return self.acc.settings

    def coverage(self, category: str, mode: str, level: str) -> gpd.GeoDataFrame:
        """:meth:`Accessibility.coverage` at the report thresholds, indexed by ``ags``."""
        key = (category, mode, level)
        if key not in self._coverage:
            table = self.acc.coverage(level, category, mode,
                                      minutes=self.settings.report.thresholds_min)
            self._coverage[key] = table.set_index("ags", drop=False)
        return self._coverage[key]

    @cached_property
    def chain(self) -> ChainData:
        """The prevention chain's figures of the engine (:mod:`geo.products.chain`)."""
        return ChainData(self.acc)

    @cached_property
    def priority(self) -> pd.DataFrame:
        """:func:`geo.products.priority.priority_table` of the engine, indexed by ``ags``."""
        return priority_table(self.acc).set_index("ags", drop=False)

    @cached_property
    def units(self) -> gpd.GeoDataFrame:
        """Municipal units (EPSG:3035), indexed by ``ags``."""
        return self.acc.units("unit").set_index("ags", drop=False)

    @cached_property
    def gemeinden(self) -> gpd.GeoDataFrame:
        """Gemeinden (EPSG:3035)."""
        return self.acc.units("gemeinde")

    @cached_property
    def offer_units(self) -> pd.Series:
        """Municipal unit (ARS) of every offer, indexed by offer id."""
        to_unit = self.gemeinden.set_index("ags")["unit_ags"]
        return transition.offer_gemeinden(self.acc).map(to_unit)

    @cached_property
    def inhabitants(self) -> pd.Series:
        """Census inhabitants per unit (1 km cells by centre)."""
        return population.aggregate(self.acc.cell_frame("inhabitants"), "inhabitants",
                                    "unit_ags")

    @cached_property
    def kita_schools(self) -> pd.DataFrame:
        """:func:`geo.products.transition.kita_schools` for every mode."""
        return transition.kita_schools(self.acc, STREET_MODES)

    @cached_property
    def transition_cells(self) -> pd.DataFrame:
        """:func:`geo.products.transition.children_transition` with the report settings."""
        return transition.children_transition(self.acc)

    @cached_property
    def places(self) -> tuple[cKDTree, np.ndarray]:
        """KD-tree (EPSG:3035) and names of the OSM places of ``ReportSettings.place_classes``."""
        from geo.sources.tiles import feature_names, read_layer

        tiles = self.acc.region.tiles
        if tiles is None:
            raise DataError(f"region {self.acc.region.name} has no vector tiles for place names")
        layer = read_layer(self.settings.data_dir / tiles.path, "place",
                           cache_dir=self.settings.processed_dir / "tiles-cache",
                           zoom=tiles.zoom)
        name = feature_names(layer)
        keep = layer["class"].isin(self.settings.report.place_classes).to_numpy() \
            & name.notna().to_numpy()
        if not keep.any():
            raise DataError("the tiles' place layer has no named settlements")
        x, y = to_metric(layer.geometry.x.to_numpy()[keep], layer.geometry.y.to_numpy()[keep])
        return cKDTree(np.column_stack([x, y])), name.to_numpy()[keep]

    def nearest_place(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Name of the nearest OSM place of each EPSG:3035 point (metres)."""
        tree, names = self.places
        _, idx = tree.query(np.column_stack([x, y]))
        return names[idx]

    def find_units(self, queries: Sequence[str]) -> list[str]:
        """Return the unit ARS for names or keys.

        A query is an exact ARS, an 8-digit Gemeinde AGS, or the name (case-insensitive,
        exact first, else a unique prefix).

        Raises
        ------
        RegionError
            No or several units match; the message lists the units.
        """
        units = self.units
        out = []
        for query in queries:
            q = query.strip()
            lower = units["name"].str.lower()
            gemeinde = self.gemeinden.loc[self.gemeinden["ags"] == q, "unit_ags"]
            if q in units.index:
                out.append(q)
            elif len(gemeinde):
                out.append(str(gemeinde.iloc[0]))
            elif (lower == q.lower()).sum() == 1:
                out.append(str(units.index[lower == q.lower()][0]))
            elif lower.str.startswith(q.lower()).sum() == 1:
                out.append(str(units.index[lower.str.startswith(q.lower())][0]))
            else:
                raise RegionError(
                    f"unit {query!r} not found or not unique; units: "
                    + "; ".join(f"{n} ({a})" for a, n in zip(units["ags"], units["name"],
                                                             strict=True)))
        return out


# --------------------------------------------------------------------------- sections


def _population(data: ReportData, ags: str) -> dict[str, Any]:
    """Collect the unit's inhabitants and the children of unit, county and youth office.

    The children are the weights of the engine's coverage tables.
    """
    children = []
    for level in ("unit", "county", "youth_office"):
        table = data.coverage("kita", "walk", level)
        row = table.loc[ags] if level == "unit" else table.iloc[0]
        children.append({"area": label("level", level),
                         "num": _num(f"pop|children|{level}", row["children"], "int")})
    return {"inhabitants": _num("pop|inhabitants", int(data.inhabitants.get(ags, 0)), "int"),
            "children": children}


def _priority_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of the priority table for the template (:mod:`geo.products.priority`)."""
    rows = []
    for ags, r in table.iterrows():
        rows.append({"rank": int(r["rank"]), "name": r["name"], "nums": [
            _num(f"prio|{ags}|children", r["children_under_10"], "int"),
            _num(f"prio|{ags}|single_parents", r["single_parent_families"], "int"),
            _num(f"prio|{ags}|single_parent_share", r["single_parent_share"], "pct"),
            *[_num(f"prio|{ags}|{c}|{m}", r[f"{c}_{m}_single_parent_families_share"], "pct")
              for c in CORE_CATEGORIES for m in CORE_MODES],
            _num(f"prio|{ags}|unreached", r["unreached_single_parent_families"], "int")]})
    return rows


def _priority(data: ReportData, ags: str | None = None) -> dict[str, Any]:
    """Build the priority section: formula, heads and rows (all Gemeinden, or a unit's)."""
    table = data.priority
    if ags is not None:
        table = table[table["unit_ags"] == ags]
    return {"formula": FORMULA, "of": len(data.priority),
            "columns": [f"{label('category', c)} {label('mode_short', m)}"
                        for c in CORE_CATEGORIES for m in CORE_MODES],
            "rows": _priority_rows(table)}


def _offers(data: ReportData, ags: str) -> list[dict[str, Any]]:
    """Offers in the unit per category and status (all categories of the catalogue)."""
    offers = data.acc.offers
    inside = offers[(data.offer_units.loc[offers["id"]] == ags).to_numpy()]
    counts = inside.groupby(["category", "status"]).size()
    return [{"category": label("category", c),
             "nums": [_num(f"offers|{c}|{s}", int(counts.get((c, s), 0)), "int")
                      for s in Status]}
            for c in Category]


def _coverage_section(data: ReportData, ags: str) -> list[dict[str, Any]]:
    """Per category: rows (mode × area) of shares within the thresholds and the median."""
    rs = data.settings.report
    out = []
    for category in rs.categories:
        if category not in data.acc.categories():
            continue
        rows = []
        for mode in STREET_MODES:
            for level in ("unit", "county", "youth_office"):
                t = data.coverage(category, mode, level)
                row = t.loc[ags] if level == "unit" else t.iloc[0]
                prefix = f"cov|{category}|{mode}|{level}"
                rows.append({
                    "mode": label("mode_short", mode), "area": label("level", level),
                    "first": level == "unit",
                    "nums": [_num(f"{prefix}|{m}", row[f"children_within_{m}min_share"], "pct")
                             for m in rs.thresholds_min]
                    + [_num(f"{prefix}|median", row["children_median_minutes"], "min")],
                })
        out.append({"category": label("category", category), "rows": rows})
    return out


def _white_spots(data: ReportData, ags: str, category: str) -> dict[str, Any]:
    """White spots of the unit for ``category`` by the focus mode, grouped by nearest place.

    The total is the engine's ``children_beyond_<white_spot_min>min``; the places split it
    by the nearest OSM place of each cell (children, median minutes of the reachable ones,
    children in cells not connected to the network).
    """
    mode = data.settings.report.focus_mode
    limit = data.settings.access.white_spot_min
    cells = data.acc.cells(category, mode)
    spot = cells[(cells["unit_ags"] == ags).to_numpy() & ~(cells["minutes"] <= limit).to_numpy()]
    place = data.nearest_place(spot["x"].to_numpy(), spot["y"].to_numpy())
    per_place = cov.summarise(spot["minutes"].to_numpy(), spot["connected"].to_numpy(),
                              spot["children_under_10"].to_numpy(), place, "children", (), limit)
    per_place = per_place.sort_values(["children", "children_median_minutes"],
                                      ascending=[False, False])
    total = data.coverage(category, mode, "unit").loc[ags, f"children_beyond_{limit}min"]
    rows = [{"place": name,
             "nums": [_num(f"ws|{category}|{name}|children", r["children"], "int"),
                      _num(f"ws|{category}|{name}|median", r["children_median_minutes"], "min"),
                      _num(f"ws|{category}|{name}|not_connected", r["children_not_connected"],
                           "int")]}
            for name, r in per_place.head(data.settings.report.white_spot_rows).iterrows()]
    return {"total": _num(f"ws|{category}|total", total, "int"), "rows": rows,
            "places": len(per_place), "shown": len(rows)}


def _map(data: ReportData, ags: str, category: str) -> str:
    """PNG data URI: minutes to the nearest offer by the focus mode around the unit.

    The engine's 100 m minute raster (:meth:`Accessibility.raster_minutes`) in classes of
    :data:`MAP_BINS`, the unit (black) and Gemeinde borders (grey), active offers (filled)
    and planned/closed ones (hollow). Outside the unit the raster is faded.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    plt = _pyplot()

    mode = data.settings.report.focus_mode
    unit = data.units.loc[[ags]]
    x0, y0, x1, y1 = unit.total_bounds + np.array([-1000, -1000, 1000, 1000])
    raster = data.acc.raster_minutes(category, mode)
    inside = raster["x"].between(x0, x1) & raster["y"].between(y0, y1)
    r = raster[inside.to_numpy()]
    cols = np.round((r["x"].to_numpy() - x0 - 50) / 100).astype(int)
    rows = np.round((y1 - 50 - r["y"].to_numpy()) / 100).astype(int)
    image = np.full((rows.max(initial=0) + 1, cols.max(initial=0) + 1), np.nan)
    image[rows, cols] = r["minutes"].to_numpy()
    fig, ax = plt.subplots(figsize=(6.7, 5.6))
    bounds = [0.0, *MAP_BINS[:-1], 1e9]
    cmap = ListedColormap(MAP_COLOURS).with_extremes(bad="#d9d9d9")
    ax.imshow(np.ma.masked_invalid(image), cmap=cmap, norm=BoundaryNorm(bounds, cmap.N),
              extent=(x0, x0 + 100 * image.shape[1], y1 - 100 * image.shape[0], y1),
              interpolation="nearest", zorder=1)
    frame = gpd.GeoSeries([shapely.box(x0, y0, x1, y1)], crs=unit.crs)
    frame.difference(unit.geometry.iloc[0]).plot(ax=ax, color="white", alpha=0.6, zorder=2)
    data.gemeinden.boundary.plot(ax=ax, color="#636363", linewidth=0.5, zorder=3)
    unit.boundary.plot(ax=ax, color="black", linewidth=1.4, zorder=4)
    offers = data.acc.offers
    offers = offers[offers["category"] == category].to_crs(unit.crs)
    active = offers["status"] == "active"
    offers[active].plot(ax=ax, color="black", markersize=14, edgecolor="white", linewidth=0.6,
                        zorder=5)
    if (~active).any():
        offers[~active].plot(ax=ax, facecolor="none", edgecolor="black", markersize=20,
                             linewidth=1.0, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    labels = ["≤ 5", "5–10", "10–15", "15–20", "20–30", "> 30"]
    handles = [Patch(color=c, label=f"{lab} min") for c, lab in zip(MAP_COLOURS, labels,
                                                                     strict=True)]
    handles.append(Patch(color="#d9d9d9", label="kein Netzanschluss"))
    ax.legend(handles=handles, loc="lower left", fontsize=6.5, framealpha=0.9,
              title=f"{label('category', category)}, {label('mode_short', mode)}", title_fontsize=7)
    km = 5 if (x1 - x0) > 15000 else 2
    ax.plot([x1 - 800 - km * 1000, x1 - 800], [y0 + 700] * 2, color="black", linewidth=2,
            zorder=6)
    ax.text(x1 - 800 - km * 500, y0 + 900, f"{km} km", ha="center", fontsize=7, zorder=6)
    ax.text(x1, y0 - 150, attribution(data.settings).replace(" | ", " · "), ha="right",
            va="top", fontsize=5.5)
    fig.tight_layout()
    return _png(fig)


def _transition(data: ReportData, ags: str) -> dict[str, Any]:
    """Kitas of the unit with their nearest Grundschule, and the affected children."""
    rs = data.settings.report
    ks = data.kita_schools
    ks = ks[(data.offer_units.loc[ks["kita_id"]] == ags).to_numpy()]
    by = ks.set_index(["kita_id", "mode"])
    kitas = [{
        "name": k.kita_name, "school": k.grundschule_name or "–",
        "other_gemeinde": bool(k.other_gemeinde),
        "nums": [{**_num(f"tr|{k.kita_id}|{m}", by.loc[(k.kita_id, m), "minutes"], "min"),
                  "other_school": by.loc[(k.kita_id, m), "grundschule_id"] != k.grundschule_id}
                 for m in STREET_MODES],
    } for k in ks[ks["mode"] == "walk"].sort_values("kita_name").itertuples()]
    cells = data.transition_cells
    cells = cells[cells["unit_ags"] == ags]
    weight = cells["children_under_10"]
    total = float(weight.sum())
    counts = {flag: float(weight[cells[flag]].sum())
              for flag in ("affected", "other_gemeinde", "far_apart")}
    return {
        "kitas": kitas, "mode": label("mode_short", rs.transition_mode),
        "max_min": _de(rs.transition_max_min, 0),
        "children": {flag: _num(f"tr|children|{flag}", n, "int") for flag, n in counts.items()},
        "shares": {flag: _num(f"tr|share|{flag}", n / total if total else np.nan, "pct")
                   for flag, n in counts.items()},
    }


def _sites(data: ReportData, ags: str) -> list[dict[str, Any]]:
    """Best new sites per map category for the unit's children (focus mode, white-spot time)."""
    rs = data.settings.report
    minutes = data.settings.access.white_spot_min
    out = []
    for category in rs.map_categories:
        result = siting.best_sites(data.acc, category, rs.focus_mode, minutes, rs.sites_k,
                                   unit_ags=ags)
        sites = result.sites
        place = data.nearest_place(*to_metric(sites["lon"].to_numpy(), sites["lat"].to_numpy()))
        out.append({
            "category": label("category", category),
            "before": _num(f"site|{category}|before", result.covered_before, "int"),
            "total": _num(f"site|{category}|total", result.total_children, "int"),
            "rows": [{"rank": int(s.rank), "place": p, "lat": f"{s.lat:.5f}", "lon": f"{s.lon:.5f}",
                      "nums": [_num(f"site|{category}|{s.rank}|gained", s.children_gained, "int"),
                               _num(f"site|{category}|{s.rank}|share", s.share_covered, "pct")]}
                     for s, p in zip(sites.itertuples(), place, strict=True)],
        })
    return out


def _cited_sources(data: ReportData, ags: str) -> list[dict[str, str]]:
    """Public sources of the family offers (not schools, not OSM POIs) located in the unit."""
    offers = data.acc.offers
    inside = offers[(data.offer_units.loc[offers["id"]] == ags).to_numpy()
                    & offers["id"].str.startswith("familie-").to_numpy()]
    return [{"name": o.name, "category": label("category", o.category),
             "status": label("status", o.status),
             "source": o.source, "date": o.source_date or "–"}
            for o in inside.sort_values(["category", "name"]).itertuples()]


def _parameters(settings: Settings) -> list[tuple[str, str]]:
    """List the parameters a report rests on, as (label, value) in German."""
    a, rs = settings.access, settings.report
    return [
        ("Gehgeschwindigkeit", f"{_de(settings.walk.default, 1)} km/h"),
        ("Radgeschwindigkeit", f"{_de(settings.bike.default, 1)} km/h"),
        ("Auto", "Geschwindigkeit je Straßenklasse innerorts/außerorts (Einstellungen)"),
        ("Umwegfaktor Zugang", _de(a.detour_factor, 2)),
        ("Max. Abstand zum Netz", f"{_de(a.snap_max_m, 0)} m"),
        ("Schwellen", ", ".join(str(m) for m in rs.thresholds_min) + " min"),
        ("Weißer Fleck ab", f"{a.white_spot_min} min ({label('mode_short', rs.focus_mode)})"),
        ("Übergang Kita → Grundschule",
         f"{label('mode_short', rs.transition_mode)}, > {_de(rs.transition_max_min, 0)} min"),
        ("Standortkandidaten", f"Netzknoten, einer je {_de(rs.site_candidate_spacing_m, 0)} m"),
        ("Region", settings.region),
    ]


# --------------------------------------------------------------------------- rendering


def environment() -> Environment:
    """Return the Jinja environment of the report templates (``geo/products/templates``)."""
    return Environment(loader=PackageLoader("geo.products", "templates"),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def unit_context(data: ReportData, ags: str, now: dt.datetime) -> dict[str, Any]:
    """Everything the unit template shows, from the engine's figures."""
    rs = data.settings.report
    unit = data.units.loc[ags]
    return {
        "title": f"{unit['bez']} {unit['name']}", "ags": ags,
        "region": data.acc.region.title, "date": now.strftime("%d.%m.%Y, %H:%M UTC"),
        "thresholds": rs.thresholds_min, "focus_mode": label("mode_short", rs.focus_mode),
        "white_spot_min": data.settings.access.white_spot_min,
        "population": _population(data, ags), "statuses": [label("status", s) for s in Status],
        "offers": _offers(data, ags), "coverage": _coverage_section(data, ags),
        "maps": [{"category": label("category", c), "png": _map(data, ags, c),
                  "white_spots": _white_spots(data, ags, c)} for c in rs.map_categories],
        "transition": _transition(data, ags), "sites": _sites(data, ags),
        "sources": data_sources(data.settings),
        "census": population.population_basis(data.settings),
        "context": context_facts(data.settings),
        "priority": _priority(data, ags), "cited": _cited_sources(data, ags),
        "chain": chain_section(data.chain, ags),
        "parameters": _parameters(data.settings),
    }


def overview_context(data: ReportData, now: dt.datetime) -> dict[str, Any]:
    """Build the county overview: one row per unit, a bar chart, the priority table."""
    plt = _pyplot()
    rs = data.settings.report
    minutes = data.settings.access.white_spot_min
    shares = [(c, m) for c in rs.map_categories for m in ("walk", rs.focus_mode)
              if m == "walk" or rs.focus_mode != "walk"]
    units = data.units.sort_values("name")
    rows = []
    for ags, unit in units.iterrows():
        nums = [_num(f"ov|{ags}|inhabitants", int(data.inhabitants.get(ags, 0)), "int"),
                _num(f"ov|{ags}|children",
                     data.coverage("kita", "walk", "unit").loc[ags, "children"], "int")]
        for category in rs.map_categories:
            nums += [_num(f"ov|{ags}|{category}|{m}|{minutes}",
                          data.coverage(category, m, "unit").loc[
                              ags, f"children_within_{minutes}min_share"], "pct")
                     for c, m in shares if c == category]
            nums.append(_num(f"ov|{ags}|{category}|{rs.focus_mode}|median",
                             data.coverage(category, rs.focus_mode, "unit").loc[
                                 ags, "children_median_minutes"], "min"))
        rows.append({"name": unit["name"], "ags": ags, "nums": nums})
    fig, ax = plt.subplots(figsize=(6.7, 7.0))
    y = np.arange(len(units))
    height = 0.8 / len(rs.map_categories)
    for i, (category, colour) in enumerate(zip(rs.map_categories, ("#1b9e77", "#d95f02",
                                                                   "#7570b3"), strict=False)):
        share = data.coverage(category, rs.focus_mode, "unit").loc[
            units.index, f"children_within_{minutes}min_share"].to_numpy()
        ax.barh(y + i * height, 100 * share, height, label=label("category", category),
                color=colour)
    ax.set_yticks(y + height * (len(rs.map_categories) - 1) / 2, units["name"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    focus = label("mode_short", rs.focus_mode)
    ax.set_xlabel(f"Anteil der Kinder unter 10 mit ≤ {minutes} min ({focus}), %",
                  fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", color="#dddddd")
    fig.tight_layout()
    return {
        "title": f"Übersicht {data.acc.region.title}", "region": data.acc.region.title,
        "date": now.strftime("%d.%m.%Y, %H:%M UTC"), "minutes": minutes,
        "focus_mode": label("mode_short", rs.focus_mode),
        "groups": [label("category", c) for c in rs.map_categories],
        "columns": [f"≤ {minutes} min {label('mode_short', m)}" for c, m in shares
                    if c == rs.map_categories[0]] + [f"Median min {focus}"],
        "rows": rows, "chart": _png(fig), "sources": data_sources(data.settings),
        "census": population.population_basis(data.settings),
        "context": context_facts(data.settings),
        "priority": _priority(data), "parameters": _parameters(data.settings),
    }


def write_pdf(html: str, target: Path) -> Path:
    """Render report HTML to an A4 PDF with WeasyPrint (atomic write)."""
    from weasyprint import HTML

    return atomic_write(target, lambda p: HTML(string=html).write_pdf(p))


def _write(html: str, target: Path, fmt_: str) -> Path:
    """Write ``html`` as ``target`` (.html) or its PDF (.pdf)."""
    if fmt_ == "pdf":
        return write_pdf(html, target.with_suffix(".pdf"))
    return atomic_write(target.with_suffix(".html"), lambda p: p.write_text(html, "utf-8"))


def write_reports(settings: Settings, units: Sequence[str] = (), every: bool = False,
                  fmt_: str = "html", out: Path | None = None,
                  acc: Accessibility | None = None) -> dict[str, Any]:
    """Write unit reports (and, with ``every``, all units plus the county overview).

    Parameters
    ----------
    settings
        Settings (region, data, report parameters).
    units
        Unit names or keys (see :meth:`ReportData.find_units`).
    every
        All units of the region and the overview ``uebersicht``.
    fmt_
        ``html`` or ``pdf``.
    out
        Output folder (default ``<work_dir>/reports``). Per unit ``<slug>.html|pdf`` and the
        transition tables ``<slug>_uebergang_kitas.csv`` and ``<slug>_uebergang_kinder.csv``.
    acc
        An engine to reuse (default: a new one on ``settings``).

    Returns
    -------
    dict
        JSON summary: ``files``, ``units``, ``seconds``.
    """
    if fmt_ not in FORMATS:
        raise DataError(f"unknown format {fmt_!r}; formats: {', '.join(FORMATS)}")
    if not units and not every:
        raise DataError("name a unit (--unit) or ask for all units (--all)")
    t0 = time.perf_counter()
    data = ReportData(acc or Accessibility(settings))
    chosen = list(data.units.index) if every else data.find_units(units)
    out = Path(out) if out is not None else settings.work_dir / "reports"
    clean_stray_tmp(out)  # leftovers of a killed run; every file is written atomically
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    env = environment()
    files = []
    for ags in chosen:
        name = slug(data.units.loc[ags, "name"])
        html = env.get_template("unit.html").render(unit_context(data, ags, now))
        files += [_write(html, out / name, fmt_), *_transition_csv(data, ags, out / name)]
        log.info("report of %s written to %s", ags, out / name)
    if every:
        html = env.get_template("overview.html").render(overview_context(data, now))
        files.append(_write(html, out / "uebersicht", fmt_))
    return {"files": [str(f) for f in files], "units": chosen,
            "seconds": round(time.perf_counter() - t0, 1)}


def _transition_csv(data: ReportData, ags: str, stem: Path) -> list[Path]:
    """Write the unit's transition tables as CSV: Kitas and affected children cells."""
    ks = data.kita_schools
    ks = ks[(data.offer_units.loc[ks["kita_id"]] == ags).to_numpy()]
    cells = data.transition_cells
    cells = cells[(cells["unit_ags"] == ags) & cells["affected"]]

    def writer(frame: pd.DataFrame) -> Callable[[Path], None]:
        return lambda p: neutralise_frame(frame).to_csv(p, index=False)

    return [atomic_write(stem.with_name(f"{stem.name}_uebergang_{part}.csv"), writer(frame))
            for part, frame in (("kitas", ks), ("kinder", cells))]
