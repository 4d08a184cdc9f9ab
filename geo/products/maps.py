"""Folium maps of travel times, offers, coverage and white spots (``erreichbar maps build``).

Per category and mode, :func:`travel_time_map` draws

* the travel-time surface: every 100 m cell of the county coloured by the minutes to the
  nearest offer (:meth:`Accessibility.raster_minutes`, warped from EPSG:3035 to Web
  Mercator), with a legend in minutes;
* the active offers as clustered circle markers with popups (name, Träger, ages, opening
  hours, source);
* the Gemeinden with tooltips of their coverage (children under 10 within 10/15/30 min,
  median minutes, children beyond the white-spot threshold);

and :func:`white_spot_map` the children cells beyond ``AccessSettings.white_spot_min``
minutes per category, for planners. Every map carries its attributions, a scale and a
layer control, and renders without internet: Leaflet and Leaflet.markercluster are inlined
from ``geo/products/static/leaflet`` (see its README) and the online OpenStreetMap base map is an
optional layer, off by default. Maps are written atomically to ``MapSettings.out_dir``.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import time
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import calculate_default_transform, reproject

from geo._io import atomic_path, clean_stray_tmp
from geo.engine.access import Accessibility
from geo.messages import text
from geo.products.basemap import script as basemap_script
from geo.settings import Settings, get_region
from geo.vocabulary import METRIC_CRS, STREET_MODES, attribution, label

log = logging.getLogger(__name__)

#: Folder of the bundled web assets (Leaflet 1.7.1, Leaflet.markercluster 1.5.3).
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
LEAFLET_DIR: Final = STATIC_DIR / "leaflet"
#: Colours of the travel-time classes (ColorBrewer RdYlGn, 8 classes, reversed: green =
#: near), then grey for cells without a connection or offer in reach.
CLASS_COLOURS: Final = ("#1a9850", "#66bd63", "#a6d96a", "#d9ef8b", "#fee08b", "#fdae61",
                        "#f46d43", "#d73027")
UNREACHABLE_COLOUR: Final = "#969696"
#: Thresholds (minutes) of the coverage shares in the Gemeinde tooltips.
TOOLTIP_MINUTES: Final = (10, 15, 30)
_WEB_MERCATOR: Final = "EPSG:3857"
_TO_LONLAT: Final = Transformer.from_crs(_WEB_MERCATOR, "EPSG:4326", always_xy=True)


def map_names(folder: Path) -> list[str]:
    """Names (file stems) of the HTML maps in ``folder``, sorted."""
    return sorted(p.stem for p in Path(folder).glob("*.html")) if Path(folder).is_dir() else []


def _hex_rgba(colour: str, alpha: int) -> tuple[int, int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), alpha)


def class_labels(breaks: Sequence[int]) -> list[str]:
    """Legend labels of the minute classes: ``≤ 5``, ``5–10``, …, ``> 60``."""
    return [f"≤ {breaks[0]}"] + [f"{a}–{b}" for a, b in pairwise(breaks)] + [f"> {breaks[-1]}"]


def _header(m: folium.Map) -> Element:
    """Return the ``<head>`` element of the map's HTML page.

    A folium map's root is always a branca :class:`~branca.element.Figure`; branca types
    :meth:`get_root` as returning a plain Element, hence the cast.
    """
    return cast(Figure, m.get_root()).header


def _inline_assets(m: folium.Map) -> None:
    """Replace folium's CDN links by the bundled Leaflet and markercluster, inlined.

    Images referenced by the CSS (layer-control icon) become data URIs, so the HTML file
    needs nothing but itself.
    """
    css = []
    for name in ("leaflet.css", "MarkerCluster.css", "MarkerCluster.Default.css"):
        text = (LEAFLET_DIR / name).read_text("utf-8")
        css.append(re.sub(r"url\((images/[^)]+\.png)\)", lambda g: "url(data:image/png;base64,"
                          + base64.b64encode((LEAFLET_DIR / g[1]).read_bytes()).decode() + ")",
                          text))
    js = [(LEAFLET_DIR / n).read_text("utf-8")
          for n in ("leaflet.min.js", "leaflet.markercluster.min.js")]
    header = _header(m)
    header.add_child(Element("<style>" + "\n".join(css) + _MAP_CSS + "</style>"),
                     name="leaflet_css")
    header.add_child(Element("".join(f"<script>{code}</script>" for code in js)),
                     name="leaflet_js")


#: Styles of the maps' own boxes (title, legend: Leaflet controls, so they stack and never
#: overlap other controls) and neutral marker clusters (not the travel-time colours).
_MAP_CSS: Final = """
.map-box{background:rgba(255,255,255,.92);padding:6px 10px;border-radius:4px;
 font:13px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.4);max-width:calc(100vw - 90px)}
