"""Network build and load on the county tiles, against baselines measured in the same run.

* build: tiles → stitched ways → three stored networks, cold (no decode cache), with all
  cores vs one worker process (the parallel speed-up), and warm (decode cached);
  target < 120 s cold on 2 cores.
* load: our ``.npz`` vs osmnx's GraphML of the same walk network; target < 1 s.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import osmnx as ox

from geo.networks import network
from geo.settings import NetworkSettings, Settings


def _build(work: Path, workers: int | None) -> float:
    settings = Settings(work_dir=work, network=NetworkSettings(workers=workers))
    t0 = time.perf_counter()
    network.build_networks(settings, force=True)
    return time.perf_counter() - t0


def run() -> dict[str, Any]:
    """Time builds and loads; return seconds and ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cold_one = _build(work / "one", workers=1)
        cold_all = _build(work / "all", workers=None)
        warm = _build(work / "all", workers=None)  # decode cache present
        settings = Settings(work_dir=work / "all")
        t0 = time.perf_counter()
        walk = network.load_network(settings, "walk")
        for mode in ("bike", "car"):
            network.load_network(settings, mode)
        load_all = time.perf_counter() - t0
        t0 = time.perf_counter()
        network.load_network(settings, "walk")
        load_walk = time.perf_counter() - t0
        graphml = work / "walk.graphml"
        ox.save_graphml(network.to_networkx(walk, geometry=False), graphml)
        t0 = time.perf_counter()
        ox.load_graphml(graphml)
        load_graphml = time.perf_counter() - t0
        shutil.rmtree(work / "one")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "build_cold_s": round(cold_all, 2),
        "build_cold_one_worker_s": round(cold_one, 2),
        "parallel_speedup": round(cold_one / cold_all, 2),
        "build_warm_s": round(warm, 2),
        "load_walk_s": round(load_walk, 3),
        "load_all_modes_s": round(load_all, 3),
        "load_walk_graphml_s": round(load_graphml, 2),
        "load_speedup_vs_graphml": round(load_graphml / load_walk, 1),
        "walk_nodes": walk.n_nodes,
        "walk_edges": walk.n_edges,
        "peak_rss_mb": round(peak_mb),
        "targets_met": cold_all < 120 and load_walk < 1.0,
    }
