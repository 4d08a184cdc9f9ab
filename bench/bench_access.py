"""The accessibility engine on the Göttingen networks against baselines in the same run.

Every baseline answers the same question on the same graph from the same seeds, and its
answers are checked against the engine's (times are the best of ``REPEATS`` runs):

* **surface** (Kita, walk: every active Kita on the 183k-node walk network): the engine's
  :meth:`~geo.engine.access.Accessibility.surface` (offers already snapped, as for every
  baseline) against networkx ``multi_source_dijkstra_path_length`` on the same seeded,
  transposed graph (the engine's CSR as a ``DiGraph``, one virtual seed node per offer
  with an edge of its access seconds, exactly as :func:`geo.networks.routing.with_seeds`)
  — results asserted equal — and against pandana ``nearest_pois`` with its POIs on the
  same seed nodes (pandana has no access legs and a search radius, so the engine answers
  the same question there: :func:`geo.networks.routing.multi_source` from the nodes
  pandana joined the POIs to, at 0 s, bounded by the same radius; pandana sums float32,
  so agreement is reported, not asserted). The floor: scipy's bare
  ``dijkstra(min_only=True)`` on the engine's seeded graph, and the engine's overhead
  over it;
* **all surfaces** (every category with active offers × walk/bike/car): engine against
  networkx multi-source on each mode's graph, same seeds, checked equal;
* **k nearest**: 10,000 random k=3 queries (points on the 100 m grid of the county), cold
  (nearest-offer table built first) and warm (table cached, as in the API), against the
  best networkx method measured in the same run: one bounded single-source run per offer
  (cut off at ``nearest_max_min``, minus the offer's access leg) keeping the k nearest at
  the query nodes — timed in full and checked equal — or one bounded forward run per
  query (timed on ``NX_QUERIES`` queries, extrapolated linearly, said so); and pandana
  ``nearest_pois`` (its contraction-hierarchy build is reported separately, not charged);
* **what-if** (coverage change per Gemeinde included): add a Kita in a village (networkx:
  the same bounded run from the site), and add one + remove one (networkx: the
  multi-source surface without it, plus the site); < 1 s. The networkx times route only,
  without the coverage tables the engine's time includes.

Peak memory: the engine's own (tracemalloc over a fresh engine computing every surface and
a nearest table) and the process maximum RSS (includes the networkx graphs).
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

import networkx as nx
import numpy as np
import pandana
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.engine.access import Accessibility
from geo.networks import routing
from geo.networks.snap import to_lonlat, to_metric
from geo.settings import Settings
from geo.sources.offers import load_offers
from geo.sources.population import load_children_100m, load_inhabitants_1km
from geo.vocabulary import STREET_MODES

T = TypeVar("T")
CATEGORY, MODE = "kita", "walk"
SITE = (9.75, 51.42)  # a hypothetical Kita in a village in the south-west
N_QUERIES, K = 10_000, 3
NX_QUERIES = 50  # networkx per-query runs timed (then extrapolated to N_QUERIES)
REPEATS = 5  # engine, scipy and pandana timings: best of this many runs
NX_REPEATS = 2  # networkx timings: best of this many runs


def _best(job: Callable[[], T], repeats: int = REPEATS) -> tuple[float, T]:
    """Shortest wall time of ``repeats`` runs (seconds) and the last result."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - t0)
    return min(times), result


def _engine(settings: Settings, data: dict[str, Any], every: bool = False) -> Accessibility:
    """A fresh engine (nothing cached but the inputs) with the Kitas joined to the walk
    network, or with ``every`` category joined to every street network."""
    engine = Accessibility(settings, **data)
    categories, modes = (engine.categories(), STREET_MODES) if every else ([CATEGORY], [MODE])
    for mode in modes:
        for category in categories:
            engine.offer_set(category, mode)
    return engine


def _digraph(graph: csr_matrix) -> nx.DiGraph:
    """The CSR graph (seconds) as a networkx ``DiGraph`` on nodes 0..n-1, weight ``weight``."""
    return nx.from_scipy_sparse_array(graph, create_using=nx.DiGraph, edge_attribute="weight")


def _as_array(lengths: dict[int, float], n: int) -> np.ndarray:
    """networkx lengths (node → seconds) as an array over nodes 0..n-1 (inf = none)."""
    out = np.full(n, np.inf)
    nodes = np.fromiter((k for k in lengths if k < n), np.int64)
    out[nodes] = [lengths[k] for k in nodes]
    return out


