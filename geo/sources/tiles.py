"""Read OpenMapTiles-style vector tiles (``{z}/{x}/{y}.pbf``) into GeoDataFrames and Ways.

Two producers' schemas are understood: the OpenMapTiles 3.16 schema (city tiles, 2026) and
tilemaker's "Tilemaker to OpenMapTiles schema" 3.0 (county tiles, 2021: merged classes, no
layer/access tags, only ``oneway=1``). Tiles are decoded with ``mapbox-vector-tile`` in a
process pool, features are clipped to their own tile square (tile producers add a buffer, so
the same way appears in neighbouring tiles), and tile pixel coordinates are converted to
WGS84 exactly (spherical web mercator inverse). Decoded layers are cached as GeoParquet by
the content hash of the tile set.

:func:`read_ways` then stitches the ``transportation`` lines across tile borders into one
topology (see :func:`stitch`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from google.protobuf.message import DecodeError
from mapbox_vector_tile.decoder import TileData
from mapbox_vector_tile.Mapbox import vector_tile_pb2
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from tqdm import tqdm

from geo._io import atomic_path, files_digest, release_memory
from geo.errors import DataError, EmptyResultError
from geo.sources.ways import Ways, empty_attrs

log = logging.getLogger(__name__)

#: OpenMapTiles ``transportation`` classes that are routable ways (others: rail, ferry,
#: aerialway, pier, bridge areas, ``*_construction``, abandoned/razed tilemaker extras).
ROUTABLE_CLASSES = frozenset({
    "motorway", "trunk", "primary", "secondary", "tertiary", "minor", "service",
    "track", "path", "busway",
})
#: landuse classes that approximate the built-up area (geschlossene Ortschaft)
BUILT_UP_LANDUSE = frozenset({"residential", "commercial", "industrial", "retail"})
#: bump when decoding changes, so cached decoded layers are not reused
_DECODER_VERSION = "2"
#: Earth radius of the web-mercator sphere (EPSG:3857), metres
_R = 6378137.0


@dataclass(frozen=True)
class TileSet:
    """A folder of vector tiles at one zoom level."""

    root: Path  #: folder holding ``metadata.json`` and ``{zoom}/``
    zoom: int  #: zoom level read (14 = full street detail)
    tiles: tuple[tuple[int, int], ...]  #: (x, y) of every tile file present
    name: str  #: schema name from metadata.json
    version: str  #: schema version from metadata.json

    @property
    def paths(self) -> list[Path]:
        """Tile file paths, in ``tiles`` order."""
        return [self.root / str(self.zoom) / str(x) / f"{y}.pbf" for x, y in self.tiles]

    def digest(self) -> str:
        """Content hash of all tile files and the metadata."""
        return files_digest([*self.paths, self.root / "metadata.json"],
                            extra=f"{self.zoom}/{_DECODER_VERSION}")


def open_tileset(root: Path, zoom: int = 14) -> TileSet:
    """Index a tile folder; raise DataError when it or its metadata is missing or empty."""
    root = Path(root)
    meta_path = root / "metadata.json"
    if not meta_path.is_file():
        raise DataError(f"{root}: no metadata.json — not a vector-tile set")
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{meta_path}: not valid JSON ({exc})") from None
    tiles = []
    for p in (root / str(zoom)).glob("*/*.pbf"):
        if p.parent.name.isdigit() and re.fullmatch(r"\d+\.pbf", p.name):
            tiles.append((int(p.parent.name), int(p.stem)))
    if not tiles:
        raise DataError(f"{root}: no tiles at zoom {zoom} ({root / str(zoom)}/x/y.pbf)")
    return TileSet(root, zoom, tuple(sorted(tiles)), str(meta.get("name", "")),
                   str(meta.get("version", "")))


def pixel_to_lonlat(gx: np.ndarray, gy: np.ndarray, zoom: int, extent: int = 4096
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Global tile-pixel coordinates (x right, y down, ``extent`` per tile) → lon/lat degrees."""
    n = float(extent) * 2.0**zoom
    lon = gx / n * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * gy / n))))
    return lon, lat


