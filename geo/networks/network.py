"""Walk, bike and car networks: from :class:`geo.sources.ways.Ways` to routable directed graphs.

Conventions follow osmnx: directed multigraph edges ``(u, v, key)`` with ``length``
(metres), ``highway`` (OpenMapTiles class, subclass where known), ``oneway`` and
``travel_time`` (seconds); node ``x``/``y`` are lon/lat (EPSG:4326).

A :class:`Network` is the compact array form the engine uses (CSR adjacency with travel
times), stored as ``.npz`` beside GeoParquet ``nodes``/``edges`` for QGIS, and convertible
to and from a networkx ``MultiDiGraph`` so every osmnx tool works on it.

Access rules per mode (documented; the tag checks apply where the data has the tags — the
2021 county tiles already leave out ``access=private/no`` ways):

============  ===================================================================
walk          every class but motorway; not ``foot=no``; ``cycleway`` only with
              ``foot=yes/designated/permissive``; ``access=no/private`` only with a
              foot permission. Both directions; 4.8 km/h, steps 2.4 km/h.
bike          every class but motorway; not ``bicycle=no/use_sidepath``; footways,
              pedestrian areas, steps and paths of unknown kind (merged class
              ``path`` of the 2021 tiles) are *pushed* at walking pace (StVO) unless
              ``bicycle=yes/designated/permissive``; oneway as for cars unless
              cyclists may ride against it (``oneway:bicycle=no``,
              ``cycleway=opposite*``); 12 km/h, tracks 10 km/h.
car           motorway … minor, service (not ``service=parking_aisle/
              emergency_access/private``) and tracks, no paths; not ``access`` or
              ``motor_vehicle`` = no/private/agricultural/forestry unless a motor
              permission; oneway as OSM says; class speeds rural/urban (urban = in
              a built-up landuse area), capped by ``maxspeed`` where present.
              Tracks: OSM's German default lets cars use ``highway=track`` unless
              access says otherwise; the 2021 tiles have no access tags on them
              (private/no tracks are left out), so forestry-only tracks cannot be told
              apart there, and tilemaker merged cycleways and bridleways into
              ``track``. A slow track speed (15 km/h) keeps them from being shortcuts
              while forest houses and farms stay reachable (every populated 1 km cell
              lies within 1 km of a car node only with tracks).
============  ===================================================================
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from osmnx.distance import great_circle
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from geo._io import BuildManifest, atomic_path, clean_stray_tmp, files_digest, release_memory
from geo.errors import DataError, EmptyResultError
from geo.settings import Region, Settings, get_region
from geo.sources.ways import Ways
from geo.vocabulary import STREET_MODES

log = logging.getLogger(__name__)

#: class codes stored in the arrays (index = code)
CLASSES: tuple[str, ...] = (
    "motorway", "trunk", "primary", "secondary", "tertiary", "minor", "service", "track",
    "path", "busway", "other",
)
_NO = {"no", "private"}
_CAR_NO = {"no", "private", "agricultural", "forestry", "delivery"}
_YES = {"yes", "designated", "permissive", "destination"}
#: bump when the build logic changes, so stored networks are rebuilt
_BUILD_VERSION = "2"


@dataclass
class Network:
    """A directed street network for one mode, as arrays.

    Nodes are ``0..n-1``; ``node_id`` gives their stable ids (OSM node ids for extracts,
    stitch keys for tiles). Edges ``i`` go ``u[i] → v[i]``; parallel edges are kept (as in
    osmnx), the CSR adjacency keeps the fastest.
    """

    mode: str
    node_id: np.ndarray  #: int64, n
    lon: np.ndarray  #: float64 degrees, n
    lat: np.ndarray  #: float64 degrees, n
    u: np.ndarray  #: int32 node index, m
    v: np.ndarray  #: int32 node index, m
    length: np.ndarray  #: float64 metres, m
    travel_time: np.ndarray  #: float64 seconds, m
    cls: np.ndarray  #: int8 index into CLASSES, m
    oneway: np.ndarray  #: bool, m (True where the way may be used in one direction only)
    #: edge geometry: edge i has vertices geom_offsets[i]:geom_offsets[i+1] (u → v order)
    geom_lon: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    geom_lat: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    geom_offsets: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(1, np.int64))
    meta: dict[str, Any] = field(default_factory=dict)
    _csr: csr_matrix | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.u)

    def csr(self, weight: str = "travel_time") -> csr_matrix:
        """Return the adjacency as a CSR matrix, one edge per node pair.

        That edge is the fastest parallel edge (``travel_time`` seconds) or, with
        ``weight="length"``, the shortest one (metres).
        """
        if weight == "travel_time" and self._csr is not None:
            return self._csr
        w = getattr(self, weight)
        order = np.lexsort((w, self.v, self.u))
        u, v, w = self.u[order], self.v[order], w[order]
        first = np.ones(len(u), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        mat = csr_matrix((w[first], (u[first], v[first])), shape=(self.n_nodes,) * 2)
        if weight == "travel_time":
            self._csr = mat
        return mat

    def edge_geometries(self) -> np.ndarray:
        """Edge LineStrings (WGS84) as a shapely array."""
        sizes = np.diff(self.geom_offsets)
        return shapely.linestrings(np.column_stack([self.geom_lon, self.geom_lat]),
                                   indices=np.repeat(np.arange(self.n_edges), sizes))

    def largest_scc_share(self) -> float:
        """Share of nodes in the largest strongly connected component (0–1)."""
        _, labels = connected_components(self.csr(), directed=True, connection="strong")
        return float(np.bincount(labels).max() / self.n_nodes) if self.n_nodes else 0.0

    def summary(self) -> dict[str, Any]:
        """Return the counts for the CLI summary.

        nodes, edges, length_km (ways, each direction once), largest_component_share, and
        km per class.
        """
        undirected = self.length.copy()
        undirected[~self.oneway] /= 2.0  # two directed edges per two-way street
        per_class = pd.Series(undirected).groupby(np.asarray(CLASSES)[self.cls]).sum() / 1000
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "length_km": round(float(undirected.sum()) / 1000, 1),
            "largest_component_share": round(self.largest_scc_share(), 4),
            "length_km_by_class": {k: round(float(x), 1) for k, x in per_class.items()},
        }


# --------------------------------------------------------------------------- building


@dataclass
class _Segments:
    """Undirected edges between nodes of a Ways, before mode filtering."""

    line: np.ndarray  #: line index per edge
    first: np.ndarray  #: first vertex index per edge
    last: np.ndarray  #: last vertex index per edge
    length: np.ndarray  #: metres
    urban: np.ndarray  #: bool: midpoint in a built-up area


def _split(ways: Ways) -> _Segments:
    """Cut every line at its nodes: line ends and vertices whose key occurs more than once."""
    key, off = ways.key, ways.offsets
    n = len(key)
    line_of = np.repeat(np.arange(ways.n_lines), np.diff(off))
    is_start = np.zeros(n, dtype=bool)
    is_start[off[:-1]] = True
    is_last = np.zeros(n, dtype=bool)
    is_last[off[1:] - 1] = True
    _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    is_node = is_start | is_last | (counts[inv] > 1)
    # segments i → i+1 inside a line, skipping zero-length ones (same key twice in a row)
    seg = np.flatnonzero(~is_last)
    seg = seg[key[seg] != key[seg + 1]]
    seg_len = great_circle(ways.lat[seg], ways.lon[seg], ways.lat[seg + 1], ways.lon[seg + 1])
    # a new edge starts at every segment whose start vertex is a node
    starts_edge = is_node[seg]
    edge_of_seg = np.cumsum(starts_edge) - 1
    first = seg[starts_edge]
    last_seg = np.r_[np.flatnonzero(starts_edge)[1:] - 1, len(seg) - 1]
    last = seg[last_seg] + 1
    length = np.bincount(edge_of_seg, weights=seg_len, minlength=len(first))
    mid = (first + last) // 2
    urban = np.zeros(len(first), dtype=bool)
    if len(ways.built_up):
        tree = shapely.STRtree(ways.built_up)
        hit, _ = tree.query(shapely.points(ways.lon[mid], ways.lat[mid]), predicate="within")
        urban[np.unique(hit)] = True
    keep = length > 0
    return _Segments(line_of[first][keep], first[keep], last[keep], length[keep], urban[keep])


def _mode_rules(ways: Ways, segs: _Segments, mode: str, settings: Settings
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per undirected edge: allowed forward, allowed backward, speed (km/h) for ``mode``."""
    attrs, line = ways.attrs, segs.line

    def col(name: str) -> np.ndarray:  # one column per edge: no copy of the whole table
        return attrs[name].to_numpy()[line]

    cls, sub = col("cls"), col("subclass")
    access = col("access")
    oneway = col("oneway")
    if mode == "walk":
        foot = col("foot")
        ok = (cls != "motorway") & ~np.isin(foot, ["no", "use_sidepath"])
        ok &= (sub != "cycleway") | np.isin(foot, list(_YES))
        ok &= ~np.isin(access, list(_NO)) | np.isin(foot, list(_YES))
        speed = np.where(sub == "steps", settings.walk.steps, settings.walk.default)
        return ok, ok, speed
    if mode == "bike":
        bicycle = col("bicycle")
        ok = (cls != "motorway") & ~np.isin(bicycle, ["no", "use_sidepath"])
        ok &= ~np.isin(access, list(_NO)) | np.isin(bicycle, list(_YES))
        allowed = np.isin(bicycle, list(_YES))
        push = ((cls == "path") & np.isin(sub, ["footway", "pedestrian", "steps", "", "corridor"])
                & ~allowed) | (bicycle == "dismount")
        speed = np.where(cls == "track", settings.bike.track, settings.bike.default)
        speed = np.where(push, settings.bike.push, speed)
        speed = np.where(sub == "steps", settings.bike.steps, speed)
        contraflow = col("bike_contraflow")
        fwd = ok & ((oneway >= 0) | contraflow)
        bwd = ok & ((oneway <= 0) | contraflow)
        return fwd, bwd, speed
    if mode == "car":
        mv = col("motor_vehicle")
        ok = np.isin(cls, CLASSES[:8])  # motorway … service, track
        ok &= ~np.isin(col("service"), ["parking_aisle", "emergency_access", "private",
                                                 "parking"])
        ok &= ~np.isin(access, list(_CAR_NO)) | np.isin(mv, list(_YES))
        ok &= ~np.isin(mv, list(_CAR_NO))
        rural = np.array([settings.car.rural.get(c, 0.0) for c in cls])
        urban = np.array([settings.car.urban.get(c, 0.0) for c in cls])
        speed = np.where(segs.urban, urban, rural)
        speed = np.where(col("ramp"), speed * settings.car.link_factor, speed)
        maxspeed = col("maxspeed").astype(float)
        speed = np.where(np.isfinite(maxspeed) & (maxspeed > 0), np.fmin(maxspeed, rural), speed)
        fwd = ok & (oneway >= 0)
        bwd = ok & (oneway <= 0)
        return fwd, bwd, speed
    raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(STREET_MODES)}")


