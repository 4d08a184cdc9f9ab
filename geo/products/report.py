"""Mobility reports for social planning: one A4 report per municipal unit and a county overview.

``erreichbar report --unit "<name or AGS>" [--all] [--format html|pdf] [--out DIR]`` writes,
per unit, a German, print-friendly report a council reads (HTML from
``geo/products/templates/unit.html``; tagged PDF/UA via WeasyPrint):

* **page 1**: three key messages in plain German ("Jedes dritte Kind in Bad Grund (Harz)
  braucht zu Fuß über 15 Minuten zur nächsten Kita"), one per ``ReportSettings.map_categories``,
  by the one white-spot definition (``AccessSettings.white_spot_min`` minutes by
  ``white_spot_mode``, stated on the page); the unit's rank among all units per category
  (:func:`unit_ranks`); where most white-spot children live; Gemeinden whose Kita data look
  incomplete (:func:`geo.products.siting.completeness`); and one map;
* then the tables: inhabitants and children, offers by category and status, Kita data
  completeness and unnamed offers, children-weighted coverage within
  ``ReportSettings.thresholds_min`` by walk, bike and car (unit, county, youth office);
* a map per map category (matplotlib, no tile server; legend beside the map, classes up
  to "über 60 min"; :func:`_draw_background` is the one place where a map's background is
  drawn) with its white spots named by their nearest OSM place, noting when the nearest
  offer is located only at a town centre or on a street;
* the prevention chain, the Familienzentren's potential partners
  (:func:`geo.products.actors.partners`), the Kita → Grundschule transition
  (:mod:`geo.products.transition`) and proposed sites (:mod:`geo.products.siting`) named
  by their nearest street and place, with the named offers already within
  ``ReportSettings.site_nearby_m``;
* data sources, vintages, licences, a glossary, the local date (Europe/Berlin) and the
  parameters used.

Minutes above :data:`MAX_MINUTES` print as "über 60 min". Every figure is the engine's
(:class:`geo.engine.access.Accessibility`, :mod:`geo.products.transition`,
:mod:`geo.products.siting`); this module only selects, formats and lays them out. Each number
in the HTML carries ``data-key`` / ``data-value`` attributes with the unformatted value, so
tests and other tools can read it back. The county overview has a choropleth of the
Gemeinden and the units ranked.
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
from zoneinfo import ZoneInfo

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
from geo.messages import section, text
from geo.networks.snap import to_metric
from geo.products import actors, siting, transition
from geo.products.basemap import basemap_for, lonlat_to_mercator, render_image
from geo.products.basemap.render import Window
from geo.products.chain import ChainData, chain_section
from geo.products.priority import CORE_CATEGORIES, CORE_MODES, FORMULA, priority_table
from geo.products.transit_report import transit_section
from geo.settings import Settings
from geo.sources import offer_quality, population
from geo.sources.social import context_facts
from geo.vocabulary import (
    STREET_MODES,
    Category,
    Status,
    attribution,
    data_sources,
    label,
    white_spot_definition,
)

log = logging.getLogger(__name__)

FORMATS: Final = ("html", "pdf")
#: Minute classes of the maps (upper bounds) and their colours: green → red up to 30 min,
#: then purple shades, so a unit where everything is far still shows where it is farthest.
MAP_BINS: Final = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, np.inf)
MAP_COLOURS: Final = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027",
                      "#9e4f9e", "#542788")
MAP_LABELS: Final = ("≤ 5", "5–10", "10–15", "15–20", "20–30", "30–45", "45–60", "über 60")
#: Minutes above this print as "über 60 min": beyond an hour the exact figure is not
#: a trip a family makes, and a number like 511 only says "no path in the data".
MAX_MINUTES: Final = 60.0
#: Local time of the reports' date stamps.
LOCAL_TZ: Final = ZoneInfo("Europe/Berlin")
# --------------------------------------------------------------------------- formatting


def _de(value: float, decimals: int) -> str:
    """German number: decimal comma, dot thousands (e.g. ``24.735``, ``72,4``)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def fmt(value: Any, kind: str) -> str:
    """Format an engine value for the report.

    ``kind``: ``int`` (persons, counts), ``pct`` (share 0–1 → ``72,4 %``), ``dec`` (a
    ratio, two decimals), ``min``
    (minutes, one decimal → ``12,5 min``; above :data:`MAX_MINUTES` → ``über 60 min``; inf
    → ``nicht erreichbar``, NaN → ``–``).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if kind == "int":
        return _de(round(float(value)), 0)
    if kind == "pct":
        return f"{_de(100.0 * float(value), 1)} %"
    if kind == "dec":
        return _de(float(value), 2)
    if kind == "min":
        if np.isinf(value):
            return text("report.minutes.unreachable")
        if float(value) > MAX_MINUTES:
            return text("report.minutes.over", minutes=_de(MAX_MINUTES, 0))
        return f"{_de(float(value), 1)} min"
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
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
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
    #: Draw the offline base map under the maps when it is built (False: place names only).
    basemap: bool = True
    _coverage: dict[tuple[str, str, str], gpd.GeoDataFrame] = field(default_factory=dict)
    _told_no_basemap: bool = False

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

    def basemap_ready(self) -> bool:
        """Whether maps get the base map: wanted and built (else logged once, names as text)."""
        if not self.basemap:
            return False
        try:
            basemap_for(self.settings)
        except DataError as err:
            if not self._told_no_basemap:
                log.info("report maps without a base map, place names as text: %s", err)
                self._told_no_basemap = True
            return False
        return True

    @property
    def spot_mode(self) -> str:
        """Mode of the one white-spot definition (``AccessSettings.white_spot_mode``)."""
        return self.settings.access.white_spot_mode

    @cached_property
    def completeness(self) -> pd.DataFrame:
        """:func:`geo.products.siting.completeness`, indexed by Gemeinde AGS."""
        return siting.completeness(self.acc).set_index("ags", drop=False)

    @cached_property
    def partners(self) -> pd.DataFrame:
        """:func:`geo.products.actors.partners` by ``ChainSettings.actor_mode``."""
        table = actors.partners(self.acc)
        return table[table["mode"] == self.settings.chain.actor_mode]

    @cached_property
    def addresses(self) -> tuple[cKDTree, np.ndarray, np.ndarray]:
        """KD-tree (EPSG:3035) of addresses and street midpoints, their street and place.

        From the address index (:func:`geo.sources.geocode.load_tables`).
        """
        from geo.sources.geocode import load_tables

        addresses, streets, _ = load_tables(self.settings)
        both = pd.concat([addresses[["street", "place", "lon", "lat"]],
                          streets[["street", "place", "lon", "lat"]]], ignore_index=True)
        x, y = to_metric(both["lon"].to_numpy(), both["lat"].to_numpy())
        return (cKDTree(np.column_stack([x, y])), both["street"].to_numpy(),
                both["place"].fillna("").to_numpy())

    def site_names(self, x: np.ndarray, y: np.ndarray) -> list[str]:
        """"Street, place" of the nearest address or street of each EPSG:3035 point."""
        tree, street, place = self.addresses
        _, idx = tree.query(np.column_stack([x, y]))
        return [f"{s}, {p}" if p else str(s) for s, p in zip(street[idx], place[idx],
                                                             strict=True)]

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
    def place_points(self) -> pd.DataFrame:
        """OSM places of ``ReportSettings.place_classes`` (``x``, ``y`` EPSG:3035, name, class)."""
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
        return pd.DataFrame({"x": x, "y": y, "name": name.to_numpy()[keep],
                             "class": layer["class"].to_numpy()[keep]})

    @cached_property
    def places(self) -> tuple[cKDTree, np.ndarray]:
        """KD-tree (EPSG:3035) and names of :attr:`place_points`."""
        p = self.place_points
        return cKDTree(p[["x", "y"]].to_numpy()), p["name"].to_numpy()

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
    """Return the unit's white spots for ``category``, grouped by nearest place.

    The one definition: more than ``white_spot_min`` minutes by ``white_spot_mode``.

    The total is the engine's ``children_beyond_<white_spot_min>min``; the places split it
    by the nearest OSM place of each cell (children, median minutes of the reachable ones,
    children in cells not connected to the network). A place whose minutes are measured to
    an offer located only at a town centre or on a street says so (``located``).
    """
    mode = data.spot_mode
    limit = data.settings.access.white_spot_min
    cells = data.acc.cells(category, mode)
    spot = cells[(cells["unit_ags"] == ags).to_numpy() & ~(cells["minutes"] <= limit).to_numpy()]
    place = data.nearest_place(spot["x"].to_numpy(), spot["y"].to_numpy())
    precision = spot["offer_id"].map(data.acc.offers.set_index("id")["geocode_precision"])
    precision = precision.fillna("").to_numpy()
    per_place = cov.summarise(spot["minutes"].to_numpy(), spot["connected"].to_numpy(),
                              spot["children_under_10"].to_numpy(), place, "children", (), limit)
    per_place = per_place.sort_values(["children", "children_median_minutes"],
                                      ascending=[False, False])
    total = data.coverage(category, mode, "unit").loc[ags, f"children_beyond_{limit}min"]
    rows = [{"place": name, "located": _located(precision, place, name),
             "nums": [_num(f"ws|{category}|{name}|children", r["children"], "int"),
                      _num(f"ws|{category}|{name}|median", r["children_median_minutes"], "min"),
                      _num(f"ws|{category}|{name}|not_connected", r["children_not_connected"],
                           "int")]}
            for name, r in per_place.head(data.settings.report.white_spot_rows).iterrows()]
    return {"total": _num(f"ws|{category}|total", total, "int"), "rows": rows,
            "places": len(per_place), "shown": len(rows)}


def _located(precision: np.ndarray, place: np.ndarray, name: str) -> str:
    """Note of a white-spot place measured to a roughly located offer ("" if none is).

    ``precision``: ``geocode_precision`` of each white-spot cell's nearest offer.
    """
    kinds = set(precision[place == name])
    if "town" in kinds:
        return text("report.quality.town_point")
    return text("report.quality.street_point") if "street" in kinds else ""


def share_phrase(share: float) -> tuple[str, bool]:
    """Plain German for a share of children (0–1) and whether the verb is singular.

    The nearest simple fraction ("jedes dritte Kind", "zwei von drei Kindern"; the
    smallest denominator within 3 points, "etwa" when it is not exact to 2 points);
    "fast jedes Kind" from 95 %, "weniger als jedes zwanzigste Kind" below 5 %.
    """
    if share >= 0.95:
        return text("report.key.almost_all"), True
    if share < 0.05:
        return text("report.key.few"), True
    fractions = [(p, q) for q in range(2, 11) for p in range(1, q)]
    close = [f for f in fractions if abs(share - f[0] / f[1]) <= 0.03]
    p, q = close[0] if close else min(fractions, key=lambda f: abs(share - f[0] / f[1]))
    about = text("report.key.about") if abs(share - p / q) > 0.02 else ""
    if p == 1:
        return text("report.key.one", about=about, ordinal=text(f"report.ordinal.{q}")), True
    return text("report.key.many", about=about, p=text(f"report.cardinal.{p}"),
                q=text(f"report.cardinal.{q}")), False


def unit_ranks(data: ReportData, category: str) -> pd.Series:
    """Rank of every unit by its share of children within the white-spot time (1 = best).

    Ties share the better rank; a unit without children ranks last.
    """
    share = data.coverage(category, data.spot_mode, "unit")[
        f"children_within_{data.settings.access.white_spot_min}min_share"]
    return share.fillna(-1.0).rank(ascending=False, method="min").astype(int)


def _key_messages(data: ReportData, ags: str) -> dict[str, Any]:
    """Page 1: one plain-German sentence and the unit's rank per map category.

    Per category the share of children beyond the white-spot time (the one definition),
    the children, the share within it and the rank among the units (:func:`unit_ranks`);
    then where most of the first category's white-spot children live, and the Gemeinden
    whose Kita data look incomplete.
    """
    minutes, mode = data.settings.access.white_spot_min, data.spot_mode
    unit = data.units.loc[ags, "name"]
    phrase = text(f"report.mode_phrase.{mode}")
    items, ranks = [], []
    for category in data.settings.report.map_categories:
        row = data.coverage(category, mode, "unit").loc[ags]
        beyond = float(row[f"children_beyond_{minutes}min"])
        share = beyond / row["children"] if row["children"] else 0.0
        if beyond == 0 or beyond == row["children"]:
            sentence = text("report.key.all" if beyond == 0 else "report.key.none", unit=unit,
                            mode=phrase, minutes=minutes,
                            target_all=text(f"report.target_all.{category}"))
        else:
            who, one = share_phrase(share)
            sentence = text("report.key.sentence", who=who[0].upper() + who[1:], unit=unit,
                            verb=text("report.key.verb_one" if one else "report.key.verb_many"),
                            mode=phrase, minutes=minutes, target=text(f"report.target.{category}"))
        items.append({"text": sentence,
                      "share": _num(f"key|{category}|beyond_share", share, "pct"),
                      "children": _num(f"key|{category}|beyond", beyond, "int")})
        ranks.append({"category": label("category", category),
                      "within": _num(f"key|{category}|within_share",
                                     row[f"children_within_{minutes}min_share"], "pct"),
                      "rank": _num(f"key|{category}|rank",
                                   int(unit_ranks(data, category).loc[ags]), "int")})
    return {"messages": items, "ranks": ranks, "of": len(data.units),
            "notes": _key_notes(data, ags),
            "definition": white_spot_definition(data.settings)}


def _key_notes(data: ReportData, ags: str) -> list[str]:
    """Return the page-1 notes: where white spots are, which Kita data look incomplete.

    Where most white-spot children of the first map category live, and the unit's
    Gemeinden flagged by the Kita completeness check.
    """
    minutes, mode = data.settings.access.white_spot_min, data.spot_mode
    category = data.settings.report.map_categories[0]
    notes = []
    spots = _white_spots(data, ags, category)["rows"]
    if spots:
        notes.append(text("report.key.where", label=label("category", category),
                          minutes=minutes, mode=text(f"report.mode_phrase.{mode}"),
                          place=spots[0]["place"]))
    flagged = _incomplete(data, ags)
    if flagged:
        notes.append(text("report.key.incomplete", gemeinden=", ".join(flagged)))
    return notes


def _incomplete(data: ReportData, ags: str) -> list[str]:
    """Names of the unit's Gemeinden whose Kita data look incomplete."""
    c = data.completeness
    return list(c.loc[(c["unit_ags"] == ags) & c["flagged"], "name"])


