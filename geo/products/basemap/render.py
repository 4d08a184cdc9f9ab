"""Draw the base map's features into a raster image (Pillow and rasterio, no map server).

:class:`Renderer` draws any Web Mercator window: areas are burnt with
:func:`rasterio.features.rasterize` (holes and overlaps exact), lines with Pillow's
``ImageDraw.line`` (casing first, then fill, in :data:`~geo.products.basemap.style.LINES`
order). Everything is drawn at :attr:`Renderer.supersample` times the size and scaled
down (Lanczos), which gives smooth edges without an anti-aliasing renderer.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from PIL import Image, ImageDraw
from rasterio.features import rasterize

from geo.products.basemap import style
from geo.products.basemap.store import HALF_WORLD, level_of, metres_per_pixel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """A Web Mercator window (metres) drawn into ``width`` × ``height`` CSS pixels at ``zoom``."""

    x0: float
    y0: float
    x1: float
    y1: float
    width: int
    height: int
    zoom: float

    @classmethod
    def tile(cls, z: int, x: int, y: int, size: int = 256) -> Window:
        """Return the window of tile ``z/x/y`` (XYZ scheme, y down from the north)."""
        span = 2 * HALF_WORLD / 2**z
        x0, y1 = -HALF_WORLD + x * span, HALF_WORLD - y * span
        return cls(x0, y1 - span, x0 + span, y1, size, size, float(z))

    @classmethod
    def fit(cls, bounds: tuple[float, float, float, float], width: int, height: int
            ) -> Window:
        """Return the ``width`` × ``height`` px window showing Mercator ``bounds`` whole."""
        x0, y0, x1, y1 = bounds
        scale = min(width / max(x1 - x0, 1.0), height / max(y1 - y0, 1.0))  # px per metre
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half_w, half_h = width / scale / 2, height / scale / 2
        zoom = float(np.log2(scale * 2 * HALF_WORLD / 256))
        return cls(cx - half_w, cy - half_h, cx + half_w, cy + half_h, width, height, zoom)

    def pixels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mercator metres → CSS pixel coordinates of the window (y down)."""
        sx = self.width / (self.x1 - self.x0)
        sy = self.height / (self.y1 - self.y0)
        return (x - self.x0) * sx, (self.y1 - y) * sy


@dataclass(frozen=True)
class Renderer:
    """Draws windows of the stored feature bands of one base map folder.

    Nothing is held in memory: each window reads only the row groups of its band near it
    (the bands are stored in Hilbert order with a bounding-box column, see
    :func:`geo.products.basemap.store.write_frame`).
    """

    folder: Path
    supersample: int = 2

    def features(self, window: Window) -> gpd.GeoDataFrame:
        """Return the features of the window's band drawn at its zoom, with a margin."""
        margin = 20 * metres_per_pixel(window.zoom)  # wide lines just outside still show
        path = self.folder / f"level_{level_of(int(np.floor(window.zoom)))}.parquet"
        frame = gpd.read_parquet(path, bbox=(window.x0 - margin, window.y0 - margin,
                                             window.x1 + margin, window.y1 + margin),
                                 columns=["kind", "min_zoom", "geometry"])
        return frame[frame["min_zoom"].to_numpy() <= window.zoom + 1e-9]

    def draw(self, window: Window) -> Image.Image:
        """Draw the base map of ``window`` as an RGB image of ``width`` × ``height`` px."""
        s = self.supersample
        sub = self.features(window)
        geoms = sub.geometry.to_numpy()
        kinds = sub["kind"].to_numpy()
        big = Window(window.x0, window.y0, window.x1, window.y1, window.width * s,
                     window.height * s, window.zoom)
        image = Image.fromarray(self._areas(big, geoms, kinds))
        pen = ImageDraw.Draw(image)
        for colour, width, parts in self._strokes(big, geoms, kinds):
            for part in parts:
                px = max(1, round(width * s))
                pen.line(part, fill=colour, width=px, joint="curve" if px >= 6 else None)
        return image.resize((window.width, window.height), Image.Resampling.LANCZOS)

    def _areas(self, big: Window, geoms: np.ndarray, kinds: np.ndarray) -> np.ndarray:
        """RGB array of the area kinds burnt in drawing order over the background."""
        # cut to the window first: a forest of a whole z14 tile has thousands of vertices
        pad = 2 * (big.x1 - big.x0) / big.width
        rect = (big.x0 - pad, big.y0 - pad, big.x1 + pad, big.y1 + pad)
        try:
            cut = shapely.clip_by_rect(geoms, *rect)
        except shapely.errors.GEOSException:  # GEOS' fast rectangle clipper leaves a 3-point
            cut = shapely.intersection(geoms, shapely.box(*rect))  # ring on a few valid areas
        shapes = [(g, code) for code, kind in enumerate(style.AREAS, start=1)
                  for g in cut[kinds == kind] if not shapely.is_empty(g)]
        palette = np.array([style.hex_rgb(style.BACKGROUND)]
                           + [style.hex_rgb(a.colour) for a in style.AREAS.values()],
                           dtype=np.uint8)
        if not shapes:
            return np.broadcast_to(palette[0], (big.height, big.width, 3)).copy()
        transform = Affine((big.x1 - big.x0) / big.width, 0, big.x0,
                           0, -(big.y1 - big.y0) / big.height, big.y1)
        codes = rasterize(shapes, out_shape=(big.height, big.width), transform=transform,
                          fill=0, dtype="uint8")
        return palette[codes]

    def _strokes(self, big: Window, geoms: np.ndarray, kinds: np.ndarray
                 ) -> Iterator[tuple[str, float, list[list[float]]]]:
        """(colour, width in CSS px, pixel polylines) of every line pass, bottom first."""
        passes: list[tuple[str, style.LineStyle, bool]] = [
            (k, style.LINES[k], False) for k in ("stream", "river")]
        passes += [("border", style.BORDER, False), ("county_border", style.COUNTY_BORDER,
                                                     False)]
        roads = [k for k in style.LINES if k not in ("stream", "river")]
        passes += [(k, style.LINES[k], True) for k in roads if style.LINES[k].casing]
        passes += [(k, style.LINES[k], False) for k in roads]
        for kind, line, casing in passes:
            parts = self._polylines(big, geoms[kinds == kind])
            if not parts:
                continue
            width = style.width(line, big.zoom)
            if casing:
                yield line.casing, width + max(1.0, width * 0.35), parts
            else:
                yield line.colour, width, parts

    @staticmethod
    def _polylines(big: Window, geoms: np.ndarray) -> list[list[float]]:
        """Flat pixel coordinate lists of every line part (polygon edges excluded)."""
        if not len(geoms):
            return []
        parts = shapely.get_parts(geoms)
        parts = parts[shapely.get_type_id(parts) == 1]
        coords, index = shapely.get_coordinates(parts, return_index=True)
        if not len(coords):
            return []
        px, py = big.pixels(coords[:, 0], coords[:, 1])
        xy = np.column_stack([px, py])
        cuts = np.flatnonzero(np.diff(index)) + 1
        return [p.ravel().tolist() for p in np.split(xy, cuts) if len(p) > 1]


def png_bytes(image: Image.Image, colours: int = 96) -> bytes:
    """Encode an RGB image as a palette PNG (``colours`` colours: muted maps need few)."""
    buffer = io.BytesIO()
    image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        buffer, "PNG", optimize=True)
    return buffer.getvalue()