def _directed(ways: Ways, segs: _Segments, mode: str, settings: Settings) -> Network:
    """Build the directed network of one mode from the undirected edges."""
    fwd, bwd, speed = _mode_rules(ways, segs, mode, settings)
    f, b = np.flatnonzero(fwd), np.flatnonzero(bwd)
    idx = np.concatenate([f, b])
    rev = np.concatenate([np.zeros(len(f), bool), np.ones(len(b), bool)])
    ukey = np.where(rev, ways.key[segs.last[idx]], ways.key[segs.first[idx]])
    vkey = np.where(rev, ways.key[segs.first[idx]], ways.key[segs.last[idx]])
    node_id, inv = np.unique(np.concatenate([ukey, vkey]), return_inverse=True)
    u, v = inv[: len(idx)].astype(np.int32), inv[len(idx):].astype(np.int32)
    # node position: the first vertex carrying the key
    order = np.argsort(ways.key, kind="stable")
    pos = order[np.searchsorted(ways.key[order], node_id)]
    length = segs.length[idx]
    travel_time = np.maximum(length / (speed[idx] / 3.6), 0.01)
    cls_name = pd.Series(ways.attrs["cls"].to_numpy()[segs.line[idx]])
    codes = {c: i for i, c in enumerate(CLASSES)}
    cls = cls_name.map(codes).fillna(codes["other"]).to_numpy().astype(np.int8)
    oneway = ~(fwd[idx] & bwd[idx])
    # geometry: vertices first..last of each edge, reversed for backward edges
    lo, hi = segs.first[idx], segs.last[idx]
    sizes = hi - lo + 1
    geom_offsets = np.concatenate([[0], np.cumsum(sizes)])
    within = np.arange(geom_offsets[-1]) - np.repeat(geom_offsets[:-1], sizes)
    vert = np.where(np.repeat(rev, sizes), np.repeat(hi, sizes) - within,
                    np.repeat(lo, sizes) + within)
    return Network(
        mode=mode, node_id=node_id.astype(np.int64), lon=ways.lon[pos], lat=ways.lat[pos],
        u=u, v=v, length=length, travel_time=travel_time, cls=cls, oneway=oneway,
        geom_lon=ways.lon[vert], geom_lat=ways.lat[vert], geom_offsets=geom_offsets,
        meta={"source": ways.source, "vintage": ways.vintage},
    )