def metres_per_pixel(lat: float, zoom: int, extent: int = 4096) -> float:
    """Ground size of one tile pixel (metres) at latitude ``lat`` (degrees)."""
    return 2 * np.pi * _R * np.cos(np.radians(lat)) / (extent * 2.0**zoom)


def _decode_tile(args: tuple[Path, int, int, int, tuple[str, ...]]
                 ) -> dict[str, tuple[np.ndarray, list[dict]]] | str:
    """Decode one tile's layers and clip them to the tile square (a worker's job).

    Return global-pixel geometries and properties per layer — or an error string naming the
    tile.
    """
    path, x, y, zoom, layers = args
    try:
        data = path.read_bytes()
        if not data:  # a valid MVT with no layers (sea, outside the extract)
            return {}
        parsed = TileData(data, default_options={"y_coord_down": True})
        wanted = vector_tile_pb2.tile()  # decode only the layers asked for (~40× faster
        wanted.layers.extend(lay for lay in parsed.tile.layers if lay.name in layers)
        parsed.tile = wanted  # than decoding every layer of the tile)
        tile = parsed.get_message()
    except (DecodeError, ValueError, KeyError, IndexError, TypeError) as exc:
        return f"{path}: corrupt vector tile ({type(exc).__name__}: {exc})"
    out: dict[str, tuple[np.ndarray, list[dict]]] = {}
    for name in layers:
        layer = tile.get(name)
        if not layer or not layer["features"]:
            continue
        extent = int(layer.get("extent", 4096))
        feats = layer["features"]
        geoms = shapely.from_geojson(
            [json.dumps(f["geometry"]) for f in feats], on_invalid="ignore")
        props = [f["properties"] for f in feats]
        # points in the buffer or on the right/bottom edge belong to the neighbour;
        # lines and areas are cut at the tile edge
        points = np.isin(shapely.get_type_id(geoms), (0, 4))
        clipped = geoms.copy()
        clipped[points] = shapely.clip_by_rect(geoms[points], 0, 0, extent - 1e-6, extent - 1e-6)
        clipped[~points] = shapely.clip_by_rect(geoms[~points], 0, 0, extent, extent)
        keep = ~shapely.is_empty(clipped) & ~shapely.is_missing(clipped)
        scale = 4096.0 / extent
        moved = shapely.transform(
            clipped[keep], lambda c, s=scale: c * s + np.array([x * 4096.0, y * 4096.0]))
        out[name] = (moved, [props[i] for i in np.flatnonzero(keep)])
    return out