#: Place classes named on the report maps (largest first; villages only on small units).
MAP_PLACE_CLASSES: Final = ("city", "town", "village")


#: Longest side (px) of a report map's base-map picture (the maps are ≈ 1000 px at 150 dpi).
BASEMAP_PX: Final = 1400
#: How far the base map is faded towards white under the minutes (0 = as drawn, 1 = white).
BASEMAP_FADE: Final = 0.3


def _basemap_image(settings: Settings, bounds: np.ndarray) -> np.ndarray:
    """Return the base map under EPSG:3035 ``bounds`` as RGB floats (0–1) on their grid (north up).

    :func:`render_image` draws the WGS84 bbox of ``bounds`` whole and centred in Web
    Mercator (EPSG:3857, :meth:`Window.fit`); that window is recomputed here as the
    picture's georeference, the picture warped (bilinear) onto a grid of ``bounds`` with
    :data:`BASEMAP_PX` on its longer side and faded by :data:`BASEMAP_FADE`.
    """
    from PIL import Image
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, reproject, transform_bounds

    x0, y0, x1, y1 = (float(v) for v in bounds)
    w, s, e, n = transform_bounds("EPSG:3035", "EPSG:4326", x0, y0, x1, y1, densify_pts=21)
    mx0, my0 = lonlat_to_mercator(w, s)
    mx1, my1 = lonlat_to_mercator(e, n)
    scale = BASEMAP_PX / max(mx1 - mx0, my1 - my0)  # px per Mercator metre
    width, height = max(1, round((mx1 - mx0) * scale)), max(1, round((my1 - my0) * scale))
    png = render_image(settings, (w, s, e, n), width, height)
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    win = Window.fit((mx0, my0, mx1, my1), width, height)
    scale = BASEMAP_PX / max(x1 - x0, y1 - y0)  # px per EPSG:3035 metre
    out = np.zeros((3, max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale))),
                   np.uint8)
    reproject(np.moveaxis(picture, 2, 0), out, src_crs="EPSG:3857", dst_crs="EPSG:3035",
              src_transform=from_bounds(win.x0, win.y0, win.x1, win.y1, width, height),
              dst_transform=from_bounds(x0, y0, x1, y1, out.shape[2], out.shape[1]),
              resampling=Resampling.bilinear)
    return 1.0 - (1.0 - np.moveaxis(out, 0, 2) / 255.0) * (1.0 - BASEMAP_FADE)