def build_graphs(ways: Ways, settings: Settings, modes: tuple[str, ...] = STREET_MODES
                 ) -> dict[str, Network]:
    """Build the directed network of each mode from stitched/identified ``ways``.

    Raises EmptyResultError when a mode has no usable edge.
    """
    segs = _split(ways)
    out = {}
    for mode in modes:
        net = _directed(ways, segs, mode, settings)
        if net.n_edges == 0:
            raise EmptyResultError(f"no {mode} network: none of the ways in {ways.source} "
                                   f"may be used by {mode}")
        log.info("%s network: %d nodes, %d edges", mode, net.n_nodes, net.n_edges)
        out[mode] = net
    return out


# --------------------------------------------------------------------------- storage

_ARRAYS = ("node_id", "lon", "lat", "u", "v", "length", "travel_time", "cls", "oneway",
           "geom_lon", "geom_lat", "geom_offsets")


def saved_files(mode: str, folder: Path) -> list[Path]:
    """Return the files :func:`save` writes for ``mode``: ``.npz``, nodes and edges GeoParquet."""
    folder = Path(folder)
    return [folder / f"{mode}.npz", folder / f"{mode}_nodes.parquet",
            folder / f"{mode}_edges.parquet"]


def save(net: Network, folder: Path) -> Path:
    """Write the network's arrays and GeoParquet layers atomically; return the ``.npz``.

    ``<mode>.npz`` holds the arrays for the engine, ``<mode>_nodes.parquet`` /
    ``<mode>_edges.parquet`` the GeoParquet layers (EPSG:4326, for QGIS); see
    :func:`saved_files`.
    """
    target, nodes_path, edges_path = saved_files(net.mode, folder)
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, mode=net.mode, meta=json.dumps(net.meta),
                 **{k: getattr(net, k) for k in _ARRAYS})
    nodes, edges = to_gdfs(net)
    for path, gdf in ((nodes_path, nodes), (edges_path, edges)):
        with atomic_path(path) as tmp:
            gdf.to_parquet(tmp)
    return target