def _uniform_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with mixed-type property columns as strings (NA kept).

    Producers are not consistent (tilemaker's ``intermittent`` is 0/1 in some tiles and
    text in others); GeoParquet needs one type per column.
    """
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_object_dtype(values):
            continue
        types = {type(v) for v in values[values.notna()]}
        if len(types) > 1:
            frame[column] = values.where(values.isna(), values.astype(str))
    return frame


def read_layers(tileset: TileSet, layers: tuple[str, ...], cache_dir: Path | None = None,
                workers: int | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Decode ``layers`` of every tile into GeoDataFrames (EPSG:4326).

    Geometry is converted to WGS84; columns are the features' properties plus the owning
    tile's ``tile_x``, ``tile_y``. With ``cache_dir``, each layer is
    cached as GeoParquet under ``cache_dir/<tileset digest>/<layer>.parquet`` and read from
    there while the tiles are unchanged.

    Raises DataError naming the first corrupt or empty tile.
    """
    digest = tileset.digest() if cache_dir is not None else ""
    cached: dict[str, gpd.GeoDataFrame] = {}
    if cache_dir is not None:
        for name in layers:
            p = Path(cache_dir) / digest / f"{name}.parquet"
            if p.is_file():
                cached[name] = gpd.read_parquet(p)
                log.info("read %d %s features from cache %s", len(cached[name]), name, p)
    todo = tuple(n for n in layers if n not in cached)
    if not todo:
        return cached
    jobs = [(p, x, y, tileset.zoom, todo)
            for p, (x, y) in zip(tileset.paths, tileset.tiles, strict=True)]
    geoms: dict[str, list[np.ndarray]] = {n: [] for n in todo}
    props: dict[str, list[dict]] = {n: [] for n in todo}
    tile_xy: dict[str, list[tuple[int, int, int]]] = {n: [] for n in todo}
    with ExitStack() as stack:
        # one worker: decode here, no second process holding its own copy of the libraries
        results: Iterable[dict[str, tuple[np.ndarray, list[dict]]] | str] = (
            map(_decode_tile, jobs) if workers == 1 else
            stack.enter_context(ProcessPoolExecutor(max_workers=workers)).map(
                _decode_tile, jobs, chunksize=16))
        for (x, y), res in tqdm(zip(tileset.tiles, results, strict=True), total=len(jobs),
                                desc=f"decoding {tileset.root.name}", unit="tile",
                                disable=len(jobs) < 50):
            if isinstance(res, str):
                raise DataError(res)
            for name, (g, pr) in res.items():
                geoms[name].append(g)
                props[name].extend(pr)
                tile_xy[name].append((x, y, len(g)))
    for name in todo:
        g = np.concatenate(geoms[name]) if geoms[name] else np.empty(0, dtype=object)
        g = shapely.transform(
            g, lambda c: np.column_stack(pixel_to_lonlat(c[:, 0], c[:, 1], tileset.zoom)))
        frame = pd.DataFrame.from_records(props[name]) if props[name] else pd.DataFrame()
        counts = [c for _, _, c in tile_xy[name]]
        frame["tile_x"] = np.repeat([t[0] for t in tile_xy[name]], counts).astype(np.int32)
        frame["tile_y"] = np.repeat([t[1] for t in tile_xy[name]], counts).astype(np.int32)
        gdf = gpd.GeoDataFrame(_uniform_columns(frame),
                               geometry=gpd.GeoSeries(g, crs="EPSG:4326"))
        log.info("decoded %d %s features from %d tiles in %s", len(gdf), name,
                 len(tileset.tiles), tileset.root)
        if cache_dir is not None:
            target = Path(cache_dir) / digest / f"{name}.parquet"
            with atomic_path(target) as tmp:
                gdf.to_parquet(tmp)
        cached[name] = gdf
        del geoms[name], props[name]  # free each layer's decoded pieces once framed
        release_memory()
    return cached


def read_layer(tile_dir: Path, layer: str, workers: int | None = None,
               cache_dir: Path | None = None, zoom: int = 14) -> gpd.GeoDataFrame:
    """Decode one layer (e.g. ``poi``, ``housenumber``, ``place``) of a tile set (EPSG:4326).

    ``tile_dir`` is the folder holding ``metadata.json``. Points in a tile's buffer are kept
    only by the tile that owns them, so every feature appears once.
    """
    return read_layers(open_tileset(tile_dir, zoom), (layer,), cache_dir, workers)[layer]


def feature_names(frame: pd.DataFrame) -> pd.Series:
    """Return the feature names of a decoded layer in either schema.

    ``name`` (OpenMapTiles), then ``name_de``, then ``name:latin`` (tilemaker); NA where a
    feature has none.
    """
    name = pd.Series(pd.NA, index=frame.index, dtype=object)
    for column in ("name", "name_de", "name:latin"):
        if column in frame:
            name = name.fillna(frame[column].replace("", pd.NA))
    return name