def _draw_background(ax: Any, data: ReportData, bounds: np.ndarray,
                     within: shapely.Geometry | None = None) -> None:
    """Draw what lies under a report map's travel times: the base map, else place names.

    ``bounds``: x0, y0, x1, y1 in EPSG:3035 metres; ``within``: name only places inside
    this area (EPSG:3035). The one place where a report map's background is drawn: the
    offline base map (:func:`_basemap_image`, its place names drawn in) at the bottom when
    :meth:`ReportData.basemap_ready`, else the OSM ``place`` names as text on top.
    """
    x0, y0, x1, y1 = bounds
    if data.basemap_ready():
        ax.imshow(_basemap_image(data.settings, bounds), extent=(x0, x1, y0, y1), zorder=0,
                  interpolation="bilinear")
        return
    p = data.place_points
    p = p[p["x"].between(x0, x1) & p["y"].between(y0, y1)
          & p["class"].isin(MAP_PLACE_CLASSES[:2] if x1 - x0 > 25_000 else MAP_PLACE_CLASSES)]
    if within is not None:
        p = p[shapely.contains_xy(within, p["x"].to_numpy(), p["y"].to_numpy())]
    for x, y, name, kind in zip(p["x"], p["y"], p["name"], p["class"], strict=True):
        ax.text(x, y, name, fontsize=6 if kind == "village" else 7.5, ha="center",
                va="bottom", zorder=7, color="#111",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6})