def load(path: Path) -> Network:
    """Load a network stored by :func:`save` (the ``.npz``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no stored network; run `erreichbar network build` first")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _ARRAYS}
            mode, meta = str(z["mode"]), json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: unreadable network file ({exc}); rebuild it") from None
    return Network(mode=mode, meta=meta, **arrays)


def to_gdfs(net: Network) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges as GeoDataFrames (EPSG:4326) in osmnx's layout."""
    nodes = gpd.GeoDataFrame(
        {"osmid": net.node_id, "x": net.lon, "y": net.lat},
        geometry=gpd.points_from_xy(net.lon, net.lat), crs="EPSG:4326").set_index("osmid")
    key = pd.Series(np.zeros(net.n_edges, dtype=np.int64))
    key = key.groupby([net.u, net.v]).cumcount().to_numpy()
    edges = gpd.GeoDataFrame(
        {"u": net.node_id[net.u], "v": net.node_id[net.v], "key": key,
         "length": net.length, "travel_time": net.travel_time,
         "highway": np.asarray(CLASSES)[net.cls], "oneway": net.oneway},
        geometry=net.edge_geometries(), crs="EPSG:4326").set_index(["u", "v", "key"])
    return nodes, edges


def to_networkx(net: Network, geometry: bool = True) -> nx.MultiDiGraph:
    """Return the network as an osmnx-style ``MultiDiGraph``.

    crs EPSG:4326, node x/y lon/lat, edge length m, travel_time s, highway, oneway, and
    geometry if asked.
    """
    g = nx.MultiDiGraph(crs="EPSG:4326", mode=net.mode, **net.meta)
    g.add_nodes_from((int(i), {"x": float(x), "y": float(y)})
                     for i, x, y in zip(net.node_id, net.lon, net.lat, strict=True))
    geoms = net.edge_geometries() if geometry else [None] * net.n_edges
    names = np.asarray(CLASSES)[net.cls]
    ids = net.node_id
    for i in range(net.n_edges):
        data = {"length": float(net.length[i]), "travel_time": float(net.travel_time[i]),
                "highway": str(names[i]), "oneway": bool(net.oneway[i])}
        if geometry:
            data["geometry"] = geoms[i]
        g.add_edge(int(ids[net.u[i]]), int(ids[net.v[i]]), **data)
    return g


