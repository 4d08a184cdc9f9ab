"""Place and street names of the base map, chosen per view and thinned so none overlap.

Labels are not baked into the tiles: the pages draw them as DOM text (readable by screen
readers and by the browser tests), from ``GET /basemap/labels``. Places come from the
tiles' ``place`` layer from the zoom of their class (:data:`PLACE_ZOOM`), streets from
``transportation_name`` from :attr:`~geo.settings.BaseMapSettings.street_label_zoom` on,
each street name once per stretch long enough to hold it, along the street. Overlaps are
resolved greedily by importance (place class and rank, then road class and length).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import shapely

from geo.products.basemap.render import Window
from geo.products.basemap.store import HALF_WORLD, metres_per_pixel

#: First zoom at which a place class is named.
PLACE_ZOOM: Final = {"city": 8, "town": 9, "village": 11, "suburb": 12, "hamlet": 13,
                     "quarter": 14, "neighbourhood": 15, "isolated_dwelling": 16,
                     "locality": 16}
#: Font size (CSS px) of a place class; streets use :data:`STREET_SIZE`.
PLACE_SIZE: Final = {"city": 17, "town": 15, "village": 13, "suburb": 13, "hamlet": 12,
                     "quarter": 12, "neighbourhood": 12, "isolated_dwelling": 11,
                     "locality": 11}
STREET_SIZE: Final = 12
#: Importance of road classes for street labels (lower first).
ROAD_ORDER: Final = ("motorway", "trunk", "primary", "secondary", "tertiary", "minor",
                     "service", "track", "path")
#: Average glyph width as a share of the font size (sans-serif, mixed case).
_GLYPH: Final = 0.6


@dataclass(frozen=True)
class Label:
    """One label: text at a point (lon/lat degrees), font size (px), angle (degrees)."""

    text: str
    kind: str  #: ``place`` or ``street``
    cls: str  #: place class or road class
    lon: float
    lat: float
    size: int
    angle: float

    def as_json(self) -> dict[str, Any]:
        """JSON form (``class`` instead of ``cls``)."""
        out = asdict(self)
        out["class"] = out.pop("cls")
        return out


#: Where along a street part its name may sit (0 = first possible spot, 1 = last), tried in
#: this order: a name crowded out in the middle is placed elsewhere on the same street.
SPOTS: Final = (0.5, 0.25, 0.75)


def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """Web Mercator metres → lon, lat degrees (spherical inverse)."""
    r = HALF_WORLD / np.pi
    return float(np.degrees(x / r)), float(np.degrees(2 * np.arctan(np.exp(y / r)) - np.pi / 2))


def _box(cx: float, cy: float, text: str, size: int, angle: float) -> tuple[float, ...]:
    """Axis-aligned pixel box of a (rotated) label centred at cx, cy."""
    w, h = len(text) * size * _GLYPH + 6, size * 1.3
    a = np.radians(angle)
    bw = abs(w * np.cos(a)) + abs(h * np.sin(a))
    bh = abs(w * np.sin(a)) + abs(h * np.cos(a))
    return cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2


def _free(box: tuple[float, ...], taken: list[tuple[float, ...]]) -> bool:
    return all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3]
               for t in taken)


def _places(places: gpd.GeoDataFrame, window: Window) -> list[tuple[float, ...]]:
    """Candidates (priority, x, y, index) of the places named at the window's zoom."""
    x, y = places.geometry.x.to_numpy(), places.geometry.y.to_numpy()
    first = places["class"].map(PLACE_ZOOM).fillna(99).to_numpy()
    inside = ((x >= window.x0) & (x <= window.x1) & (y >= window.y0) & (y <= window.y1)
              & (first <= window.zoom + 1e-9))
    order = {c: i for i, c in enumerate(PLACE_ZOOM)}
    prio = places["class"].map(order).to_numpy() * 100 + places["rank"].to_numpy()
    return [(float(prio[i]), float(x[i]), float(y[i]), int(i)) for i in np.flatnonzero(inside)]


def _street_spots(streets: gpd.GeoDataFrame, tree: shapely.STRtree, window: Window
                  ) -> list[tuple[float, str, str, float, float, float]]:
    """Candidates (priority, key, class, x, y, angle) along named streets in the window.

    ``key`` is ``name|class|part``: each part has one candidate per :data:`SPOTS`, and
    :func:`select` names a part once.
    """
    mpp = metres_per_pixel(window.zoom)
    hits = tree.query(shapely.box(window.x0, window.y0, window.x1, window.y1))
    if not len(hits):
        return []
    sub = streets.iloc[np.sort(hits)]
    out = []
    for (name, cls), group in sub.groupby(["name", "class"], sort=False):
        # merged end to end without noding (a union would cut lines at every crossing)
        merged = shapely.line_merge(shapely.multilinestrings(group.geometry.to_numpy()))
        clipped = shapely.clip_by_rect(merged, window.x0, window.y0, window.x1, window.y1)
        need = len(name) * STREET_SIZE * _GLYPH * mpp  # metres the text covers
        parts = sorted((p for p in shapely.get_parts(clipped)
                        if p.geom_type == "LineString" and p.length > need * 0.8),
                       key=lambda p: -p.length)[:2]
        rank = ROAD_ORDER.index(cls) if cls in ROAD_ORDER else len(ROAD_ORDER)
        for n, part in enumerate(parts):
            prio = rank * 1e6 - part.length / mpp
            for shift, at in enumerate(SPOTS):  # the middle first; elsewhere if it is taken
                mid = need / 2 + (part.length - need) * at
                a, b = (part.interpolate(mid + d) for d in (-need / 2, need / 2))
                angle = float(np.degrees(np.arctan2(-(b.y - a.y), b.x - a.x)))
                angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle
                c = part.interpolate(mid)
                out.append((prio + shift * 1e-3, f"{name}|{cls}|{n}", str(cls), c.x, c.y, angle))
    return out


def select(places: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, street_tree: shapely.STRtree,
           window: Window, street_zoom: int, limit: int) -> list[Label]:
    """Return the labels of a window (Mercator, see :class:`Window`), thinned, at most ``limit``."""
    chosen: list[Label] = []
    taken: list[tuple[float, ...]] = []
    candidates: list[tuple[float, str, str, str, float, float, float]] = [
        (prio, "place", str(places["name"].iat[i]), str(places["class"].iat[i]), x, y, 0.0)
        for prio, x, y, i in sorted(_places(places, window))]
    if window.zoom >= street_zoom:
        candidates += [(p, "street", n, c, x, y, a)
                       for p, n, c, x, y, a in sorted(_street_spots(streets, street_tree,
                                                                    window))]
    placed: set[str] = set()  # street parts already named (each has several spots)
    for _, kind, key, cls, x, y, angle in candidates:
        text = key.split("|", 1)[0]
        if key in placed:
            continue
        size = PLACE_SIZE.get(cls, 12) if kind == "place" else STREET_SIZE
        px, py = window.pixels(np.array([x]), np.array([y]))
        box = _box(float(px[0]), float(py[0]), text, size, angle)
        if not _free(box, taken):
            continue
        taken.append(box)
        if kind == "street":
            placed.add(key)
        lon, lat = to_lonlat(x, y)
        chosen.append(Label(text, kind, cls, round(lon, 6), round(lat, 6), size,
                            round(angle, 1)))
        if len(chosen) >= limit:
            break
    return chosen
