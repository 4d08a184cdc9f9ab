"""Load test of ``GET /nearest`` on loopback: latency percentiles at increasing request rates.

The API runs as its own process (uvicorn with one, then two workers, no access log, the
process settings)
and is driven open-loop by an asyncio httpx client in this process: request ``i`` of a
step is *scheduled* at ``i / rate`` seconds and its latency is counted from that moment,
so queueing in an overloaded server shows up in the percentiles (no coordinated omission).
Query points are centres of real Zensus 100 m cells with children under 10 (the homes the
API is for), Grundschule on foot, k = 3, once with routes (the family page's request) and
once with ``route=false`` (minutes only: a table lookup). Each step is bounded by
:data:`STEP_SECONDS` and :data:`STEP_MAX_REQUESTS`; the run stops after the first step
whose p95 exceeds :data:`SATURATED_MS`. Both processes share the machine's cores.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from typing import Any, Final

import httpx
import numpy as np

from geo.engine.access import Accessibility
from geo.networks.snap import to_lonlat
from geo.settings import REPO_ROOT, Settings

RATES: Final = (25, 50, 100, 200, 400)  #: requests per second, one step each
STEP_SECONDS: Final = 5.0
STEP_MAX_REQUESTS: Final = 2000
SATURATED_MS: Final = 1000.0
TARGET: Final = {"rate": 200, "p95_ms": 20.0}
CATEGORY, MODE, K = "grundschule", "walk", 3
WORKERS: Final = (1, 2)  #: uvicorn worker processes (each loads the engine, ≈0.6 GB)
STARTUP_TIMEOUT_S: Final = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _points(settings: Settings, n: int, seed: int = 0) -> np.ndarray:
    """``n`` (lon, lat) centres of children cells, drawn at random (WGS84 degrees)."""
    cells = Accessibility(settings).cell_frame("children")
    pick = np.random.default_rng(seed).choice(len(cells), size=n, replace=True)
    lon, lat = to_lonlat(cells["x"].to_numpy()[pick], cells["y"].to_numpy()[pick])
    return np.column_stack([lon, lat])


def _percentiles(ms: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
            "p99_ms": round(float(p99), 2), "max_ms": round(float(max(ms)), 2)}


def _params(lon: float, lat: float, route: bool) -> dict[str, str | int]:
    return {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "category": CATEGORY, "mode": MODE,
            "k": K, "route": str(route).lower()}


async def _step(client: httpx.AsyncClient, points: np.ndarray, rate: float,
                route: bool) -> dict[str, Any]:
    """One open-loop step at ``rate`` requests/s."""
    n = int(min(STEP_MAX_REQUESTS, rate * STEP_SECONDS))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    start = time.perf_counter()

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        lon, lat = points[i % len(points)]
        try:
            status = str((await client.get("/nearest", params=_params(lon, lat, route)))
                         .status_code)
        except httpx.TransportError as exc:  # counted, not fatal: overload shows as errors
            status = type(exc).__name__
        latencies.append((time.perf_counter() - scheduled) * 1000.0)
        statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - start
    return {"rate": rate, "requests": n, "achieved_rate": round(n / wall, 1),
            "statuses": dict(sorted(statuses.items())),
            **_percentiles(latencies)}


async def _series(client: httpx.AsyncClient, points: np.ndarray, route: bool
                  ) -> dict[str, Any]:
    """Sequential service time, then the open-loop steps, for one kind of request."""
    sequential = []
    for lon, lat in points[:200]:  # one request at a time: the service time alone
        t0 = time.perf_counter()
        await client.get("/nearest", params=_params(lon, lat, route))
        sequential.append((time.perf_counter() - t0) * 1000.0)
    steps = []
    for rate in RATES:
        steps.append(await _step(client, points, rate, route))
        if steps[-1]["p95_ms"] > SATURATED_MS:
            break
    at_target = next((s for s in steps if s["rate"] == TARGET["rate"]), None)
    met = bool(at_target and at_target["p95_ms"] < TARGET["p95_ms"]
               and set(at_target["statuses"]) == {"200"})
    return {"sequential": _percentiles(sequential), "steps": steps, "target_met": met}


async def _drive(base: str, points: np.ndarray) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        return {"with_routes": await _series(client, points, True),
                "minutes_only": await _series(client, points, False)}


def _serve(port: int, workers: int) -> subprocess.Popen:
    """The API on ``port`` with ``workers`` processes (warm-up thread off: the load test
    warms the one table it uses, without 26 other tables competing for the cores)."""
    env = {**os.environ, "ERREICHBAR_API__WARM_UP": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "60"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(base: str, server: subprocess.Popen) -> float:
    """Wait until the API at ``base`` answers ``/health``; return the seconds waited."""
    t0 = time.perf_counter()
    while True:
        try:
            if httpx.get(base + "/health", timeout=2.0).status_code == 200:
                return time.perf_counter() - t0
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.perf_counter() - t0 > STARTUP_TIMEOUT_S:
            raise RuntimeError("the API did not start (run 'make build' first)")
        time.sleep(0.5)


def _load(points: np.ndarray, workers: int) -> dict[str, Any]:
    """Start the API with ``workers`` processes, warm it, run both series, stop it."""
    port = _free_port()
    server = _serve(port, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        startup = wait_ready(base, server)
        first = []
        # new connections, so every worker gets some; route=false builds the nearest table
        # (the served API's warm-up thread does the same), which routed queries then use
        for lon, lat in points[:10 * workers]:
            t1 = time.perf_counter()
            httpx.get(base + "/nearest", params=_params(lon, lat, False), timeout=120)
            first.append(time.perf_counter() - t1)
        result = asyncio.run(_drive(base, points))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"startup_s": round(startup, 1), "first_request_s": round(max(first), 2), **result}


def run() -> dict[str, Any]:
    """Load ``/nearest`` step by step with one and with two server processes."""
    points = _points(Settings(), 4000)
    result = {f"workers_{w}": _load(points, w) for w in WORKERS}
    return {
        "endpoint": f"/nearest?category={CATEGORY}&mode={MODE}&k={K}",
        "cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "target": TARGET, **result,
    }
