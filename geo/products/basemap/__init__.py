"""The offline base map of a region, drawn from its own OpenStreetMap vector tiles.

Roads by class, water, forest, built-up areas and buildings come from the region's z14
tiles (2021 county tiles, replaced by the 2026 city tiles where those exist), Gemeinde and
county borders from BKG VG5000; place and street names are served as text
(:mod:`~geo.products.basemap.labels`). Raster PNG tiles (256 px, XYZ scheme) are drawn
in Python (:mod:`~geo.products.basemap.render`) from features decoded once and generalised
per zoom band (:mod:`~geo.products.basemap.store`).

``erreichbar basemap build`` (:func:`build_basemap`) writes the feature bands and draws
every tile up to :attr:`~geo.settings.BaseMapSettings.prebuild_max_zoom` into
``processed/<region>/basemap/``; higher zooms are drawn on their first request and kept
there (:meth:`BaseMap.tile`). Pages add the tiles, the labels, a metric scale and the
attribution with ``window.erreichbarBaseMap(map)`` from :func:`script` (served as
``/basemap.js``; the Folium maps inline it). Report maps take a finished picture from
:func:`render_image`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from PIL import ImageDraw, ImageFont
from tqdm import tqdm

from geo._io import BuildManifest, atomic_path, clean_stray_tmp, files_digest
from geo.errors import DataError
from geo.messages import text
from geo.products.basemap import labels as label_rules
from geo.products.basemap.render import Renderer, Window, png_bytes
from geo.products.basemap.store import HALF_WORLD, build_store, store_dir, tile_inputs
from geo.settings import Settings, get_region
from geo.sources.boundaries import vg5000_files
from geo.vocabulary import data_sources

log = logging.getLogger(__name__)

#: Bump when drawing or the stored layout changes: old builds are then rebuilt.
_VERSION: Final = "2"
#: The page script; ``__BASEMAP_CONFIG__`` is replaced by :func:`script`.
SCRIPT: Final = Path(__file__).resolve().parent.parent / "static" / "basemap.js"


def tile_range(settings: Settings, z: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 (inclusive) of the zoom-``z`` tiles covering the region's bbox."""
    w, s, e, n = get_region(settings.region).bbox

    def tx(lon: float) -> int:
        return int((lon + 180.0) / 360.0 * 2**z)

    def ty(lat: float) -> int:
        return int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * 2**z)

    return tx(w), ty(n), tx(e), ty(s)


def attribution_text(settings: Settings) -> str:
    """Return the base map's attribution (German), naming the vintages of its tiles."""
    osm = next(s for s in data_sources(settings) if s.key == "osm")
    return text("basemap.attribution", vintages=osm.vintage)


