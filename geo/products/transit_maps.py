"""Transit in the maps: window-median surface, ÖV-Güteklassen layer, timetable note.

``maps/<category>-transit.html`` per category when a timetable is loaded for the region:
the travel-time map of :func:`geo.products.maps.travel_time_map` with mode ``transit``
(walk + public transport, median over the departures 07:00–09:00 of a regular weekday),
plus a layer of the ÖV-Güteklassen A–F (ARE, 06:00–20:00, :mod:`geo.transit.quality`) and
the timetable's state in one German sentence (:mod:`geo.products.transit_status`, e.g.
"nur Fernverkehr geladen"). Without a timetable no transit map is written and the summary
says why, with the command to load one.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import folium

from geo.engine.access import Accessibility
from geo.errors import EmptyResultError
from geo.products.maps import save_map, travel_time_map
from geo.products.transit_status import timetable_status
from geo.transit.quality import gueteklassen

log = logging.getLogger(__name__)

#: ÖV-Güteklassen colours, A (best) to F (ARE's map colours, purple → light green)
CLASS_COLOURS = {"A": "#6a1b9a", "B": "#c2185b", "C": "#ef6c00", "D": "#fbc02d",
                 "E": "#7cb342", "F": "#c5e1a5"}


def transit_map(engine: Accessibility, category: str, note: str) -> folium.Map:
    """Travel-time map by transit with the Güteklassen layer and the timetable ``note``."""
    m = travel_time_map(engine, category, "transit")
    access = engine.transit()
    try:
        klassen = gueteklassen(access.feed, access.date).to_crs("EPSG:4326")
    except EmptyResultError as exc:
        log.warning("no ÖV-Güteklassen layer: %s", exc)
    else:
        folium.GeoJson(
            klassen, name=f"ÖV-Güteklassen (ARE, 06–20 Uhr, {access.date:%d.%m.%Y})",
            show=False, style_function=lambda f: {
                "stroke": False, "fillOpacity": 0.45,
                "fillColor": CLASS_COLOURS.get(f["properties"]["klasse"], "#999999")},
            tooltip=folium.GeoJsonTooltip(fields=["klasse"], aliases=["ÖV-Güteklasse:"]),
        ).add_to(m)
    box = ("position:fixed;z-index:1000;background:rgba(255,255,255,.9);padding:6px 10px;"
           "border-radius:4px;font:13px/1.4 sans-serif;top:50px;left:60px;max-width:40em")
    cast(Any, m.get_root()).html.add_child(folium.Element(
        f'<div id="transit-note" style="{box}">{html.escape(note)}</div>'))
    return m


def build_transit_maps(engine: Accessibility, categories: Sequence[str], out: Path
                       ) -> dict[str, Any]:
    """Write ``<category>-transit.html`` per category, or say why not.

    Returns
    -------
    dict
        ``maps`` (file names written) and ``skipped`` (``{"transit": sentence}`` when no
        timetable is loaded).
    """
    status = timetable_status(engine.settings)
    if status["state"] == "none":
        return {"maps": [], "skipped": {"transit": status["text"]}}
    written = []
    for category in categories:
        target = out / f"{category}-transit.html"
        save_map(transit_map(engine, category, status["text"]), target)
        written.append(target.name)
        log.info("wrote %s", target)
    return {"maps": written, "skipped": {}}