#map-title{font-weight:bold}
#map-legend{max-width:min(17em,calc(50vw - 30px))}
.leaflet-control-attribution{max-width:calc(50vw - 20px);white-space:normal}
@media (max-width:600px){.map-box{font-size:12px;padding:4px 6px}
 #map-legend{max-height:40vh;overflow-y:auto}}
.marker-cluster-small,.marker-cluster-medium,.marker-cluster-large{
 background-color:rgba(53,66,79,.35)}
.marker-cluster-small div,.marker-cluster-medium div,.marker-cluster-large div{
 background-color:rgba(53,66,79,.9);color:#fff}
"""


class _Html(MacroElement):
    """Title and legend as Leaflet controls, attributions, the offline base map."""

    _template = Template("""
        {% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.setPrefix('Leaflet');
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.attribution }});
        [["map-title", "topleft"], ["map-legend", "bottomleft"]].forEach(function (box) {
          var el = document.getElementById(box[0]);
          if (!el) return;
          var control = L.control({position: box[1]});
          control.onAdd = function () { L.DomEvent.disableClickPropagation(el); return el; };
          control.addTo({{ this._parent.get_name() }});
        });
        window.erreichbarBaseMap({{ this._parent.get_name() }});
        (function (map, bounds) {  // the region fills the first view, whatever the screen
          var touched = false, fitting = false;
          ["mousedown", "touchstart", "keydown", "wheel"].forEach(function (name) {
            map.getContainer().addEventListener(name, function () { touched = true; },
                                                {once: true, passive: true});
          });
          map.on("movestart", function () { if (!fitting) touched = true; });  // moved by
          function fit() {  // a script or a user: keep that view; else beside (landscape)
            if (touched) return;  // or above (portrait) the legend
            var legend = document.getElementById("map-legend");
            fitting = true;
            map.invalidateSize();
            var size = map.getSize();
            map.fitBounds(bounds, !legend ? {animate: false} : size.y > size.x
              ? {paddingBottomRight: [0, legend.offsetHeight + 10], animate: false}
              : {paddingTopLeft: [legend.offsetWidth + 10, 0], animate: false});
            fitting = false;
          }
          fit();  // now, and again once the page has its final size
          window.addEventListener("load", fit);
          map.on("resize", fit);
        })({{ this._parent.get_name() }}, {{ this.bounds }});
        {% endmacro %}""")

    def __init__(self, body: str, attribution: str = "",
                 bounds: list[list[float]] | None = None) -> None:
        super().__init__()
        self._name = "Html"
        self.body = body
        self.attribution = repr(attribution)
        self.bounds = json.dumps(bounds)


def new_map(settings: Settings, title: str, legend: str = "") -> folium.Map:
    """Return an empty German map of the region.

    No tiles (the OSM base map is an optional layer, off), scale bar, title, legend and
    attributions, assets inlined.
    """
    region = get_region(settings.region)
    x0, y0, x1, y1 = region.bbox
    m = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=10, tiles=None,
                   control_scale=False, prefer_canvas=True)  # basemap.js adds a metric one
    m.default_js, m.default_css = [], []
    m.options["maxZoom"] = 18  # markercluster needs it; without tiles nothing else sets it
    m.fit_bounds([[y0, x0], [y1, x1]])
    folium.TileLayer(settings.maps.base_map_url, name="OpenStreetMap-Karte (online)",
                     attr="© OpenStreetMap contributors (ODbL)", overlay=True, show=False,
                     control=True).add_to(m)
    body = f'<div id="map-title" class="map-box">{html.escape(title)}</div>'
    if legend:
        body += f'<div id="map-legend" class="map-box">{legend}</div>'
    m.add_child(_Html(body, attribution(settings), [[y0, x0], [y1, x1]]))
    _header(m).add_child(Element('<meta http-equiv="Content-Language" content="de">'),
                         name="lang")
    _header(m).add_child(Element(f"<title>{html.escape(title)}</title>"), name="title")
    # no favicon request (a 404 in every browser console)
    _header(m).add_child(Element('<link rel="icon" href="data:,">'), name="icon")
    _inline_assets(m)
    _header(m).add_child(Element(f"<script>{basemap_script(settings)}</script>"),
                         name="basemap_js")
    return m


class LayerControl(folium.LayerControl):
    """folium's layer switcher, open on wide screens and folded to its icon on phones.

    An open switcher on a 390 px screen covers the title and half the map.
    """

    _template = folium.template.Template("""
        {% macro script(this,kwargs) %}
        L.control.layers(
            { {%- for key, val in this.base_layers.items() %}{{ key|tojson }}: {{ val }},
              {%- endfor %} },
            { {%- for key, val in this.overlays.items() %}{{ key|tojson }}: {{ val }},
              {%- endfor %} },
            Object.assign({{ this.options|tojavascript }},
                          {collapsed: window.matchMedia("(max-width: 600px)").matches})
        ).addTo({{ this._parent.get_name() }});
        {% endmacro %}""")


def _legend(settings: Settings) -> str:
    """HTML legend of the minute classes."""
    rows = [f'<div><i style="display:inline-block;width:14px;height:14px;background:{c};'
            f'margin-right:6px;vertical-align:middle"></i>{label} min</div>'
            for c, label in zip(CLASS_COLOURS, class_labels(settings.maps.breaks_min),
                                strict=True)]
    rows.append(f'<div><i style="display:inline-block;width:14px;height:14px;'
                f'background:{UNREACHABLE_COLOUR};margin-right:6px;vertical-align:middle"></i>'
                "nicht erreichbar</div>")
    return "<b>Minuten bis zum nächsten Angebot</b>" + "".join(rows)


def surface_image(raster: pd.DataFrame, breaks: Sequence[int]
                  ) -> tuple[np.ndarray, list[list[float]]]:
    """RGBA image (Web Mercator) of 100 m minute cells and its bounds [[S, W], [N, E]].

    Parameters
    ----------
    raster
        ``x``, ``y`` (EPSG:3035 cell centres on a 100 m grid), ``minutes`` (NaN =
        unreachable), as :meth:`Accessibility.raster_minutes`. Cells not listed stay
        transparent.
    breaks
        Upper bounds of the colour classes, minutes.
    """
    minutes = raster["minutes"].to_numpy()
    cls = np.where(np.isnan(minutes), len(CLASS_COLOURS),
                   np.searchsorted(np.asarray(breaks, float), minutes, side="left"))
    palette = np.array([_hex_rgba(c, 200) for c in CLASS_COLOURS]
                       + [_hex_rgba(UNREACHABLE_COLOUR, 160)], dtype=np.uint8)
    return cells_image(raster["x"].to_numpy(), raster["y"].to_numpy(), palette[cls])


def cells_image(xs: np.ndarray, ys: np.ndarray, rgba: np.ndarray
                ) -> tuple[np.ndarray, list[list[float]]]:
    """RGBA image (Web Mercator) of 100 m cells in given colours, bounds [[S, W], [N, E]].

    ``xs``, ``ys``: EPSG:3035 cell centres (metres) on the 100 m INSPIRE grid; ``rgba``:
    one colour (uint8 × 4) per cell. Everything else is transparent.
    """
    x0, y1 = xs.min() - 50.0, ys.max() + 50.0
    cols = np.rint((xs - x0 - 50.0) / 100.0).astype(int)
    rows = np.rint((y1 - 50.0 - ys) / 100.0).astype(int)
    width, height = cols.max() + 1, rows.max() + 1
    src = np.zeros((4, height, width), np.uint8)  # transparent outside the cells
    src[:, rows, cols] = np.asarray(rgba, np.uint8).T
    src_transform = from_origin(x0, y1, 100.0, 100.0)
    bounds = (x0, y1 - 100.0 * height, x0 + 100.0 * width, y1)
    dst_transform, w, h = calculate_default_transform(METRIC_CRS, _WEB_MERCATOR, width, height,
                                                      *bounds)
    dst = np.zeros((4, h, w), np.uint8)
    for band in range(4):
        reproject(src[band], dst[band], src_transform=src_transform, src_crs=METRIC_CRS,
                  dst_transform=dst_transform, dst_crs=_WEB_MERCATOR,
                  resampling=Resampling.nearest)
    west, north = _TO_LONLAT.transform(dst_transform.c, dst_transform.f)
    east, south = _TO_LONLAT.transform(dst_transform.c + w * dst_transform.a,
                                       dst_transform.f + h * dst_transform.e)
    return np.transpose(dst, (1, 2, 0)), [[south, west], [north, east]]


def populated(engine: Accessibility, raster: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of a 100 m ``raster`` (``x``, ``y``) where people live.

    A cell is populated when the census lists children under 10 or families with minors
    in it (the 100 m grids: cells with fewer than 3 are not published, so the few people
    of such cells are not shown).
    """
    cells = pd.concat([engine.cell_frame(grid)[["x", "y"]] for grid in ("children", "need")])
    keys = set(zip(np.rint(cells["x"]).astype(int), np.rint(cells["y"]).astype(int),
                   strict=True))
    mask = [k in keys for k in zip(np.rint(raster["x"]).astype(int),
                                   np.rint(raster["y"]).astype(int), strict=True)]
    return raster[np.asarray(mask, dtype=bool)]


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) \
        else html.escape(str(value))


