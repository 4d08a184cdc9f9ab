"""The planner page's what-if round trip against the engine's bare what-if, same run.

Target: a click on the planner map updates the Gemeinde table and the map in < 1 s. The
page asks ``POST /planning/evaluate``; here each step is timed on the real data (best of
``REPEATS`` runs, warm engine, as in a running server):

* **baseline**: the engine's what-if alone (:meth:`Accessibility.what_if`: changed surface,
  children per Gemeinde for the default thresholds, changed cells);
* **evaluate**: :func:`geo.products.scenarios.evaluate` (the what-if plus the weight's
  coverage at the plan's minutes, today and with the plan) — ratio to the baseline;
* **image**: :func:`geo.products.scenarios.map_image` (populated cells → PNG);
* **http**: the whole request through the app in-process (JSON in and out), the part of a
  click the server spends; the browser test measures the page's own time (network, JSON,
  table and map redrawn) and asserts < 1 s.

Plans: a new Kita in Hattorf am Harz (walk, 15 min, children), the same by bike within
10 min weighted by single-parent families, and — when a timetable is loaded — by Bus & Bahn
within 15 min (baseline: the transit what-if, stop-to-stop scans combined). Settings from
the environment (``ERREICHBAR_WORK_DIR`` with built networks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from api.main import create_app
from api.services import Services
from geo.products import scenarios
from geo.settings import Settings

T = TypeVar("T")
REPEATS = 5
SITE = (10.2297, 51.6397)  # Hattorf am Harz
PLANS = {
    "kita_walk_15_children": {"category": "kita", "mode": "walk", "minutes": 15,
                              "add": [list(SITE)]},
    "kita_bike_10_single_parents": {"category": "kita", "mode": "bike", "minutes": 10,
                                    "weight": "single_parent_families", "add": [list(SITE)]},
}


def _best(job: Callable[[], T]) -> tuple[float, T]:
    """Shortest wall time of ``REPEATS`` runs (seconds) and the last result."""
    times, result = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - t0)
    return min(times), result  # type: ignore[return-value]


def run() -> dict[str, Any]:
    """Time baseline, evaluate, image and the HTTP request per plan (milliseconds)."""
    settings = Settings()
    services = Services.load(settings)
    client = TestClient(create_app(settings, services))
    acc = services.engine
    out: dict[str, Any] = {}
    plans = dict(PLANS)
    if services.timetable() != "none":
        plans["kita_transit_15_children"] = {**PLANS["kita_walk_15_children"], "mode": "transit"}
    for name, body in plans.items():
        plan = scenarios.Plan.model_validate(body)
        scenarios.evaluate(acc, plan)  # warm: surfaces and cell snaps cached, as in a server
        base_s, _ = _best(lambda p=plan: acc.what_if(p.category, p.mode, add=list(p.add)))
        eval_s, ev = _best(lambda p=plan: scenarios.evaluate(acc, p))
        image_s, _ = _best(lambda e=ev: scenarios.map_image(e))
        http_s, answer = _best(lambda b=body: client.post("/planning/evaluate", json=b))
        assert answer.status_code == 200, answer.text
        out[name] = {"what_if_ms": round(base_s * 1000, 1),
                     "evaluate_ms": round(eval_s * 1000, 1),
                     "evaluate_vs_what_if": round(eval_s / base_s, 2),
                     "image_ms": round(image_s * 1000, 1),
                     "http_ms": round(http_s * 1000, 1),
                     "http_under_1s": http_s < 1.0,
                     "gained": int(ev.table["gained"].sum())}
    return out