def _minute_image(data: ReportData, category: str, mode: str, bounds: np.ndarray
                  ) -> np.ndarray:
    """Return the engine's 100 m minute raster inside ``bounds`` as an image (NaN = none)."""
    x0, y0, x1, y1 = bounds
    raster = data.acc.raster_minutes(category, mode)
    r = raster[(raster["x"].between(x0, x1) & raster["y"].between(y0, y1)).to_numpy()]
    cols = np.round((r["x"].to_numpy() - x0 - 50) / 100).astype(int)
    rows = np.round((y1 - 50 - r["y"].to_numpy()) / 100).astype(int)
    image = np.full((rows.max(initial=0) + 1, cols.max(initial=0) + 1), np.nan)
    image[rows, cols] = r["minutes"].to_numpy()
    return image


def _map(data: ReportData, ags: str, category: str) -> str:
    """PNG data URI: minutes to the nearest offer by the white-spot mode around the unit.

    The engine's 100 m minute raster (:meth:`Accessibility.raster_minutes`) in classes of
    :data:`MAP_BINS`, the unit (black) and Gemeinde borders (grey), active offers (filled)
    and planned/closed ones (hollow), place names; outside the unit the raster is faded.
    The legend stands beside the map, never on the unit.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    mode = data.spot_mode
    unit = data.units.loc[[ags]]
    bounds = unit.total_bounds + np.array([-1000, -1000, 1000, 1000])
    x0, y0, x1, y1 = bounds
    image = _minute_image(data, category, mode, bounds)
    fig, ax = _pyplot().subplots(figsize=(7.0, 5.2))
    on_basemap = data.basemap_ready()  # cells without a network then show the base map
    alpha = 0.85 if on_basemap else 1.0  # roads shine through the minutes
    cmap = ListedColormap(MAP_COLOURS).with_extremes(bad="none" if on_basemap else "#d9d9d9")
    ax.imshow(np.ma.masked_invalid(image), cmap=cmap,
              norm=BoundaryNorm([0.0, *MAP_BINS[:-1], 1e9], cmap.N),
              extent=(x0, x0 + 100 * image.shape[1], y1 - 100 * image.shape[0], y1),
              interpolation="nearest", zorder=1, alpha=alpha)
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
    _draw_background(ax, data, bounds)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    handles = [Patch(color=c, alpha=alpha, label=f"{lab} min")
               for c, lab in zip(MAP_COLOURS, MAP_LABELS, strict=True)]
    if not on_basemap:
        handles.append(Patch(color="#d9d9d9", label="kein Wegenetz"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6.5,
              title=f"{label('category', category)},\n{label('mode_short', mode)}",
              title_fontsize=7, frameon=False)
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


#: Offers of another category whose name says they are also one of these (a Familienzentrum
#: "… (DRK-Kindergarten)" is a Kita too): listed near a proposed site of the category.
NAMED_AS: Final = {"kita": r"kita\b|kindergarten|kindertages|krippe"}


def _nearby(data: ReportData, category: str, x: np.ndarray, y: np.ndarray) -> list[str]:
    """Return per EPSG:3035 point the named offers of ``category`` near it.

    Any status, within ``ReportSettings.site_nearby_m``: "name (m)", nearest first; also
    offers of other categories named as one of ``category`` (:data:`NAMED_AS`).
    """
    offers = data.acc.offers
    named_as = NAMED_AS.get(category)
    same = (offers["category"] == category).to_numpy() | (
        offers["name"].str.contains(named_as, case=False, regex=True).to_numpy()
        if named_as else False)
    offers = offers[same & ~offer_quality.is_unnamed(offers["name"])]
    ox, oy = to_metric(offers["lon"].to_numpy(), offers["lat"].to_numpy())
    out = []
    for px, py in zip(x, y, strict=True):
        d = np.hypot(ox - px, oy - py)
        near = np.argsort(d)[: int((d <= data.settings.report.site_nearby_m).sum())]
        out.append("; ".join(f"{offers['name'].iloc[i]} ({_de(d[i], 0)} m)" for i in near))
    return out


def _sites(data: ReportData, ags: str) -> list[dict[str, Any]]:
    """Best new sites per map category for the unit's children (the white-spot definition).

    A site is named by its nearest street and place (address index), never by coordinates,
    with the named offers of the category already within ``site_nearby_m`` of it.
    """
    rs = data.settings.report
    minutes = data.settings.access.white_spot_min
    out = []
    for category in rs.map_categories:
        result = siting.best_sites(data.acc, category, data.spot_mode, minutes, rs.sites_k,
                                   unit_ags=ags)
        sites = result.sites
        x, y = to_metric(sites["lon"].to_numpy(), sites["lat"].to_numpy())
        out.append({
            "category": label("category", category),
            "before": _num(f"site|{category}|before", result.covered_before, "int"),
            "total": _num(f"site|{category}|total", result.total_children, "int"),
            "rows": [{"rank": int(s.rank), "place": name, "nearby": near,
                      "nums": [_num(f"site|{category}|{s.rank}|gained", s.children_gained, "int"),
                               _num(f"site|{category}|{s.rank}|share", s.share_covered, "pct")]}
                     for s, name, near in zip(sites.itertuples(), data.site_names(x, y),
                                              _nearby(data, category, x, y), strict=True)],
        })
    return out


def _partners(data: ReportData, ags: str) -> list[dict[str, Any]]:
    """Return the unit's active Familienzentren and their partners (actors.partners).

    Per centre the offers whose nearest Familienzentrum it is, nearest first
    (``ReportSettings.partner_rows`` of them), their count and their distinct Träger.
    """
    offers = data.acc.offers
    centres = offers[(offers["category"] == "familienzentrum").to_numpy()
                     & (offers["status"] == "active").to_numpy()
                     & (data.offer_units.loc[offers["id"]] == ags).to_numpy()]
    out = []
    for fz in centres.sort_values("name").itertuples():
        mine = data.partners[data.partners["fz_id"] == fz.id].sort_values("minutes")
        traeger = sorted({t for t in mine["traeger"].dropna() if t})
        out.append({
            "name": fz.name, "count": _num(f"fz|{fz.id}|partners", len(mine), "int"),
            "traeger": ", ".join(traeger) or "–",
            "rows": [{"name": p.name, "category": label("category", p.category),
                      "minutes": _num(f"fz|{fz.id}|{p.offer_id}|min", p.minutes, "min")}
                     for p in mine.head(data.settings.report.partner_rows).itertuples()]})
    return out


def _precision(value: Any) -> str:
    """German note of an offer's ``geocode_precision`` (empty when none is stored)."""
    if not isinstance(value, str) or not value:
        return ""
    return text(f"report.precision.{value}")