def offer_popup(offer: pd.Series) -> str:
    """German popup HTML of one offer: name, Träger, ages, opening hours, source."""
    ages = ("unbekannt" if pd.isna(offer["age_from"]) and pd.isna(offer["age_to"]) else
            f"{'' if pd.isna(offer['age_from']) else f'{offer.age_from:g}'}–"
            f"{'' if pd.isna(offer['age_to']) else f'{offer.age_to:g}'} Jahre")
    address = " ".join(p for p in (_text(offer["street"]), _text(offer["housenumber"])) if p)
    town = " ".join(p for p in (_text(offer["postcode"]), _text(offer["town"])) if p)
    source = _text(offer["source"]) or ""
    if source.startswith("http"):
        source = f'<a href="{source}" target="_blank" rel="noopener">{source}</a>'
    rows = [("Träger", _text(offer["traeger"]) or "unbekannt"),
            ("Adresse", ", ".join(p for p in (address, town) if p) or "unbekannt"),
            ("Alter", ages),
            ("Öffnungszeiten", _text(offer["opening_hours"]) or "unbekannt"),
            ("Quelle", f"{source} ({_text(offer['source_date']) or 'ohne Datum'})")]
    return (f"<b>{html.escape(str(offer['name']))}</b><br>"
            + "<br>".join(f"<i>{k}:</i> {v}" for k, v in rows))


