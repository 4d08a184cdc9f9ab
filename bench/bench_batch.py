"""Batch of regions on Dask: memory of one county task, wall times, the halo's cost and effect.

* **county task memory**: network build from the county tiles (cold: no decode cache)
  + the offer catalogue + every street surface (all categories × walk, bike, car, with
  the children cells' minutes) in a child process; its peak resident memory is the
  **sum over the process and its children** (a decode pool counts), sampled every 50 ms
  with psutil. *Before* runs the same job on the code of ``BENCH_BATCH_BASELINE``
  (default ``db62889``, main before the streaming changes; exported with ``git archive``),
  *after* on this tree, both with one decode process (``network.workers`` = ``offers.workers``
  = 1, as in a batch task). Target: after < 1.5 GB.
* **batch**: the county's 20 municipal units (walk, bike; Grundschule, Kita) on a
  LocalCluster with 1 and with 2 workers (sufficient halo), and with 1 worker and halo 0;
  the halo's extra cost = task seconds (and wall time) with halo / without, 1 worker each,
  and — free of cluster start and scheduling noise — the 20 unit tasks run one after the
  other in this process with and without halo (best of 2).
  The machine's 1-minute load average is reported: on shared cores the second worker only
  helps when a core is free.
* **edge effect**: the halo-0 and the haloed batch compared cell for cell with the county
  run (:func:`geo.products.batch_combine.edge_effect`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from geo.settings import REPO_ROOT, Settings

#: the county task, written against the public API that both trees have
_TASK = """
import json, sys
from pathlib import Path
from geo.engine.access import Accessibility
from geo.networks import network
from geo.settings import Settings
from geo.vocabulary import STREET_MODES
s = Settings(work_dir=Path(sys.argv[1]))
network.build_networks(s, force=True)
acc = Accessibility(s)
n = sum(len(acc.cells(c, m, "children")) > 0 for c in acc.categories() for m in STREET_MODES)
print(json.dumps({"surfaces": n}))
"""
_MODES, _CATEGORIES = ("walk", "bike"), ("grundschule", "kita")


def peak_tree_rss(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run ``cmd``; return its peak RSS summed over the process tree (MB), seconds, stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            cwd=cwd)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss
                                 for p in [root, *root.children(recursive=True)]))
        except psutil.Error:
            pass  # a process ended between listing and reading it
        time.sleep(0.05)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode:
        raise RuntimeError(f"{cmd[:3]} failed with exit code {proc.returncode}")
    return peak / 1e6, time.perf_counter() - t0, out


def _county_task(code: Path, work: Path, data_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code), "ERREICHBAR_DATA_DIR": str(data_dir),
           "ERREICHBAR_NETWORK__WORKERS": "1", "ERREICHBAR_OFFERS__WORKERS": "1"}
    mb, seconds, out = peak_tree_rss([sys.executable, "-c", _TASK, str(work)], env, code)
    return {"peak_rss_mb": round(mb), "seconds": round(seconds, 1),
            **json.loads(out.strip().splitlines()[-1])}


def _baseline(tmp: Path) -> Path | None:
    """Export the baseline tree's ``geo`` package (None when git cannot)."""
    ref = os.environ.get("BENCH_BATCH_BASELINE", "db62889")
    target = tmp / "baseline"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref, "geo"],
                             capture_output=True, check=False)
    if archive.returncode:
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def _batch(settings: Settings, units: list[str], out: Path, workers: int,
           halo: float | None) -> dict[str, Any]:
    from geo.products.batch import run_batch

    summary = run_batch(settings, units, out, modes=_MODES, categories=_CATEGORIES,
                        halo_m=halo, workers=workers)
    return {"wall_s": summary["seconds"], "task_s": round(sum(summary["task_seconds"].values()), 1),
            "done": summary["done"], "halo_m": summary["halo_m"],
            "peak_rss_mb_max": max(summary["peak_rss_mb"].values())}


def _halo_cost(settings: Settings, units: list[str], tmp: Path) -> dict[str, float]:
    """Seconds of the 20 unit tasks in this process with the halo and without (best of 2).

    No cluster: only the tasks' own work (clip, offers, surfaces, cells, writes) counts.
    """
    from geo.products.batch import RegionTask, county_inputs, halo_metres, run_region

    inputs = county_inputs(settings)
    halo, _ = halo_metres(settings, _MODES)
    best = {"halo": float("inf"), "halo_0": float("inf")}
    for rep in range(2):
        for name, metres in (("halo", halo), ("halo_0", 0.0)):
            out = tmp / f"cost-{name}-{rep}"
            t0 = time.perf_counter()
            for ars in units:
                run_region(settings, RegionTask(ars, metres, _MODES, _CATEGORIES, out), inputs)
            best[name] = min(best[name], time.perf_counter() - t0)
    return {"halo_s": round(best["halo"], 1), "halo_0_s": round(best["halo_0"], 1),
            "ratio": round(best["halo"] / best["halo_0"], 2)}


def _edge(settings: Settings, units: list[str], out: Path) -> dict[str, Any]:
    from geo.products.batch_combine import county_reference, edge_effect

    reference = county_reference(settings, _MODES, _CATEGORIES)
    cells = pd.concat([pd.read_parquet(out / f"region={u}" / "cells.parquet") for u in units],
                      ignore_index=True)
    return edge_effect(reference, cells, max(settings.access.thresholds_min))


def run() -> dict[str, Any]:
    """Measure the county task before/after and the batch; return the figures."""
    from geo.sources.boundaries import load_units

    data_dir = Settings().data_dir
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        after = _county_task(REPO_ROOT, tmp / "after", data_dir)
        base = _baseline(tmp)
        before = _county_task(base, tmp / "before", data_dir) if base else None
        settings = Settings(work_dir=tmp / "after", data_dir=data_dir)
        units = list(load_units(settings, "unit")["ags"])
        one = _batch(settings, units, tmp / "b1", 1, None)
        two = _batch(settings, units, tmp / "b2", 2, None)
        zero = _batch(settings, units, tmp / "b0", 1, 0.0)
        cost = _halo_cost(settings, units, tmp)
        halo_edge, zero_edge = _edge(settings, units, tmp / "b2"), _edge(settings, units,
                                                                          tmp / "b0")
    return {
        "county_task_before": before, "county_task_after": after,
        "rss_ratio_after_before": round(after["peak_rss_mb"] / before["peak_rss_mb"], 2)
        if before else None,
        "batch_1_worker": one, "batch_2_workers": two, "batch_1_worker_halo_0": zero,
        "speedup_2_vs_1_workers": round(one["wall_s"] / two["wall_s"], 2),
        "halo_cost_task_s_ratio": round(one["task_s"] / zero["task_s"], 2),
        "halo_cost_wall_s_ratio": round(one["wall_s"] / zero["wall_s"], 2),
        "halo_cost_in_process": cost,
        "load_average_1min": round(os.getloadavg()[0], 1),
        "edge_effect_halo": {k: v for k, v in halo_edge.items() if k != "by_unit"},
        "edge_effect_halo_0": zero_edge,
        "targets_met": after["peak_rss_mb"] < 1500 and halo_edge["changed"] == 0,
    }


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