def from_networkx(g: nx.MultiDiGraph, mode: str) -> Network:
    """Build a Network from an osmnx-style ``MultiDiGraph``.

    Node x/y in lon/lat; edge ``length`` m and ``travel_time`` s required — e.g. after
    ``osmnx.add_edge_speeds``/``add_edge_travel_times``.
    """
    node_id = np.fromiter(g.nodes, dtype=np.int64, count=g.number_of_nodes())
    index = {n: i for i, n in enumerate(node_id)}
    lon = np.array([g.nodes[n]["x"] for n in node_id], dtype=float)
    lat = np.array([g.nodes[n]["y"] for n in node_id], dtype=float)
    rows = list(g.edges(data=True))
    missing = [k for k in ("length", "travel_time") if rows and k not in rows[0][2]]
    if missing:
        raise DataError(f"graph edges lack {', '.join(missing)}; add them with osmnx first")
    u = np.array([index[a] for a, _, _ in rows], dtype=np.int32)
    v = np.array([index[b] for _, b, _ in rows], dtype=np.int32)
    hw = [d.get("highway", "other") for _, _, d in rows]
    hw = [h[0] if isinstance(h, list) else h for h in hw]
    cls = np.array([CLASSES.index(h) if h in CLASSES else CLASSES.index("other") for h in hw],
                   dtype=np.int8)
    geoms = [d.get("geometry") or shapely.linestrings([[lon[index[a]], lat[index[a]]],
                                                      [lon[index[b]], lat[index[b]]]])
             for a, b, d in rows]
    coords, which = shapely.get_coordinates(np.asarray(geoms), return_index=True)
    return Network(
        mode=mode, node_id=node_id, lon=lon, lat=lat, u=u, v=v,
        length=np.array([d["length"] for _, _, d in rows], dtype=float),
        travel_time=np.array([d["travel_time"] for _, _, d in rows], dtype=float),
        cls=cls, oneway=np.array([bool(d.get("oneway", False)) for _, _, d in rows]),
        geom_lon=coords[:, 0], geom_lat=coords[:, 1],
        geom_offsets=np.concatenate([[0], np.cumsum(np.bincount(which, minlength=len(rows)))]),
        meta=dict(g.graph),
    )


# --------------------------------------------------------------------------- jobs


def network_dir(settings: Settings, region: Region | None = None) -> Path:
    """Folder of the stored networks of a region."""
    region = region or get_region(settings.region)
    return settings.processed_dir / region.name / "network"