class Popup(MacroElement):
    """A popup bound to its parent layer from an HTML string.

    folium's Popup needs jQuery, which the offline maps do not carry.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindPopup({{ this.content|tojson }}, {maxWidth: 320});
        {% endmacro %}""")

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "Popup"
        self.content = content


def _add_offers(m: folium.Map, offers: pd.DataFrame, category: str) -> None:
    cluster = MarkerCluster(name=f"Angebote: {label('category', category)} ({len(offers)})",
                            options={"maxClusterRadius": 40})
    cluster.default_js, cluster.default_css = [], []
    for _, offer in offers.iterrows():
        marker = folium.CircleMarker(
            [offer["lat"], offer["lon"]], radius=6, color="#08306b", weight=2,
            fill=True, fill_color="#4292c6", fill_opacity=0.9,
            tooltip=html.escape(str(offer["name"])))
        marker.add_child(Popup(offer_popup(offer)))
        marker.add_to(cluster)
    cluster.add_to(m)


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else f"{value * 100:.0f} %"


def _add_units(m: folium.Map, table: gpd.GeoDataFrame, white_spot: int, name: str) -> None:
    """Gemeinden with a coverage tooltip (children under 10)."""
    shown = gpd.GeoDataFrame({
        "Gemeinde": table["name"],
        "Kinder unter 10": table["children"].round().astype(int),
        **{f"≤ {m} min": table[f"children_within_{m}min_share"].map(_percent)
           for m in TOOLTIP_MINUTES},
        "Median (min)": table["children_median_minutes"].map(
            lambda v: "–" if pd.isna(v) else f"{v:.0f}"),
        f"Kinder > {white_spot} min": table[f"children_beyond_{white_spot}min"]
        .round().astype(int),
    }, geometry=table.geometry.to_crs("EPSG:4326"))
    fields = [c for c in shown.columns if c != "geometry"]
    folium.GeoJson(
        shown, name=name,
        style_function=lambda _: {"color": "#252525", "weight": 1.5, "fillOpacity": 0.0},
        highlight_function=lambda _: {"weight": 3, "fillOpacity": 0.05},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[f"{f}:" for f in fields],
                                      sticky=True)).add_to(m)