def _transport_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise ``transportation`` properties of either schema to geo.sources.ways.ATTR_COLUMNS."""
    attrs = empty_attrs(len(frame))

    def col(name: str) -> pd.Series:
        if name in frame:
            return frame[name].reset_index(drop=True)
        return pd.Series([np.nan] * len(frame))

    for name in ("cls", "subclass", "access", "foot", "bicycle", "service", "brunnel", "name"):
        src = col("class" if name == "cls" else name)
        attrs[name] = src.where(src.notna(), "").astype(str).to_numpy(dtype=object)
    attrs["ramp"] = col("ramp").fillna(0).astype(float).to_numpy() == 1
    attrs["oneway"] = col("oneway").fillna(0).astype(float).to_numpy().astype(np.int8)
    attrs["layer"] = col("layer").fillna(0).astype(float).to_numpy().astype(np.int16)
    return attrs


def stitch(x: np.ndarray, y: np.ndarray, offsets: np.ndarray, group: np.ndarray,
           tolerance: float, cell: float | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join lines that meet, within ``tolerance`` (same units as x/y), into one topology.

    Tile producers cut lines at tile borders, merge ways and simplify vertices away, so the
    OSM node identities are lost. This restores them from geometry:

    1. *T-junctions*: a line's end that lies on another line of the same ``group`` but
       between two of its vertices (the junction vertex was simplified away) gets a vertex
       inserted into that line at its projection.
    2. *Coincident vertices*: vertices of different lines closer than ``tolerance`` become
       one node, if both lines are in the same ``group`` (``layer``/``brunnel``: a bridge
       never meets the road under it) or if both vertices are true line ends (a bridge's
       end meets the approach road at ground level; ends made by cutting at a tile border
       are not true ends).

    Parameters
    ----------
    x, y : vertex coordinates (a metric-like plane, e.g. global tile pixels)
    offsets : line ``i`` is vertices ``offsets[i]:offsets[i+1]``
    group : int code per line; lines only join within a group (ends excepted)
    tolerance : join distance, same units as x/y
    cell : tile size in x/y units; ends on a multiple of it were cut at a tile border

    Returns
    -------
    x, y, offsets, key : the vertex arrays with inserted vertices, and a node key per
        vertex (equal keys = one node)
    """
    x, y, offsets, line_of = _insert_t_junctions(x, y, offsets, group, tolerance)
    key = _join_vertices(x, y, offsets, line_of, group, tolerance, cell)
    return x, y, offsets, key


def _insert_t_junctions(x: np.ndarray, y: np.ndarray, offsets: np.ndarray, group: np.ndarray,
                        tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """Insert a vertex where a line's end lies inside another line of its group.

    Returns
    -------
    x, y, offsets, line_of : the vertex arrays with the inserted vertices (each line's
        vertices in order along it) and the line of every vertex
    """
    n_lines = len(offsets) - 1
    sizes = np.diff(offsets)
    line_of = np.repeat(np.arange(n_lines), sizes)
    lines = shapely.linestrings(np.column_stack([x, y]), indices=line_of)
    starts, ends = offsets[:-1], offsets[1:] - 1
    end_vertex = np.concatenate([starts, ends])
    end_line = np.concatenate([np.arange(n_lines), np.arange(n_lines)])
    tree = shapely.STRtree(lines)
    pts = shapely.points(x[end_vertex], y[end_vertex])
    pi, li = tree.query(pts, predicate="dwithin", distance=tolerance)
    ok = (li != end_line[pi]) & (group[li] == group[end_line[pi]])
    pi, li = pi[ok], li[ok]
    along = shapely.line_locate_point(lines[li], pts[pi])
    length = shapely.length(lines[li])
    # not at the target's own ends (those are handled by vertex joining)
    ok = (along > tolerance) & (along < length - tolerance)
    pi, li, along = pi[ok], li[ok], along[ok]
    if not len(li):
        return x, y, offsets, line_of
    # cumulative distance of every vertex along its line
    seg = np.hypot(np.diff(x), np.diff(y))
    seg[ends[:-1]] = 0.0  # no segment between consecutive lines
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    cum = cum - np.repeat(cum[starts], sizes)
    new_xy = shapely.get_coordinates(shapely.line_interpolate_point(lines[li], along))
    all_line = np.concatenate([line_of, li])
    all_along = np.concatenate([cum, along])
    order = np.lexsort((all_along, all_line))
    x = np.concatenate([x, new_xy[:, 0]])[order]
    y = np.concatenate([y, new_xy[:, 1]])[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(all_line, minlength=n_lines))])
    log.info("stitch: inserted %d T-junction vertices", len(li))
    return x, y, offsets, all_line[order]