@dataclass
class BaseMap:
    """A built base map: tiles (drawn on demand, kept on disk), labels and pictures."""

    settings: Settings
    folder: Path
    renderer: Renderer = field(init=False)
    _labels: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, shapely.STRtree] | None = None

    def __post_init__(self) -> None:
        """Set up the renderer of the folder."""
        self.renderer = Renderer(self.folder, self.settings.basemap.supersample)

    def in_range(self, z: int, x: int, y: int) -> bool:
        """Whether tile ``z/x/y`` is one of the base map's (zoom range, region's bbox)."""
        cfg = self.settings.basemap
        if not cfg.min_zoom <= z <= cfg.max_zoom:
            return False
        x0, y0, x1, y1 = tile_range(self.settings, z)
        return x0 <= x <= x1 and y0 <= y <= y1

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """PNG of tile ``z/x/y`` (None when out of range); drawn once, then read from disk."""
        if not self.in_range(z, x, y):
            return None
        path = self.folder / "tiles" / str(z) / str(x) / f"{y}.png"
        if path.is_file():
            return path.read_bytes()
        data = png_bytes(self.renderer.draw(Window.tile(z, x, y)))
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return data

    def label_data(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, shapely.STRtree]:
        """Places, street lines and the street index (loaded once)."""
        if self._labels is None:
            places = gpd.read_parquet(self.folder / "places.parquet")
            streets = gpd.read_parquet(self.folder / "streets.parquet")
            self._labels = (places, streets, shapely.STRtree(streets.geometry.to_numpy()))
        return self._labels

    def labels(self, bbox: tuple[float, float, float, float], zoom: int
               ) -> list[label_rules.Label]:
        """Labels of the WGS84 ``bbox`` (west, south, east, north) at ``zoom``, thinned."""
        x0, y0 = lonlat_to_mercator(bbox[0], bbox[1])
        x1, y1 = lonlat_to_mercator(bbox[2], bbox[3])
        scale = 2.0**zoom * 256 / (2 * HALF_WORLD)  # px per metre
        window = Window(x0, y0, x1, y1, max(1, round((x1 - x0) * scale)),
                        max(1, round((y1 - y0) * scale)), float(zoom))
        places, streets, tree = self.label_data()
        cfg = self.settings.basemap
        return label_rules.select(places, streets, tree, window, cfg.street_label_zoom,
                                  cfg.max_labels)

    def image(self, bbox: tuple[float, float, float, float], width: int, height: int) -> bytes:
        """PNG of the WGS84 ``bbox`` (whole, centred) at ``width`` × ``height`` px.

        Place names are drawn into the picture (for PDFs, which cannot carry DOM labels).
        """
        x0, y0 = lonlat_to_mercator(bbox[0], bbox[1])
        x1, y1 = lonlat_to_mercator(bbox[2], bbox[3])
        window = Window.fit((x0, y0, x1, y1), width, height)
        picture = self.renderer.draw(window)
        places, streets, tree = self.label_data()
        pen = ImageDraw.Draw(picture)
        for label in label_rules.select(places, streets, tree, window, 99,
                                        self.settings.basemap.max_labels):
            mx, my = lonlat_to_mercator(label.lon, label.lat)
            px, py = window.pixels(np.array([mx]), np.array([my]))
            pen.text((float(px[0]), float(py[0])), label.text, fill="#333333",
                     font=_font(label.size), anchor="mm", stroke_width=2,
                     stroke_fill="#ffffff")
        buffer = io.BytesIO()
        picture.save(buffer, "PNG", optimize=True)
        return buffer.getvalue()


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (bundled with matplotlib: every German letter) at ``size`` px."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size) if path.is_file() else \
        ImageFont.load_default(size=size)