def save_map(m: folium.Map, target: Path) -> Path:
    """Write the map's HTML to ``target`` atomically (readers never see half a page)."""
    with atomic_path(target) as tmp:
        m.save(str(tmp))
    return target


def travel_time_map(engine: Accessibility, category: str, mode: str) -> folium.Map:
    """Map of the minutes to the nearest ``category`` offer by ``mode`` (see module doc)."""
    settings = engine.settings
    title = (f"{label('category', category)} {label('mode', mode)}: Minuten bis zum nächsten "
             f"Angebot – {engine.region.title}")
    legend = _legend(settings) + "<div><small>" + html.escape(
        text("maps.masked", census=settings.census.title)) + "</small></div>"
    m = new_map(settings, title, legend)
    image, bounds = surface_image(populated(engine, engine.raster_minutes(category, mode)),
                                  settings.maps.breaks_min)
    folium.raster_layers.ImageOverlay(image, bounds, name="Fahrzeit (Minuten, 100-m-Raster)",
                                      opacity=0.75, mercator_project=False).add_to(m)
    table = engine.coverage("gemeinde", category, mode, TOOLTIP_MINUTES)
    _add_units(m, table, settings.access.white_spot_min, "Gemeinden (Erreichbarkeit)")
    offers = engine.offers
    _add_offers(m, offers[(offers["category"] == category) & (offers["status"] == "active")],
                category)
    LayerControl(collapsed=False).add_to(m)
    return m


#: White-spot cells: children under 10 per cell (lower bounds) → opacity of the red.
SPOT_CLASSES: Final = ((3, 0.3, "3–9"), (10, 0.55, "10–29"), (30, 0.85, "≥ 30"))
SPOT_COLOUR: Final = "#cb181d"


def spot_image(cells: pd.DataFrame) -> tuple[np.ndarray, list[list[float]]]:
    """Raster (Web Mercator RGBA) of white-spot cells, more children = more opaque red.

    ``cells``: ``x``, ``y`` (EPSG:3035 centres), ``children_under_10``.
    """
    n = cells["children_under_10"].to_numpy()
    lows = np.array([low for low, _, _ in SPOT_CLASSES])
    cls = np.clip(np.searchsorted(lows, n, side="right") - 1, 0, len(lows) - 1)
    palette = np.array([_hex_rgba(SPOT_COLOUR, round(a * 255)) for _, a, _ in SPOT_CLASSES],
                       dtype=np.uint8)
    return cells_image(cells["x"].to_numpy(), cells["y"].to_numpy(), palette[cls])


