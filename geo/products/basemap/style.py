"""The base map's style: which tile feature becomes which drawn kind, colours and widths.

Light and muted on purpose: travel-time rasters, routes and markers go on top and must keep a
contrast of at least 3:1 against it (WCAG 2.1, 1.4.11). Colours are hex RGB; widths are CSS
pixels of a 256-pixel tile at zoom 14 and grow by :data:`WIDTH_GROWTH` per zoom level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

#: Background (fields, farmland and everything not drawn otherwise).
BACKGROUND: Final = "#f5f4f0"


@dataclass(frozen=True)
class AreaStyle:
    """A filled area kind: its colour and the first zoom it is drawn at."""

    colour: str
    min_zoom: int


@dataclass(frozen=True)
class LineStyle:
    """A line kind: fill colour, casing colour ('' = none), width at z14 (px), first zoom."""

    colour: str
    casing: str
    width: float
    min_zoom: int


#: Area kinds in drawing order (later ones cover earlier ones).
AREAS: Final[dict[str, AreaStyle]] = {
    "grass": AreaStyle("#e9efe0", 12),
    "wood": AreaStyle("#d9e6cf", 8),
    "builtup": AreaStyle("#e8e4de", 10),
    "industrial": AreaStyle("#e6e1e6", 11),
    "water": AreaStyle("#b5d0e6", 8),
    "building": AreaStyle("#dcd6ce", 15),
}

#: Line kinds in drawing order (later ones on top; casings of all roads first).
LINES: Final[dict[str, LineStyle]] = {
    "stream": LineStyle("#b5d0e6", "", 1.2, 13),
    "river": LineStyle("#b5d0e6", "", 3.0, 10),
    "rail": LineStyle("#c6c2bc", "", 0.9, 11),
    "path": LineStyle("#c9b9a3", "", 0.9, 14),
    "track": LineStyle("#d2c3a8", "", 1.1, 14),
    "service": LineStyle("#ffffff", "#d0ccc6", 1.6, 15),
    "minor": LineStyle("#ffffff", "#cdc8c1", 3.0, 13),
    "tertiary": LineStyle("#ffffff", "#c4beb6", 4.0, 11),
    "secondary": LineStyle("#fbf3dc", "#c9bb95", 5.0, 10),
    "primary": LineStyle("#f7e7bd", "#c8b27a", 5.5, 8),
    "trunk": LineStyle("#f3d9a6", "#c4a36a", 6.0, 8),
    "motorway": LineStyle("#efc98f", "#bf9656", 6.5, 8),
}

#: Gemeinde and county borders (VG5000), drawn over areas, under roads.
BORDER: Final = LineStyle("#a592b8", "", 1.3, 8)
COUNTY_BORDER: Final = LineStyle("#8a76a0", "", 2.4, 8)

#: Line widths grow by this factor per zoom level (a street is wider on screen at z17).
WIDTH_GROWTH: Final = 1.45
#: Thinnest drawn line, px (thinner ones vanish when the tile is downsampled).
MIN_WIDTH: Final = 0.7

_ROAD_CLASSES: Final = {"motorway", "trunk", "primary", "secondary", "tertiary", "minor",
                        "service", "track", "path"}
_ROAD_ALIASES: Final = {"busway": "service", "raceway": "service", "bus_guideway": "service"}
_WATERWAY: Final = {"river": "river", "canal": "river", "stream": "stream"}
_LANDUSE: Final = {
    **dict.fromkeys(("residential", "suburb", "neighbourhood", "quarter", "commercial",
                     "retail", "garages", "school", "kindergarten", "university", "college",
                     "hospital", "library", "bus_station", "religious"), "builtup"),
    **dict.fromkeys(("industrial", "railway", "quarry", "military", "dam"), "industrial"),
    **dict.fromkeys(("cemetery", "park", "playground", "pitch", "stadium", "zoo",
                     "theme_park", "grave_yard", "allotments", "recreation_ground"), "grass"),
}
_LANDCOVER: Final = {"wood": "wood", "forest": "wood", "grass": "grass", "wetland": "grass",
                     "park": "grass"}


def width(kind: LineStyle, zoom: float) -> float:
    """Line width (CSS px) of a line style at ``zoom``."""
    return max(MIN_WIDTH, kind.width * WIDTH_GROWTH ** (zoom - 14))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Return a property column as strings ('' where the feature lacks it)."""
    if name not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].where(frame[name].notna(), "").astype(str)


def classify(layer: str, frame: pd.DataFrame) -> pd.Series:
    """Drawn kind of every feature of a decoded tile ``layer`` ('' = not drawn).

    Understands both producers' schemas (OpenMapTiles 3.16 and tilemaker's): ``class``
    values as in :mod:`geo.sources.tiles`.
    """
    cls = _column(frame, "class")
    if layer == "transportation":
        cls = cls.replace(_ROAD_ALIASES)
        kind = cls.where(cls.isin(_ROAD_CLASSES), "")
        return kind.mask(cls.isin(("rail", "transit")), "rail")
    if layer == "waterway":
        return cls.map(_WATERWAY).fillna("")
    if layer == "landuse":
        return cls.map(_LANDUSE).fillna("")
    if layer == "landcover":
        return cls.map(_LANDCOVER).fillna("")
    if layer == "water":
        return pd.Series("water", index=frame.index, dtype=object)
    if layer == "building":
        return pd.Series("building", index=frame.index, dtype=object)
    raise ValueError(f"no style for tile layer {layer!r}")


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` → (r, g, b)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    def luminance(colour: str) -> float:
        c = np.array(hex_rgb(colour)) / 255.0
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