def _quality(data: ReportData, ags: str) -> dict[str, Any]:
    """Return the unit's offer data quality: Kita completeness per Gemeinde, unnamed offers.

    Unnamed offers are listed for the report's categories (the prevention chain's core).
    """
    c = data.completeness
    c = c[c["unit_ags"] == ags]
    offers = data.acc.offers
    inside = offers[(data.offer_units.loc[offers["id"]] == ags).to_numpy()]
    unnamed = inside[offer_quality.is_unnamed(inside["name"])
                     & inside["category"].isin(data.settings.report.categories).to_numpy()]
    return {
        "rows": [{"name": r.name, "flagged": bool(r.flagged), "nums": [
            _num(f"q|{r.ags}|children", r.children_under_10, "int"),
            _num(f"q|{r.ags}|kitas", r.kitas, "int"),
            _num(f"q|{r.ags}|ratio", r.kitas_per_100_children_under_10, "dec")]}
            for r in c.itertuples()],
        "median": _num("q|median", float(data.completeness["county_median"].iloc[0]), "dec"),
        "share": _de(100 * data.settings.offers.completeness_share, 0),
        "message": text("report.quality.incomplete"),
        "unnamed": [{"name": o.name, "category": label("category", o.category)}
                    for o in unnamed.sort_values(["category", "name"]).itertuples()],
    }