def white_spot_map(engine: Accessibility, categories: Sequence[str], mode: str) -> folium.Map:
    """Map the children under 10 living more than ``white_spot_min`` minutes from an offer.

    Measured to the nearest offer; one raster layer per category (100 m cells as a PNG,
    darker = more children), Gemeinden with the counts per category; the white-spot
    definition (``AccessSettings.white_spot_min``/``white_spot_mode``) stated in the legend.
    """
    settings = engine.settings
    limit = settings.access.white_spot_min
    title = (f"Weiße Flecken {label('mode', mode)}: Kinder unter 10, die mehr als {limit} "
             f"Minuten bis zum nächsten Angebot brauchen – {engine.region.title}")
    legend = (f"<b>{html.escape(text('maps.white_spot_legend'))}</b>"
              + "".join(f'<div><i style="display:inline-block;width:14px;height:14px;'
                        f'background:{SPOT_COLOUR};opacity:{o};margin-right:6px;'
                        f'vertical-align:middle"></i>{name}</div>'
                        for _, o, name in SPOT_CLASSES)
              + "<div style='max-width:22em'><small>" + html.escape(text(
                  "maps.white_spot_definition", mode=label("mode", mode), minutes=limit))
              + "</small></div>")
    m = new_map(settings, title, legend)
    cells = engine.cell_frame("children")
    gemeinden = engine.units("gemeinde")
    counts = pd.DataFrame({"Gemeinde": gemeinden["name"].to_numpy()}, index=gemeinden["ags"])
    for i, category in enumerate(categories):
        minutes = engine.cells(category, mode)
        far = ~(minutes["minutes"].to_numpy() <= limit)
        counts[label("category", category)] = (
            minutes[far].groupby("gemeinde_ags")["children_under_10"].sum()
            .reindex(counts.index).fillna(0).astype(int))
        total = int(cells["children_under_10"].to_numpy()[far].sum())
        name = f"{label('category', category)}: {total} Kinder > {limit} min"
        if not far.any():
            continue
        image, bounds = spot_image(pd.DataFrame({
            "x": cells["x"].to_numpy()[far], "y": cells["y"].to_numpy()[far],
            "children_under_10": cells["children_under_10"].to_numpy()[far]}))
        folium.raster_layers.ImageOverlay(image, bounds, name=name, show=i == 0,
                                          mercator_project=False).add_to(m)
    shown = gpd.GeoDataFrame(counts.reset_index(drop=True),
                             geometry=gemeinden.geometry.to_crs("EPSG:4326").to_numpy(),
                             crs="EPSG:4326")
    fields = [c for c in shown.columns if c != "geometry"]
    folium.GeoJson(
        shown, name=f"Gemeinden (Kinder > {limit} min je Angebot)",
        style_function=lambda _: {"color": "#252525", "weight": 1.5, "fillOpacity": 0.0},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[f"{f}:" for f in fields],
                                      sticky=True)).add_to(m)
    LayerControl(collapsed=False).add_to(m)
    return m


def build_maps(settings: Settings, engine: Accessibility | None = None,
               categories: Sequence[str] | None = None,
               modes: Sequence[str] = STREET_MODES) -> dict[str, Any]:
    """Write a travel-time map per category × mode and the white-spot overview.

    Parameters
    ----------
    settings
        Settings (``maps.out_dir``, ``maps.categories``, ``access.white_spot_mode``).
    engine
        A loaded engine to reuse (default: a new one).
    categories
        Categories to map (default ``MapSettings.categories``; those without active
        offers are skipped and reported).
    modes
        Modes to map.

    Returns
    -------
    dict
        CLI summary: ``maps`` (file names), ``skipped`` (category → reason), ``out_dir``,
        ``seconds``.
    """
    t0 = time.perf_counter()
    engine = engine or Accessibility(settings)
    out = settings.maps.out_dir
    clean_stray_tmp(out)  # leftovers of a killed run; every map is written atomically
    wanted = list(categories or settings.maps.categories)
    available = engine.categories()
    skipped = {c: "no active offers" for c in wanted if c not in available}
    chosen = [c for c in wanted if c in available]
    written = []
    for category in chosen:
        for mode in modes:
            target = out / f"{category}-{mode}.html"
            save_map(travel_time_map(engine, category, mode), target)
            written.append(target.name)
            log.info("wrote %s", target)
    if "transit" not in modes:  # transit maps (Güteklassen, timetable note) when loaded
        from geo.products.transit_maps import build_transit_maps
        transit = build_transit_maps(engine, chosen, out)
        written, skipped = written + transit["maps"], {**skipped, **transit["skipped"]}
    spot_mode = settings.access.white_spot_mode
    target = out / f"weisse-flecken-{spot_mode}.html"
    save_map(white_spot_map(engine, chosen, spot_mode), target)
    written.append(target.name)
    return {"maps": written, "skipped": skipped, "out_dir": str(out),
            "seconds": round(time.perf_counter() - t0, 1)}
