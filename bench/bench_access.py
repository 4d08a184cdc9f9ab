"""The accessibility engine on the Göttingen networks against baselines in the same run.

* one surface (Kita, walk: 216 offers on the 183k-node walk network) and all surfaces
  (every category with active offers × walk/bike/car); targets < 0.5 s and < 10 s;
* 10,000 random k=3 nearest queries (points on the 100 m grid of the county), cold
  (nearest-offer table built first) and warm (table cached, as in the API);
* what-if (coverage change per Gemeinde included): add a Kita in a village (one bounded
  run; networkx: one single-source run from the site), and add one + remove one (a full
  multi-source re-run; networkx: the per-source surface again); < 1 s.

Baselines: networkx per-source Dijkstra (one ``single_source_dijkstra_path_length`` per
offer on the reversed graph, minimum over offers — timed on a few sources and extrapolated
linearly, said so in the output) and pandana ``nearest_pois`` on the same edges and travel
times (its contraction-hierarchy build is reported separately, not charged). Target:
≥ 50× networkx and at least as fast as pandana. Peak memory: the engine's own (tracemalloc
over a fresh engine computing every surface and a nearest table) and the process maximum
RSS (includes the networkx graphs).
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from typing import Any

import networkx as nx
import numpy as np
import pandana
import pandas as pd

from geo.engine.access import Accessibility
from geo.networks import routing
from geo.networks.network import to_networkx
from geo.networks.snap import to_lonlat, to_metric
from geo.settings import Settings
from geo.sources.offers import load_offers
from geo.sources.population import load_children_100m, load_inhabitants_1km
from geo.vocabulary import STREET_MODES

CATEGORY, MODE = "kita", "walk"
SITE = (9.75, 51.42)  # a hypothetical Kita in a village in the south-west
N_QUERIES, K = 10_000, 3
NX_SOURCES = 3  # networkx single-source runs timed (then extrapolated per offer)
NX_QUERIES = 20  # networkx k-nearest queries timed (then extrapolated to N_QUERIES)


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _engine(settings: Settings, data: dict[str, Any]) -> Accessibility:
    """A fresh engine (nothing cached but the inputs) with its networks loaded."""
    engine = Accessibility(settings, **data)
    for mode in STREET_MODES:
        engine.network(mode)
    return engine


def _networkx_surface_seconds(engine: Accessibility, g_rev: nx.MultiDiGraph) -> float:
    """Seconds of one networkx per-source surface, extrapolated from NX_SOURCES runs."""
    offers = engine.offer_set(CATEGORY, MODE)
    ids = engine.network(MODE).node_id[offers.snap.node]
    t0 = time.perf_counter()
    best: dict[int, float] = {}
    for node, access in zip(ids[:NX_SOURCES], offers.snap.seconds[:NX_SOURCES], strict=True):
        for n, t in nx.single_source_dijkstra_path_length(g_rev, int(node),
                                                          weight="travel_time").items():
            if t + access < best.get(n, np.inf):
                best[n] = t + access
    return (time.perf_counter() - t0) / NX_SOURCES * len(ids)


def _pandana(engine: Accessibility, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    """pandana on the walk network: CH build, one surface and the 10,000 queries."""
    net = engine.network(MODE)
    x, y = to_metric(net.lon, net.lat)
    pnet, build = _timed(lambda: pandana.Network(
        pd.Series(x), pd.Series(y), pd.Series(net.u), pd.Series(net.v),
        pd.DataFrame({"travel_time": net.travel_time}), twoway=False))
    offers = engine.offer_set(CATEGORY, MODE)
    ox_, oy = to_metric(offers.frame["lon"].to_numpy(), offers.frame["lat"].to_numpy())
    limit = engine.settings.access.nearest_max_min * 60

    def surface() -> pd.DataFrame:
        pnet.set_pois("offers", limit, 1, pd.Series(ox_), pd.Series(oy))
        return pnet.nearest_pois(limit, "offers", num_pois=1)

    def queries() -> pd.DataFrame:
        pnet.set_pois("offers", limit, K, pd.Series(ox_), pd.Series(oy))
        table = pnet.nearest_pois(limit, "offers", num_pois=K, include_poi_ids=True)
        qx, qy = to_metric(lon, lat)
        return table.loc[pnet.get_node_ids(pd.Series(qx), pd.Series(qy)).to_numpy()]

    first, t_surface = _timed(surface)
    _, t_queries = _timed(queries)
    # agreement: pandana snaps offers to a node and has no access leg; so do we here
    nodes = engine.snap(offers.frame["lon"].to_numpy(), offers.frame["lat"].to_numpy(), MODE).node
    ours = routing.multi_source(routing.transpose(net.csr()), nodes, np.zeros(len(nodes))).seconds
    reach = first[1].to_numpy() < limit
    gap = np.abs(first[1].to_numpy()[reach] - ours[reach])
    return {"build_s": build, "surface_s": t_surface, "queries_s": t_queries,
            "agree_within_1s_share": float((gap < 1.0).mean())}


def run() -> dict[str, Any]:
    """Time the engine and the baselines; return seconds, ratios and peak memory."""
    settings = Settings()
    data = {"offers": load_offers(settings), "children": load_children_100m(settings),
            "inhabitants": load_inhabitants_1km(settings)}
    engine = _engine(settings, data)
    _, one = _timed(lambda: engine.surface(CATEGORY, MODE))
    categories = engine.categories()
    _, every = _timed(lambda: [engine.surface(c, m) for c in categories for m in STREET_MODES])
    n_surfaces = len(categories) * len(STREET_MODES)

    grid = engine.raster_minutes(CATEGORY, MODE)  # the county's 100 m cell centres
    pick = np.random.default_rng(0).choice(len(grid), N_QUERIES, replace=False)
    lon, lat = to_lonlat(grid["x"].to_numpy()[pick], grid["y"].to_numpy()[pick])
    answers, cold = _timed(lambda: engine.nearest_many(lon, lat, CATEGORY, MODE, K))
    _, warm = _timed(lambda: engine.nearest_many(lon, lat, CATEGORY, MODE, K))
    _, single_first = _timed(lambda: engine.nearest(lon[0], lat[0], CATEGORY, MODE, K))
    _, single = _timed(lambda: engine.nearest(lon[1], lat[1], CATEGORY, MODE, K))
    # a point query before any table exists: the largest category by car (forward run)
    _, single_no_table = _timed(lambda: engine.nearest(lon[2], lat[2], "freizeit", "car", K))

    kitas = engine.offer_set(CATEGORY, MODE).ids
    add_only = engine.what_if(CATEGORY, MODE, add=[SITE])
    both = engine.what_if(CATEGORY, MODE, add=[SITE], remove=[kitas[0]])

    g, t_nx_graph = _timed(lambda: to_networkx(engine.network(MODE), geometry=False))
    g_rev = g.reverse(copy=False)
    nx_surface = _networkx_surface_seconds(engine, g_rev)
    net = engine.network(MODE)
    nodes = engine.snap(lon[:NX_QUERIES], lat[:NX_QUERIES], MODE).node
    offer_nodes = set(net.node_id[engine.offer_set(CATEGORY, MODE).snap.node].tolist())
    limit = settings.access.nearest_max_min * 60
    t0 = time.perf_counter()
    for node in nodes:
        reach = nx.single_source_dijkstra_path_length(g, int(net.node_id[node]), cutoff=limit,
                                                      weight="travel_time")
        sorted(t for n, t in reach.items() if n in offer_nodes)[:K]
    nx_queries = (time.perf_counter() - t0) / NX_QUERIES * N_QUERIES
    new_site = int(engine.snap(*SITE, MODE).node[0])
    _, nx_add = _timed(lambda: nx.single_source_dijkstra_path_length(
        g_rev, int(net.node_id[new_site]), weight="travel_time"))

    pan = _pandana(engine, lon, lat)

    tracemalloc.start()
    fresh = _engine(settings, data)
    for c in categories:
        for m in STREET_MODES:
            fresh.surface(c, m)
    fresh.nearest_many(lon, lat, CATEGORY, MODE, K)
    engine_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    return {
        "surface": {"category": CATEGORY, "mode": MODE, "seconds": round(one, 3),
                    "networkx_per_source_s_extrapolated": round(nx_surface, 1),
                    "vs_networkx": round(nx_surface / one, 1),
                    "pandana_s": round(pan["surface_s"], 3),
                    "vs_pandana": round(pan["surface_s"] / one, 2),
                    "pandana_agree_within_1s_share": round(pan["agree_within_1s_share"], 4),
                    "target_s": 0.5},
        "all_surfaces": {"n": n_surfaces, "seconds": round(every, 3),
                         "networkx_s_extrapolated": round(nx_surface / one * every, 1),
                         "vs_networkx": round(nx_surface / one, 1), "target_s": 10},
        "nearest_k3_10000": {"cold_s": round(cold, 3), "warm_s": round(warm, 4),
                             "single_with_routes_first_s": round(single_first, 4),
                             "single_with_routes_s": round(single, 4),
                             "single_freizeit_car_no_table_s": round(single_no_table, 4),
                             "answered_points": int(answers["point"].nunique()),
                             "networkx_s_extrapolated": round(nx_queries, 1),
                             "vs_networkx_cold": round(nx_queries / cold, 1),
                             "pandana_s": round(pan["queries_s"], 3),
                             "vs_pandana_cold": round(pan["queries_s"] / cold, 2),
                             "vs_pandana_warm": round(pan["queries_s"] / warm, 1)},
        "what_if_add": {"seconds": round(add_only.seconds, 3),
                        "networkx_single_source_s": round(nx_add, 3),
                        "vs_networkx": round(nx_add / add_only.seconds, 1), "target_s": 1.0},
        "what_if_remove_and_add": {
            "seconds": round(both.seconds, 3),
            "networkx_per_source_s_extrapolated": round(nx_surface + nx_add, 1),
            "vs_networkx": round((nx_surface + nx_add) / both.seconds, 1), "target_s": 1.0},
        "networkx_graph_build_s": round(t_nx_graph, 2),
        "pandana_ch_build_s": round(pan["build_s"], 2),
        "peak_memory_mb": {"engine_tracemalloc": round(engine_peak / 2**20, 1),
                           "process_max_rss": round(
                               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
    }