def load_network(settings: Settings, mode: str) -> Network:
    """Load the stored network of ``mode`` for the settings' region.

    Raises
    ------
    DataError
        No network is stored, or the stored files are not those of one finished
        ``network build`` (sizes differ from its manifest: an interrupted build).
    """
    if mode not in STREET_MODES:
        raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(STREET_MODES)}")
    folder = network_dir(settings)
    path = folder / f"{mode}.npz"
    if path.is_file() and BuildManifest(folder / "manifest.json").is_current(
            None, verify="size") is None:
        raise DataError(f"{folder}: the stored networks are not those of one finished build "
                        "(an interrupted `erreichbar network build`?); run `erreichbar network "
                        "build` again")
    return load(path)


def _source(settings: Settings, region: Region, source: str
            ) -> tuple[list[Path], Callable[[], Ways]]:
    """Return the input files of a source and a reader for its Ways.

    ``source`` is 'tiles', 'city-tiles' or an extract path; the content of its input files
    decides whether a rebuild is needed.
    """
    if source in ("tiles", "city-tiles"):
        from geo.sources import tiles  # imported when used, to keep start-up light

        cfg = region.tiles if source == "tiles" else region.city_tiles
        if cfg is None:
            raise DataError(f"region {region.name} has no {source} configured")
        tileset = tiles.open_tileset(settings.data_dir / cfg.path, cfg.zoom)
        return [*tileset.paths, tileset.root / "metadata.json"], lambda: tiles.read_ways(
            tileset, settings.network.snap_tolerance_m,
            cache_dir=settings.processed_dir / "tiles-cache",
            workers=settings.network.workers, vintage=cfg.vintage)
    from geo.sources import osm

    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: no such OSM extract (give 'tiles', 'city-tiles' or a "
                        f".osm.pbf/.osm file)")
    return [path], lambda: osm.read_extract(path, bbox=region.bbox)


def build_networks(settings: Settings, source: str = "tiles", force: bool = False
                   ) -> dict[str, Any]:
    """Build and store the walk, bike and car networks of the settings' region.

    Skips the build when the stored manifest (:class:`geo._io.BuildManifest`) has the same
    content hash of inputs + settings + build version *and* every stored file still has
    the size and sha256 it was written with. Crash-safe: the manifest is deleted before
    the first file is written and written after the last, and temporary files of a killed
    build are removed at the next run. Returns the CLI summary.
    """
    t0 = time.perf_counter()
    region = get_region(settings.region)
    folder = network_dir(settings, region)
    manifest = BuildManifest(folder / "manifest.json")
    clean_stray_tmp(folder)
    inputs, read = _source(settings, region, source)
    digest = files_digest(inputs, extra=_BUILD_VERSION + settings.model_dump_json(
        include={"walk", "bike", "car", "network"}))
    cached = None if force else manifest.is_current(digest)
    if cached is not None:
        log.info("networks in %s are up to date (inputs unchanged)", folder)
        return {**cached, "seconds": round(time.perf_counter() - t0, 2), "cached": True}
    ways = read()
    nets = build_graphs(ways, settings)
    origin, vintage = ways.source, ways.vintage
    del ways  # the networks hold all that is needed from here on
    release_memory()
    manifest.invalidate()  # from here on the stored networks are a mix: trust none
    for net in nets.values():
        save(net, folder)
        release_memory()  # each mode's GeoParquet frames are freed before the next
    all_lon = np.concatenate([n.lon for n in nets.values()])
    all_lat = np.concatenate([n.lat for n in nets.values()])
    summary = {
        "region": region.name, "source": origin, "vintage": vintage,
        "bbox": [round(float(f), 5) for f in (all_lon.min(), all_lat.min(),
                                              all_lon.max(), all_lat.max())],
        "modes": {m: n.summary() for m, n in nets.items()},
    }
    manifest.record(digest, [p for m in nets for p in saved_files(m, folder)], summary)
    return {**summary, "seconds": round(time.perf_counter() - t0, 2), "cached": False}
