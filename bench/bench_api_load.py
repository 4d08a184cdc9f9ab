"""Mixed load on a real uvicorn server: does ``/nearest`` stay fast while heavy requests run?

The API runs as its own process (``uvicorn --factory api.main:create_app``, one worker, no
access log, the process settings: networks must be built, ``make build``). After a warm-up
of the tables the load uses, :data:`CLIENTS` closed-loop clients run for
:data:`DURATION_S` seconds on loopback, each sending its next request when the last one
is answered:

* :data:`NEAREST_CLIENTS` ask ``/nearest`` with routes (Grundschule on foot, k = 3) from
  the centres of real Zensus 100 m cells with children under 10, pausing
  :data:`NEAREST_PAUSE_S` between two searches (families, not a flood: the flood is
  ``bench_api``'s open-loop steps);
* :data:`ISOCHRONE_CLIENTS` ask ``/isochrones`` by car for 60 minutes from such cells;
* the rest ask ``/scenarios/best-sites`` (Familienzentrum by bike, 15 min, k = 3).

Heavy clients that are refused (503) wait the ``Retry-After`` the server names, as a
polite client does (heavy clients run in a second process). Reported: ``/nearest`` latency
percentiles alone (:data:`QUIET_S` before the mixed load), overall and while a heavy
request that was answered 200 was being computed (goal p95 < 50 ms), the heavy requests'
statuses (goal: no 5xx), the server's resident memory before the load, at its peak (goal
< 3 GB) and one minute after the load (goal within 10 % of before).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import numpy as np

from bench.bench_api import _free_port, _percentiles, _points
from geo.settings import REPO_ROOT, Settings

CLIENTS: Final = 50
NEAREST_CLIENTS: Final = 40
ISOCHRONE_CLIENTS: Final = 5
DURATION_S: Final = 60.0
#: a family's pause between two searches, seconds (uniform): 40 clients ask ≈ 40 req/s
NEAREST_PAUSE_S: Final = (0.5, 1.5)
QUIET_S: Final = 20.0  #: /nearest clients alone first: the latency without heavy load
SETTLE_S: Final = 60.0  #: wait after the load before the last memory reading
STARTUP_TIMEOUT_S: Final = 300.0
GOALS: Final = {"nearest_p95_ms_during_heavy": 50.0, "peak_rss_gb": 3.0,
                "rss_after_within": 0.10}
BEST_SITES: Final = {"category": "familienzentrum", "mode": "bike", "minutes": 15, "k": 3}


@dataclass
class _Log:
    """What the clients saw."""

    nearest: list[tuple[float, float]] = field(default_factory=list)  #: (start, ms)
    heavy: list[tuple[float, float]] = field(default_factory=list)  #: (start, end) of 200s
    statuses: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, kind: str, status: str) -> None:
        self.statuses.setdefault(kind, Counter())[status] += 1


def _rss_kb(pid: int, key: str = "VmRSS") -> int:
    """Resident memory of a process (``VmRSS``) or its peak (``VmHWM``), kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


async def _client(kind: str, client: httpx.AsyncClient, points: np.ndarray, log: _Log,
                  end: float, seed: int) -> None:
    """One closed-loop client of ``kind`` until ``end`` (perf_counter seconds)."""
    rng = random.Random(seed)
    while (start := time.perf_counter()) < end:
        lon, lat = points[rng.randrange(len(points))]
        try:
            if kind == "nearest":
                r = await client.get("/nearest", params={
                    "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "category": "grundschule",
                    "mode": "walk", "k": 3})
            elif kind == "isochrones":
                r = await client.get("/isochrones", params={
                    "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "mode": "car", "minutes": "60"})
            else:
                r = await client.post("/scenarios/best-sites", json=BEST_SITES)
        except httpx.TransportError as exc:
            log.count(kind, type(exc).__name__)
            continue
        stop = time.perf_counter()
        log.count(kind, str(r.status_code))
        if kind == "nearest":
            log.nearest.append((start, (stop - start) * 1000.0))
            await asyncio.sleep(rng.uniform(*NEAREST_PAUSE_S))
        elif r.status_code == 200:
            log.heavy.append((start, stop))
        elif r.status_code in (429, 503):
            await asyncio.sleep(min(float(r.headers.get("retry-after", 1)),
                                    max(end - stop, 0.0)))


async def _clients(base: str, points: np.ndarray, kinds: list[str], seed: int,
                   duration_s: float = DURATION_S) -> _Log:
    """Run one closed-loop client per entry of ``kinds`` for ``duration_s``."""
    log = _Log()
    end = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=len(kinds), max_keepalive_connections=len(kinds))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300.0) as client:
        await asyncio.gather(*(_client(kind, client, points, log, end, seed + i)
                               for i, kind in enumerate(kinds)))
    return log