def lonlat_to_mercator(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 degrees → Web Mercator metres (spherical)."""
    r = HALF_WORLD / math.pi
    return r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


_LOADED: dict[str, BaseMap] = {}


def basemap_for(settings: Settings) -> BaseMap:
    """Return the built base map of the settings' region (loaded once per folder).

    Raises DataError (with the command to run) when it has not been built.
    """
    folder = store_dir(settings)
    key = str(folder.resolve())
    if key not in _LOADED:
        if BuildManifest(folder / "manifest.json").read() is None:
            raise DataError(f"{folder}: no base map built; run `erreichbar basemap build`")
        _LOADED[key] = BaseMap(settings, folder)
    return _LOADED[key]


def render_image(settings: Settings, bbox_wgs84: tuple[float, float, float, float],
                 width_px: int, height_px: int) -> bytes:
    """PNG picture of the base map showing ``bbox_wgs84`` (west, south, east, north) whole.

    For report maps: ``width_px`` × ``height_px`` pixels (each at most
    ``BaseMapSettings.max_image_px``), place names drawn in. Raises ValueError for a bad
    size or box, DataError when the base map is not built.
    """
    limit = settings.basemap.max_image_px
    if not (0 < width_px <= limit and 0 < height_px <= limit):
        raise ValueError(f"picture size {width_px} × {height_px} px: each side must be "
                         f"1–{limit} px")
    w, s, e, n = bbox_wgs84
    if not (-180 <= w < e <= 180 and -85 < s < n < 85):
        raise ValueError(f"bbox {bbox_wgs84}: want west < east, south < north (degrees)")
    return basemap_for(settings).image(bbox_wgs84, width_px, height_px)


def is_built(settings: Settings) -> bool:
    """Whether the region's base map has been built (a region without tiles never has one)."""
    return BuildManifest(store_dir(settings) / "manifest.json").read() is not None


def script(settings: Settings) -> str:
    """Return the page script defining ``window.erreichbarBaseMap(map)`` for the region.

    Without a built base map (:func:`is_built`) its ``tiles`` and ``labels`` are null: the
    pages then show a plain background, the scale and their attribution, and ask the
    server for no tile.
    """
    cfg = settings.basemap
    w, s, e, n = get_region(settings.region).bbox
    built = is_built(settings)
    config = {"tiles": "/basemap/{z}/{x}/{y}.png" if built else None,
              "labels": "/basemap/labels" if built else None,
              "minZoom": cfg.min_zoom, "maxZoom": cfg.max_zoom, "bounds": [[s, w], [n, e]],
              "attribution": attribution_text(settings)}
    return SCRIPT.read_text("utf-8").replace("__BASEMAP_CONFIG__", json.dumps(config))


def _prebuild(basemap: BaseMap) -> list[Path]:
    """Draw every tile up to ``prebuild_max_zoom``; return their files."""
    cfg = basemap.settings.basemap
    jobs = []
    for z in range(cfg.min_zoom, min(cfg.prebuild_max_zoom, cfg.max_zoom) + 1):
        x0, y0, x1, y1 = tile_range(basemap.settings, z)
        jobs += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    for z, x, y in tqdm(jobs, desc="drawing base-map tiles", unit="tile"):
        basemap.tile(z, x, y)
    return [basemap.folder / "tiles" / str(z) / str(x) / f"{y}.png" for z, x, y in jobs]


def build_basemap(settings: Settings, force: bool = False) -> dict[str, Any]:
    """Build the base map (``erreichbar basemap build``); return the CLI summary.

    Skipped while tiles, boundaries and base-map settings are unchanged and the stored
    files intact (``force`` rebuilds). The summary names ``tiles`` drawn, ``bytes`` on disk
    (features + tiles), ``zooms`` pre-drawn, ``seconds``.
    """
    t0 = time.perf_counter()
    folder = store_dir(settings)
    manifest = BuildManifest(folder / "manifest.json")
    clean_stray_tmp(folder)
    digest = files_digest([*tile_inputs(settings), *vg5000_files(settings.data_dir)],
                          extra=_VERSION + settings.basemap.model_dump_json())
    cached = None if force else manifest.is_current(digest, verify="size")
    if cached is not None:
        log.info("base map in %s is up to date", folder)
        return {**cached, "seconds": round(time.perf_counter() - t0, 2), "cached": True}
    manifest.invalidate()
    shutil.rmtree(folder / "tiles", ignore_errors=True)  # tiles of the previous build
    _LOADED.pop(str(folder.resolve()), None)
    stored = build_store(settings)
    tiles = _prebuild(BaseMap(settings, folder))
    cfg = settings.basemap
    summary = {"region": settings.region, "folder": str(folder), "tiles": len(tiles),
               "zooms": [cfg.min_zoom, min(cfg.prebuild_max_zoom, cfg.max_zoom)],
               "tile_bytes": sum(p.stat().st_size for p in tiles),
               "bytes": sum(p.stat().st_size for p in [*stored, *tiles]),
               "attribution": attribution_text(settings)}
    manifest.record(digest, [*stored, *tiles], summary)
    log.info("base map: %d tiles, %d bytes in %s", len(tiles), summary["bytes"], folder)
    return {**summary, "seconds": round(time.perf_counter() - t0, 2), "cached": False}
