"""Cost of what ``/nearest`` tells about each offer beyond its minutes (in process, no HTTP).

For real homes (centres of Zensus 100 m cells with children under 10, drawn at random),
Grundschule and Kita on foot, k = 3 with routes: the request's work as before
(:func:`api.routers.travel._nearest_results`, the baseline measured in the same run) and
with the family facts added (:func:`api.reach.add_facts`: address, opening state, minutes
by the other modes from the nearest-offer tables, one early-stopping forward search per mode
for offers beyond them). The nearest-offer tables are built and the search compiled before
timing, as the server's warm-up does.
"""

from __future__ import annotations

import time
from typing import Any, Final

import numpy as np

from api import reach
from api.routers.travel import _nearest_results
from api.services import Services
from geo.networks import routing
from geo.networks.snap import to_lonlat
from geo.settings import Settings

POINTS: Final = 300
CATEGORIES: Final = ("grundschule", "kita")
TARGET: Final = {"extra_p95_ms": 20.0}


def _ms(values: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
            "p99_ms": round(float(p99), 2)}


def run() -> dict[str, Any]:
    """Time the baseline and the request with facts per home; JSON summary."""
    services = Services.load(Settings())
    cells = services.engine.cell_frame("children")
    pick = np.random.default_rng(0).choice(len(cells), size=POINTS, replace=True)
    lon, lat = to_lonlat(cells["x"].to_numpy()[pick], cells["y"].to_numpy()[pick])
    out: dict[str, Any] = {"points": POINTS, "k": 3, "mode": "walk", "target": TARGET}
    for category in CATEGORIES:
        for mode in ("walk", "bike", "car"):  # warm tables, as the server's warm-up
            services.engine.nearest_many(lon[:1], lat[:1], category, mode, 1)
        routing.load_times_to()  # as the warm-up
        base, full = [], []
        for x, y in zip(lon, lat, strict=True):
            t0 = time.perf_counter()
            results = _nearest_results(services, float(x), float(y), category, "walk", 3, True)
            t1 = time.perf_counter()
            reach.add_facts(services, results, float(x), float(y), category, "walk", "de")
            t2 = time.perf_counter()
            base.append((t1 - t0) * 1e3)
            full.append((t2 - t0) * 1e3)
        extra = [f - b for f, b in zip(full, base, strict=True)]
        out[category] = {"baseline": _ms(base), "with_facts": _ms(full), "extra": _ms(extra),
                         "p95_ratio": round(float(np.percentile(full, 95)
                                                  / np.percentile(base, 95)), 2),
                         "target_met": bool(np.percentile(extra, 95)
                                            < TARGET["extra_p95_ms"])}
    return out
