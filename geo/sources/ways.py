"""The common form every OSM reader produces: transport lines as ragged arrays.

Readers (``geo.sources.tiles`` for vector tiles, ``geo.sources.osm`` for .osm.pbf/.osm
extracts) return a :class:`Ways`; ``geo.networks.network`` turns it into routable graphs. The
vertex ``key`` carries the topology: two vertices with the same key are the same network node
(an OSM node id for extracts; a stitched cluster id for tiles, where ids are lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Columns of :attr:`Ways.attrs`, one row per line, with their meaning.
ATTR_COLUMNS: dict[str, str] = {
    "cls": "OpenMapTiles transportation class (motorway … minor, service, track, path, …)",
    "subclass": "raw OSM highway value where known (footway, cycleway, steps, …), else ''",
    "ramp": "True for *_link roads",
    "oneway": "1 forward, -1 reverse, 0 both ways (as OSM says, for vehicles)",
    "bike_contraflow": "True where cyclists may ride against the one-way direction "
                       "(oneway:bicycle=no, cycleway=opposite*)",
    "access": "OSM access tag or ''",
    "foot": "OSM foot tag or ''",
    "bicycle": "OSM bicycle tag or ''",
    "motor_vehicle": "OSM motor_vehicle/motorcar tag or ''",
    "service": "OSM service tag or ''",
    "maxspeed": "km/h, NaN where unknown",
    "brunnel": "'bridge', 'tunnel', 'ford' or ''",
    "layer": "OSM layer (int, 0 default)",
    "name": "street name or ''",
}

#: raw OSM ``highway`` value → (OpenMapTiles class, ramp)
_OMT_CLASS: dict[str, tuple[str, bool]] = {
    "motorway": ("motorway", False), "motorway_link": ("motorway", True),
    "trunk": ("trunk", False), "trunk_link": ("trunk", True),
    "primary": ("primary", False), "primary_link": ("primary", True),
    "secondary": ("secondary", False), "secondary_link": ("secondary", True),
    "tertiary": ("tertiary", False), "tertiary_link": ("tertiary", True),
    "residential": ("minor", False), "unclassified": ("minor", False),
    "living_street": ("minor", False), "road": ("minor", False),
    "service": ("service", False), "track": ("track", False),
    "footway": ("path", False), "path": ("path", False), "steps": ("path", False),
    "cycleway": ("path", False), "bridleway": ("path", False),
    "pedestrian": ("path", False), "corridor": ("path", False),
    "busway": ("busway", False), "bus_guideway": ("bus_guideway", False),
    "raceway": ("raceway", False),
}


def omt_class(highway: str) -> tuple[str, bool] | None:
    """Map an OSM ``highway`` value to its OpenMapTiles (class, ramp).

    None if not a way Erreichbar routes on (construction, proposed, platform, …).
    """
    return _OMT_CLASS.get(highway)


def empty_attrs(n: int) -> pd.DataFrame:
    """Return an attrs table of ``n`` rows with every column at its neutral default."""
    return pd.DataFrame({
        "cls": pd.Series([""] * n, dtype=object),
        "subclass": pd.Series([""] * n, dtype=object),
        "ramp": np.zeros(n, dtype=bool),
        "oneway": np.zeros(n, dtype=np.int8),
        "bike_contraflow": np.zeros(n, dtype=bool),
        "access": pd.Series([""] * n, dtype=object),
        "foot": pd.Series([""] * n, dtype=object),
        "bicycle": pd.Series([""] * n, dtype=object),
        "motor_vehicle": pd.Series([""] * n, dtype=object),
        "service": pd.Series([""] * n, dtype=object),
        "maxspeed": np.full(n, np.nan),
        "brunnel": pd.Series([""] * n, dtype=object),
        "layer": np.zeros(n, dtype=np.int16),
        "name": pd.Series([""] * n, dtype=object),
    })


@dataclass
class Ways:
    """Transport lines as ragged arrays (WGS84 degrees).

    Line ``i`` has vertices ``offsets[i]:offsets[i+1]`` of ``lon``/``lat``/``key``.
    """

    lon: np.ndarray  #: float64, degrees
    lat: np.ndarray  #: float64, degrees
    key: np.ndarray  #: int64 vertex identity (same key = same node)
    offsets: np.ndarray  #: int64, n_lines + 1
    attrs: pd.DataFrame  #: one row per line, columns ATTR_COLUMNS
    source: str  #: human-readable origin (path or URL)
    vintage: str  #: data date, e.g. '2021-08'
    #: built-up areas (shapely polygons, WGS84) for the urban/rural speed rule
    built_up: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    @property
    def n_lines(self) -> int:
        """Number of lines."""
        return len(self.offsets) - 1

    def __post_init__(self) -> None:
        """Check that the vertex arrays, the offsets and the attrs rows agree."""
        if not (len(self.lon) == len(self.lat) == len(self.key) == self.offsets[-1]):
            raise ValueError("Ways: vertex arrays and offsets disagree")
        if len(self.attrs) != self.n_lines:
            raise ValueError("Ways: attrs must have one row per line")