def _cited_sources(data: ReportData, ags: str) -> list[dict[str, str]]:
    """Public sources of the family offers (not schools, not OSM POIs) located in the unit."""
    offers = data.acc.offers
    inside = offers[(data.offer_units.loc[offers["id"]] == ags).to_numpy()
                    & offers["id"].str.startswith("familie-").to_numpy()]
    return [{"name": o.name, "category": label("category", o.category),
             "status": label("status", o.status), "located": _precision(o.geocode_precision),
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
        ("Weißer Fleck", white_spot_definition(settings)),
        ("Übergang Kita → Grundschule",
         f"{label('mode_short', rs.transition_mode)}, > {_de(rs.transition_max_min, 0)} min"),
        ("Standortvorschläge", f"Punkte am Wegenetz, höchstens einer je "
                               f"{_de(rs.site_candidate_spacing_m, 0)} × "
                               f"{_de(rs.site_candidate_spacing_m, 0)} m"),
        ("Kita-Datenprüfung", f"Kitas je 100 Kinder unter 10 unter "
                              f"{_de(100 * settings.offers.completeness_share, 0)} % des "
                              "Medians der Gemeinden (Kinder unter 6 gibt das Gitter nicht)"),
        ("Region", settings.region),
    ]


# --------------------------------------------------------------------------- rendering


def environment() -> Environment:
    """Return the Jinja environment of the report templates (``geo/products/templates``).

    Every report gets the glossary box (``glossary``: the ``report.glossary`` texts).
    """
    env = Environment(loader=PackageLoader("geo.products", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["glossary"] = list(section("report.glossary").values())
    return env


def local_stamp(now: dt.datetime) -> str:
    """Date and time of a report in local time (Europe/Berlin), e.g. ``25.11.2026, 13:00 Uhr``."""
    return now.astimezone(LOCAL_TZ).strftime("%d.%m.%Y, %H:%M Uhr")


def unit_context(data: ReportData, ags: str, now: dt.datetime) -> dict[str, Any]:
    """Everything the unit template shows, from the engine's figures."""
    rs = data.settings.report
    unit = data.units.loc[ags]
    maps = [{"category": label("category", c), "png": _map(data, ags, c),
             "white_spots": _white_spots(data, ags, c)} for c in rs.map_categories]
    return {
        "title": f"{unit['bez']} {unit['name']}", "ags": ags, "unit": unit["name"],
        "region": data.acc.region.title, "date": local_stamp(now),
        "thresholds": rs.thresholds_min, "spot_mode": label("mode_short", data.spot_mode),
        "white_spot_min": data.settings.access.white_spot_min,
        "key": _key_messages(data, ags), "quality": _quality(data, ags),
        "population": _population(data, ags), "statuses": [label("status", s) for s in Status],
        "offers": _offers(data, ags), "coverage": _coverage_section(data, ags),
        "maps": maps, "transition": _transition(data, ags), "sites": _sites(data, ags),
        "partners": _partners(data, ags), "sources": data_sources(data.settings),
        "nearby_m": _de(rs.site_nearby_m, 0),
        "census": population.population_basis(data.settings),
        "context": context_facts(data.settings),
        "priority": _priority(data, ags), "cited": _cited_sources(data, ags),
        "chain": chain_section(data.chain, ags), "transit": transit_section(data.acc, ags),
        "parameters": _parameters(data.settings),
    }


#: Modes of the overview's share columns: the ways families without a car travel.
OVERVIEW_MODES: Final = ("walk", "bike")


def _overview_rows(data: ReportData) -> list[dict[str, Any]]:
    """One row per unit (alphabetical): inhabitants, children, shares and median minutes."""
    rs, minutes = data.settings.report, data.settings.access.white_spot_min
    rows = []
    for ags, unit in data.units.sort_values("name").iterrows():
        nums = [_num(f"ov|{ags}|inhabitants", int(data.inhabitants.get(ags, 0)), "int"),
                _num(f"ov|{ags}|children",
                     data.coverage("kita", "walk", "unit").loc[ags, "children"], "int")]
        for category in rs.map_categories:
            nums += [_num(f"ov|{ags}|{category}|{m}|{minutes}",
                          data.coverage(category, m, "unit").loc[
                              ags, f"children_within_{minutes}min_share"], "pct")
                     for m in OVERVIEW_MODES]
            nums.append(_num(f"ov|{ags}|{category}|{data.spot_mode}|median",
                             data.coverage(category, data.spot_mode, "unit").loc[
                                 ags, "children_median_minutes"], "min"))
        rows.append({"name": unit["name"], "ags": ags, "nums": nums})
    return rows


def _ranked_chart(data: ReportData, category: str) -> str:
    """PNG: the units ranked by their share of children within the white-spot time.

    The ranks are :func:`unit_ranks` (the units' reports give the same).
    """
    minutes = data.settings.access.white_spot_min
    share = data.coverage(category, data.spot_mode, "unit")[
        f"children_within_{minutes}min_share"].fillna(0.0).sort_values()
    names = data.units.loc[share.index, "name"]
    ranks = unit_ranks(data, category).loc[share.index]
    fig, ax = _pyplot().subplots(figsize=(6.7, 5.0))
    colours = [MAP_COLOURS[0] if v >= 0.75 else MAP_COLOURS[3] if v >= 0.5 else MAP_COLOURS[5]
               for v in share]
    ax.barh(np.arange(len(share)), 100 * share.to_numpy(), color=colours)
    for i, v in enumerate(share):
        ax.text(100 * v + 1, i, f"{_de(100 * v, 0)} %", va="center", fontsize=6.5)
    ax.set_yticks(np.arange(len(share)), [f"{r}. {n}" for r, n in
                                          zip(ranks, names, strict=True)], fontsize=7)
    ax.set_xlim(0, 108)
    ax.set_xlabel(f"Anteil der Kinder unter 10 mit höchstens {minutes} min "
                  f"{text(f'report.mode_phrase.{data.spot_mode}')} zur nächsten "
                  f"{label('category', category)}, %", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", color="#dddddd")
    fig.tight_layout()
    return _png(fig)


def _choropleth(data: ReportData, category: str) -> str:
    """PNG: the Gemeinden coloured by their share of children beyond the white-spot time."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    minutes = data.settings.access.white_spot_min
    table = data.acc.coverage("gemeinde", category, data.spot_mode, minutes=[minutes])
    gem = data.gemeinden.merge(table[["ags", f"children_within_{minutes}min_share"]], on="ags")
    beyond = 1.0 - gem[f"children_within_{minutes}min_share"]
    bins, colours = (0.1, 0.25, 0.5, 0.75, 1.01), MAP_COLOURS[1:6]
    names = ("unter 10 %", "10–25 %", "25–50 %", "50–75 %", "über 75 %")
    fig, ax = _pyplot().subplots(figsize=(7.0, 6.0))
    cmap = ListedColormap(colours).with_extremes(bad="#d9d9d9")
    gem.assign(beyond=beyond).plot(column="beyond", ax=ax, cmap=cmap,
                                   norm=BoundaryNorm([0.0, *bins], cmap.N), edgecolor="#555",
                                   linewidth=0.5, missing_kwds={"color": "#d9d9d9"})
    data.units.boundary.plot(ax=ax, color="black", linewidth=1.0)
    _draw_background(ax, data, data.units.total_bounds, data.units.union_all())
    ax.set_axis_off()
    ax.legend(handles=[Patch(color=c, label=n) for c, n in zip(colours, names, strict=True)],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7,
              title=f"Kinder mit mehr als\n{minutes} min "
                    f"{text(f'report.mode_phrase.{data.spot_mode}')}\n"
                    f"zur nächsten {label('category', category)}", title_fontsize=7)
    ax.text(1.0, -0.02, attribution(data.settings).replace(" | ", " · "), ha="right",
            va="top", fontsize=5.5, transform=ax.transAxes)
    fig.tight_layout()
    return _png(fig)


def overview_context(data: ReportData, now: dt.datetime) -> dict[str, Any]:
    """Build the county overview: choropleth, ranked units, a row per unit, priorities."""
    rs, minutes = data.settings.report, data.settings.access.white_spot_min
    spot = label("mode_short", data.spot_mode)
    first = rs.map_categories[0]
    return {
        "title": f"Übersicht {data.acc.region.title}", "region": data.acc.region.title,
        "date": local_stamp(now), "minutes": minutes, "spot_mode": spot,
        "definition": white_spot_definition(data.settings),
        "first": label("category", first),
        "groups": [label("category", c) for c in rs.map_categories],
        "columns": [f"≤ {minutes} min {label('mode_short', m)}" for m in OVERVIEW_MODES]
        + [f"Median {spot}"],
        "rows": _overview_rows(data), "choropleth": _choropleth(data, first),
        "chart": _ranked_chart(data, first), "sources": data_sources(data.settings),
        "census": population.population_basis(data.settings),
        "context": context_facts(data.settings),
        "priority": _priority(data), "parameters": _parameters(data.settings),
    }


def write_pdf(html: str, target: Path) -> Path:
    """Render report HTML to a tagged A4 PDF (PDF/UA-1) with WeasyPrint (atomic write).

    Tagged for screen readers (BITV / PDF/UA for public bodies); the document's language
    and title come from the HTML's ``lang`` and ``<title>``.
    """
    from weasyprint import HTML

    return atomic_write(target, lambda p: HTML(string=html).write_pdf(
        p, pdf_variant="pdf/ua-1", pdf_tags=True))


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
    now = dt.datetime.now(LOCAL_TZ).replace(microsecond=0)
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