def _join_vertices(x: np.ndarray, y: np.ndarray, offsets: np.ndarray, line_of: np.ndarray,
                   group: np.ndarray, tolerance: float, cell: float | None) -> np.ndarray:
    """Return a node key per vertex: coincident vertices of joinable lines share one."""
    starts, ends = offsets[:-1], offsets[1:] - 1
    is_end = np.zeros(len(x), dtype=bool)
    is_end[starts] = True
    is_end[ends] = True
    if cell is not None:
        for c in (x, y):
            off_grid = np.abs(c / cell - np.round(c / cell)) * cell
            is_end &= off_grid > 1e-3
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(tolerance, output_type="ndarray")
    a, b = pairs[:, 0], pairs[:, 1]
    la, lb = line_of[a], line_of[b]
    ok = (la != lb) & ((group[la] == group[lb]) | (is_end[a] & is_end[b]))
    graph = coo_matrix((np.ones(ok.sum(), dtype=np.int8), (a[ok], b[ok])),
                       shape=(len(x), len(x)))
    _, key = connected_components(graph, directed=False)
    return key.astype(np.int64)


def _built_up(landuse: gpd.GeoDataFrame) -> np.ndarray:
    """Built-up-area polygons (WGS84) from a decoded ``landuse`` layer."""
    if landuse.empty or "class" not in landuse:
        return np.empty(0, dtype=object)
    sel = landuse[landuse["class"].isin(BUILT_UP_LANDUSE)].geometry.to_numpy()
    return sel[shapely.get_type_id(sel) >= 3]


def read_ways(tileset: TileSet, tolerance_m: float = 1.0, cache_dir: Path | None = None,
              workers: int | None = None, vintage: str = "") -> Ways:
    """Routable ``transportation`` lines of a tile set, stitched across tile borders.

    ``tolerance_m`` (metres) is the join distance of :func:`stitch`, converted to tile
    pixels at the tile set's mean latitude.
    """
    layers = read_layers(tileset, ("transportation", "landuse"), cache_dir, workers)
    built_up = _built_up(layers.pop("landuse"))
    tr = layers.pop("transportation")
    if tr.empty:
        raise EmptyResultError(f"{tileset.root}: the tiles hold no transportation lines")
    tr = tr[tr["class"].isin(ROUTABLE_CLASSES)]
    parts = tr.explode(index_parts=False)
    parts = parts[shapely.get_type_id(parts.geometry.to_numpy()) == 1]
    if parts.empty:
        raise EmptyResultError(f"{tileset.root}: no streets or paths in the tiles")
    geoms = parts.geometry.to_numpy()
    coords, line_of = shapely.get_coordinates(geoms, return_index=True)
    # back to global pixels (exact inverse of pixel_to_lonlat) for a planar join
    n = 4096.0 * 2.0**tileset.zoom
    gx = (coords[:, 0] + 180.0) / 360.0 * n
    gy = (1.0 - np.arcsinh(np.tan(np.radians(coords[:, 1]))) / np.pi) / 2.0 * n
    offsets = np.concatenate([[0], np.cumsum(np.bincount(line_of, minlength=len(geoms)))])
    attrs = _transport_attrs(parts.drop(columns="geometry"))
    grade = np.where(attrs["brunnel"].isin(["bridge", "tunnel"]), attrs["brunnel"], "")
    group = pd.factorize(pd.Series(grade).astype(str) + "|" + attrs["layer"].astype(str))[0]
    px_m = metres_per_pixel(float(np.mean(coords[:, 1])), tileset.zoom)
    n_lines = len(geoms)
    del tr, parts, geoms, coords, line_of  # the frames are not needed from here on
    release_memory()
    gx, gy, offsets, key = stitch(gx, gy, offsets, group, tolerance_m / px_m, cell=4096.0)
    lon, lat = pixel_to_lonlat(gx, gy, tileset.zoom)
    log.info("stitched %d lines, %d vertices into %d keys", n_lines, len(gx),
             len(np.unique(key)))
    return Ways(lon=lon, lat=lat, key=key, offsets=offsets.astype(np.int64), attrs=attrs,
                source=str(tileset.root), vintage=vintage, built_up=built_up)