def _seeds(engine: Accessibility, category: str, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Node and access seconds of the connected offers (the engine's seeds)."""
    offers = engine.offer_set(category, mode)
    return offers.snap.node[offers.seeds], offers.snap.seconds[offers.seeds]


def _networkx_surface(g_t: nx.DiGraph, nodes: np.ndarray, access: np.ndarray,
                      seconds: np.ndarray, repeats: int = NX_REPEATS) -> tuple[float, float]:
    """networkx multi-source on the transposed graph ``g_t`` with the engine's seeds (one
    virtual node per offer, an edge of its access seconds to its node, as
    :func:`geo.networks.routing.with_seeds`); asserts the engine's ``seconds``.

    Returns the best time (seconds) and the largest difference to the engine (seconds).
    """
    n = len(seconds)
    seeds = range(n, n + len(nodes))
    g_t.add_weighted_edges_from(zip(seeds, nodes.tolist(), access.tolist(), strict=True))
    try:
        t, lengths = _best(lambda: nx.multi_source_dijkstra_path_length(g_t, set(seeds)),
                           repeats)
    finally:
        g_t.remove_nodes_from(seeds)
    theirs = _as_array(lengths, n)
    np.testing.assert_array_equal(np.isinf(theirs), np.isinf(seconds))
    finite = np.isfinite(seconds)
    gap = float(np.abs(theirs[finite] - seconds[finite]).max(initial=0.0))
    assert gap < 1e-6, f"networkx and the engine differ by {gap} s"
    return t, gap


def _surface(settings: Settings, data: dict[str, Any]) -> dict[str, Any]:
    """One surface: engine, scipy floor, networkx multi-source (equal answers).

    Each repeat takes a fresh engine (the surface is cached) and runs the bare scipy call
    once before timing, so that the engine and the floor both meet a warm graph.
    """
    def fresh_pair() -> tuple[float, float, np.ndarray]:
        engine = _engine(settings, data)
        n = engine.engine(MODE).graph.graph_t.shape[0]
        seeded = routing.with_seeds(engine.engine(MODE).graph.graph_t,
                                    *_seeds(engine, CATEGORY, MODE))
        indices = n + np.arange(seeded.shape[0] - n)

        def floor() -> None:
            dijkstra(seeded, indices=indices, min_only=True, return_predecessors=True)

        floor()
        t_engine, surface = _best(lambda: engine.surface(CATEGORY, MODE), 1)
        t_scipy, _ = _best(floor, 1)
        return t_engine, t_scipy, surface.node_seconds

    runs = [fresh_pair() for _ in range(REPEATS)]
    t_engine, t_scipy = min(r[0] for r in runs), min(r[1] for r in runs)
    seconds = runs[-1][2]
    engine = _engine(settings, data)
    graph_t = engine.engine(MODE).graph.graph_t
    n = graph_t.shape[0]
    nodes, access = _seeds(engine, CATEGORY, MODE)
    build, g_t = _best(lambda: _digraph(graph_t), 1)
    t_nx, gap = _networkx_surface(g_t, nodes, access, seconds)
    return {"category": CATEGORY, "mode": MODE, "offers": len(nodes), "nodes": n,
            "seconds": round(t_engine, 4), "scipy_min_only_s": round(t_scipy, 4),
            "engine_overhead_s": round(t_engine - t_scipy, 4),
            "engine_over_scipy": round(t_engine / t_scipy, 2),
            "networkx_multi_source_s": round(t_nx, 3),
            "networkx_graph_build_s": round(build, 2), "networkx_max_abs_diff_s": gap,
            "vs_networkx": round(t_nx / t_engine, 1), "target_s": 0.5}


def _all_surfaces(settings: Settings, data: dict[str, Any]) -> dict[str, Any]:
    """Every category × street mode: engine against networkx multi-source (equal answers)."""
    engine = _engine(settings, data, every=True)
    pairs = [(c, m) for m in STREET_MODES for c in engine.categories()]
    t_engine = 0.0
    surfaces = {}
    for c, m in pairs:
        t0 = time.perf_counter()
        surfaces[c, m] = engine.surface(c, m).node_seconds
        t_engine += time.perf_counter() - t0
    t_nx = build = 0.0
    for m in STREET_MODES:
        t_build, g_t = _best(lambda m=m: _digraph(engine.engine(m).graph.graph_t), 1)
        build += t_build
        for c in engine.categories():
            t_nx += _networkx_surface(g_t, *_seeds(engine, c, m), surfaces[c, m], 1)[0]
    return {"n": len(pairs), "seconds": round(t_engine, 3),
            "networkx_multi_source_s": round(t_nx, 1), "networkx_graph_builds_s": round(build, 1),
            "vs_networkx": round(t_nx / t_engine, 1), "target_s": 10}


def _queries(engine: Accessibility) -> tuple[np.ndarray, np.ndarray]:
    """N_QUERIES random 100 m cell centres of the county (WGS84 degrees)."""
    grid = engine.raster_minutes(CATEGORY, MODE)
    pick = np.random.default_rng(0).choice(len(grid), N_QUERIES, replace=False)
    return to_lonlat(grid["x"].to_numpy()[pick], grid["y"].to_numpy()[pick])


def _networkx_nearest(engine: Accessibility, lon: np.ndarray, lat: np.ndarray,
                      answers: pd.DataFrame) -> dict[str, Any]:
    """networkx k nearest of the queries: per-offer table (checked) and per-query runs."""
    graph_t = engine.engine(MODE).graph.graph_t
    g_t, g = _digraph(graph_t), _digraph(graph_t.T.tocsr())
    limit = engine.settings.access.nearest_max_min * 60.0
    snap = engine.snap(lon, lat, MODE)
    point = np.flatnonzero(snap.connected)
    targets = set(snap.node[point].tolist())
    nodes, access = _seeds(engine, CATEGORY, MODE)

    def per_offer() -> dict[int, list[float]]:
        best: dict[int, list[float]] = {}
        for node, secs in zip(nodes.tolist(), access.tolist(), strict=True):
            reach = nx.single_source_dijkstra_path_length(g_t, node, cutoff=limit - secs)
            for v in targets.intersection(reach):
                best.setdefault(v, []).append(reach[v] + secs)
        return {v: sorted(times)[:K] for v, times in best.items()}

    t_table, table = _best(per_offer, 1)
    offer_nodes = {}
    for node, secs in zip(nodes.tolist(), access.tolist(), strict=True):
        offer_nodes.setdefault(node, []).append(secs)

    def per_query(node: int) -> list[float]:
        reach = nx.single_source_dijkstra_path_length(g, node, cutoff=limit)
        return sorted(t + a for v, t in reach.items() if v in offer_nodes
                      for a in offer_nodes[v] if t + a <= limit)[:K]

    t0 = time.perf_counter()
    for node in snap.node[point[:NX_QUERIES]].tolist():
        per_query(node)
    t_query = (time.perf_counter() - t0) / NX_QUERIES * len(point)
    mine = answers.groupby("point")["minutes"].apply(lambda m: list(m * 60.0))
    gap = max(float(np.abs(np.subtract(mine.get(p, []), np.add(
        table.get(int(snap.node[p]), []), snap.seconds[p]))).max(initial=0.0)) for p in point)
    assert gap < 1e-6, f"networkx and the engine differ by {gap} s"
    return {"per_offer_table_s": t_table, "per_query_s_extrapolated": t_query,
            "max_abs_diff_s": gap}


def _pandana(engine: Accessibility, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    """pandana on the walk network, POIs on the engine's seed nodes: CH build, one bounded
    surface (compared to the engine's routing on the same question) and the queries."""
    net = engine.network(MODE)
    x, y = to_metric(net.lon, net.lat)
    build, pnet = _best(lambda: pandana.Network(
        pd.Series(x), pd.Series(y), pd.Series(net.u), pd.Series(net.v),
        pd.DataFrame({"travel_time": net.travel_time}), twoway=False), 1)
    nodes, _ = _seeds(engine, CATEGORY, MODE)
    px, py = pd.Series(x[nodes]), pd.Series(y[nodes])
    # pandana joins POIs to the node nearest their coordinates: the seed's own node, or a
    # node at the same spot; the engine answers from the nodes pandana uses
    mapped = pnet.get_node_ids(px, py).to_numpy()
    limit = engine.settings.access.nearest_max_min * 60

    def surface() -> pd.DataFrame:
        pnet.set_pois("offers", limit, 1, px, py)
        return pnet.nearest_pois(limit, "offers", num_pois=1)

    def queries() -> pd.DataFrame:
        pnet.set_pois("offers", limit, K, px, py)
        table = pnet.nearest_pois(limit, "offers", num_pois=K, include_poi_ids=True)
        qx, qy = to_metric(lon, lat)
        return table.loc[pnet.get_node_ids(pd.Series(qx), pd.Series(qy)).to_numpy()]

    t_surface, first = _best(surface)
    t_queries, _ = _best(queries)
    graph_t = routing.transpose(net.csr())
    zeros = np.zeros(len(nodes))
    t_same, ours = _best(lambda: routing.multi_source(graph_t, mapped, zeros, limit=limit))
    theirs = first[1].to_numpy()
    reach = theirs < limit - 1.0  # pandana sums float32: nodes at the radius may flip
    gap = np.abs(theirs[reach] - ours.seconds[reach])
    return {"build_s": build, "surface_s": t_surface, "queries_s": t_queries,
            "engine_same_question_s": t_same, "seeds_moved": int((mapped != nodes).sum()),
            "max_abs_diff_s": float(gap.max()),
            "agree_within_0_1s_share": float((gap < 0.1).mean())}


def _what_if(engine: Accessibility, t_nx_surface: float) -> dict[str, Any]:
    """What-if timings; networkx: the same bounded run from the site (routing only)."""
    kitas = engine.offer_set(CATEGORY, MODE).ids
    t_add, _ = _best(lambda: engine.what_if(CATEGORY, MODE, add=[SITE]))
    t_both, _ = _best(lambda: engine.what_if(CATEGORY, MODE, add=[SITE], remove=[kitas[0]]))
    street = engine.engine(MODE).graph
    n = street.graph_t.shape[0]
    site = engine.snap(*SITE, MODE)
    bound = float(engine.surface(CATEGORY, MODE).node_seconds[street.index.candidates].max())
    g = _digraph(routing.with_seeds(street.graph_t, site.node, site.seconds))
    t_nx_add, _ = _best(lambda: nx.single_source_dijkstra_path_length(g, n, cutoff=bound),
                        NX_REPEATS)
    return {
        "what_if_add": {"seconds": round(t_add, 3),
                        "networkx_bounded_run_s": round(t_nx_add, 3),
                        "vs_networkx": round(t_nx_add / t_add, 1), "target_s": 1.0},
        "what_if_remove_and_add": {
            "seconds": round(t_both, 3),
            "networkx_multi_source_plus_bounded_run_s": round(t_nx_surface + t_nx_add, 3),
            "vs_networkx": round((t_nx_surface + t_nx_add) / t_both, 1), "target_s": 1.0}}


def _nearest(settings: Settings, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """k nearest of 10,000 points: engine cold/warm, networkx, pandana; and pandana's
    surface comparison."""
    engine = _engine(settings, data)
    lon, lat = _queries(engine)
    cold, answers = _best(lambda: engine.nearest_many(lon, lat, CATEGORY, MODE, K), 1)
    warm, _ = _best(lambda: engine.nearest_many(lon, lat, CATEGORY, MODE, K))
    single, _ = _best(lambda: engine.nearest(lon[1], lat[1], CATEGORY, MODE, K))
    fresh = _engine(settings, data)  # a point query before any table exists: forward run
    fresh.offer_set("freizeit", "car")
    no_table, _ = _best(lambda: fresh.nearest(lon[2], lat[2], "freizeit", "car", K), 1)
    nxq = _networkx_nearest(engine, lon, lat, answers)
    best_nx = min(nxq["per_offer_table_s"], nxq["per_query_s_extrapolated"])
    pan = _pandana(engine, lon, lat)
    return {
        "cold_s": round(cold, 3), "warm_s": round(warm, 4),
        "single_with_routes_s": round(single, 4),
        "single_freizeit_car_no_table_s": round(no_table, 4),
        "answered_points": int(answers["point"].nunique()),
        "networkx_per_offer_bounded_s": round(nxq["per_offer_table_s"], 2),
        "networkx_per_query_bounded_s_extrapolated": round(nxq["per_query_s_extrapolated"], 1),
        "networkx_max_abs_diff_s": nxq["max_abs_diff_s"],
        "vs_networkx_best_cold": round(best_nx / cold, 1),
        "pandana_s": round(pan["queries_s"], 3),
        "vs_pandana_cold": round(pan["queries_s"] / cold, 2),
        "vs_pandana_warm": round(pan["queries_s"] / warm, 1)}, pan


def _memory(settings: Settings, data: dict[str, Any]) -> float:
    """MiB the engine allocates at peak for every surface and one nearest table."""
    tracemalloc.start()
    fresh = Accessibility(settings, **data)
    for c in fresh.categories():
        for m in STREET_MODES:
            fresh.surface(c, m)
    fresh.nearest_many(np.array([9.9355]), np.array([51.5333]), CATEGORY, MODE, K)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run() -> dict[str, Any]:
    """Time the engine and the baselines; return seconds, ratios and peak memory."""
    settings = Settings()
    data = {"offers": load_offers(settings), "children": load_children_100m(settings),
            "inhabitants": load_inhabitants_1km(settings)}
    surface = _surface(settings, data)
    nearest, pan = _nearest(settings, data)
    surface.update({
        "pandana_s": round(pan["surface_s"], 3),
        "engine_same_question_as_pandana_s": round(pan["engine_same_question_s"], 4),
        "vs_pandana": round(pan["surface_s"] / pan["engine_same_question_s"], 2),
        "pandana_seeds_on_another_node_at_the_same_spot": pan["seeds_moved"],
        "pandana_max_abs_diff_s": round(pan["max_abs_diff_s"], 3),
        "pandana_agree_within_0_1s_share": round(pan["agree_within_0_1s_share"], 5)})
    return {
        "surface": surface,
        "all_surfaces": _all_surfaces(settings, data),
        "nearest_k3_10000": nearest,
        **_what_if(_engine(settings, data), surface["networkx_multi_source_s"]),
        "pandana_ch_build_s": round(pan["build_s"], 2),
        "peak_memory_mb": {"engine_tracemalloc": round(_memory(settings, data), 1),
                           "process_max_rss": round(
                               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
    }