def _heavy_clients(base: str, points: np.ndarray) -> _Log:
    """The heavy clients (own process: reading their multi-MB answers must not delay the
    /nearest clients' event loop, which would count as server latency)."""
    kinds = (["isochrones"] * ISOCHRONE_CLIENTS
             + ["best-sites"] * (CLIENTS - NEAREST_CLIENTS - ISOCHRONE_CLIENTS))
    return asyncio.run(_clients(base, points, kinds, 1000))


def _load(base: str, points: np.ndarray) -> _Log:
    """Run every client for :data:`DURATION_S`: heavy ones in a second process."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        heavy = pool.submit(_heavy_clients, base, points)
        log = asyncio.run(_clients(base, points, ["nearest"] * NEAREST_CLIENTS, 0))
        other = heavy.result()
    log.heavy, log.statuses = other.heavy, {**log.statuses, **other.statuses}
    return log


def _during_heavy(log: _Log) -> list[float]:
    """Latencies (ms) of the /nearest requests sent while a heavy request was computed."""
    spans = sorted(log.heavy)
    return [ms for start, ms in log.nearest
            if any(a <= start <= b for a, b in spans)]


def _serve(port: int) -> subprocess.Popen:
    """The API on ``port``: one worker, warm-up thread off (the load warms what it uses)."""
    env = {**os.environ, "ERREICHBAR_API__WARM_UP": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
         "--timeout-keep-alive", "60"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(base: str, server: subprocess.Popen) -> float:
    """Seconds until ``/health`` says ready; RuntimeError if it never does."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < STARTUP_TIMEOUT_S:
        if server.poll() is not None:
            raise RuntimeError("the API did not start")
        try:
            health = httpx.get(base + "/health", timeout=2.0).json()
            if health["ready"]:
                return time.perf_counter() - t0
            raise RuntimeError(f"the API is not ready: {health['missing']}")
        except httpx.TransportError:
            time.sleep(0.5)
    raise RuntimeError("the API did not start in time")


def _warm(base: str, points: np.ndarray) -> None:
    """Serve one request of each kind the load sends: the tables, networks and caches they
    fill belong to the baseline."""
    lon, lat = points[0]
    httpx.get(base + "/nearest", params={"lat": lat, "lon": lon, "category": "grundschule",
                                         "mode": "walk"}, timeout=300)
    httpx.get(base + "/isochrones", params={"lat": lat, "lon": lon, "mode": "car",
                                            "minutes": "60"}, timeout=300)
    httpx.post(base + "/scenarios/best-sites", json=BEST_SITES, timeout=300)


def run() -> dict[str, Any]:
    """Start the server, warm it, load it for a minute, let it settle a minute."""
    points = _points(Settings(), 4000, seed=1)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(port)
    try:
        startup = _wait_ready(base, server)
        _warm(base, points)
        quiet = asyncio.run(_clients(base, points, ["nearest"] * NEAREST_CLIENTS, 0,
                                     QUIET_S))
        before = _rss_kb(server.pid)
        log = _load(base, points)
        peak = _rss_kb(server.pid, "VmHWM")
        time.sleep(SETTLE_S)
        after = _rss_kb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    during = _during_heavy(log)
    heavy_5xx = sum(n for kind in ("isochrones", "best-sites")
                    for status, n in log.statuses.get(kind, {}).items()
                    if status.startswith("5") and status != "503")
    result = {
        "clients": {"nearest": NEAREST_CLIENTS, "isochrones_car_60": ISOCHRONE_CLIENTS,
                    "best_sites": CLIENTS - NEAREST_CLIENTS - ISOCHRONE_CLIENTS},
        "duration_s": DURATION_S, "startup_s": round(startup, 1),
        "cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "nearest_alone": {"requests": len(quiet.nearest),
                          **_percentiles([ms for _, ms in quiet.nearest])},
        "nearest": {"requests": len(log.nearest),
                    **_percentiles([ms for _, ms in log.nearest])},
        "nearest_during_heavy": {"requests": len(during),
                                 **(_percentiles(during) if during else {})},
        "statuses": {k: dict(sorted(v.items())) for k, v in log.statuses.items()},
        "rss_gb": {"before": round(before / 2**20, 2), "peak": round(peak / 2**20, 2),
                   "after_1min": round(after / 2**20, 2)},
        "goals": GOALS,
    }
    result["goals_met"] = {
        "nearest_p95_during_heavy": bool(during) and result["nearest_during_heavy"]["p95_ms"]
        < GOALS["nearest_p95_ms_during_heavy"],
        "no_5xx": heavy_5xx == 0 and not any(s.startswith("5") for s in
                                             log.statuses.get("nearest", {})),
        "peak_rss": peak / 2**20 < GOALS["peak_rss_gb"],
        "rss_after": abs(after - before) <= GOALS["rss_after_within"] * before,
    }
    return result
