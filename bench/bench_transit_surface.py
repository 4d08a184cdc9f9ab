"""Transit surface of every 100 m cell of the Enzkreis: time and memory (real VPE feed).

Region ``enzkreis`` (VG5000 polygon 08236), the real VPE feed clipped to it
(``gtfs.load_feed(..., region="enzkreis")``), Tuesday 2025-03-11, 07:00–09:00, one
departure per minute, crow-fly walks. Destinations: the clearly labelled fixture offers
``tests/fixtures/offers_enzkreis_fixture.csv`` (no real offers exist for the Enzkreis).

Measured: the window median of walk + transit to the nearest Kita for every 100 m cell
whose centre lies in the Enzkreis (:meth:`geo.engine.transit_access.TransitAccess.cell_times`:
one window profile per stop, then per cell the per-minute minimum over its access stops),
wall time split into stop profiles and the cell combination, peak traced memory (tracemalloc:
Python and numpy allocations) and the process's peak resident set.
Baseline, same run: the exact R5-style method, one scan per cell and departure minute
(:func:`geo.transit.query.departure_profiles` with cells as origins), on a random sample of
cells, extrapolated linearly to all cells.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.engine.transit_access import TransitAccess
from geo.settings import Settings, TransitSettings
from geo.sources import gtfs, offers
from geo.sources.boundaries import read_vg5000
from geo.transit.query import departure_profiles

DATE = dt.date(2025, 3, 11)
FIXTURE = Path(__file__).resolve().parent.parent / "tests/fixtures/offers_enzkreis_fixture.csv"
SAMPLE = 200  #: cells routed one by one for the baseline


def enzkreis_cells(settings: Settings) -> np.ndarray:
    """Centres (EPSG:3035 metres) of the 100 m INSPIRE cells whose centre is in the Enzkreis."""
    county = shapely.union_all(read_vg5000(settings.data_dir, "08236", "county").geometry
                               .to_numpy())
    x0, y0, x1, y1 = county.bounds
    gx, gy = np.meshgrid(np.arange(x0 // 100, x1 // 100 + 1) * 100 + 50,
                         np.arange(y0 // 100, y1 // 100 + 1) * 100 + 50)
    inside = shapely.contains_xy(county, gx.ravel(), gy.ravel())
    return np.column_stack([gx.ravel()[inside], gy.ravel()[inside]])


def run() -> dict[str, Any]:
    """Time and trace the Enzkreis cell surface, and the per-cell baseline on a sample."""
    settings = Settings(region="enzkreis", transit=TransitSettings(date=DATE))
    feed = gtfs.load_feed(settings.data_dir / "germany/gtfs/vpe_enzkreis_2025.zip", settings,
                          region="enzkreis")
    catalogue = offers.read_offer_file(FIXTURE, settings)
    cells = enzkreis_cells(settings)
    warm = TransitAccess(feed, settings, catalogue, date=DATE, start_s=7 * 3600,
                         end_s=7 * 3600 + 120)
    warm.cell_times("kita", cells[:10])  # numba JIT outside the timing
    access = TransitAccess(feed, settings, catalogue, date=DATE)
    tracemalloc.start()
    t0 = time.perf_counter()
    access.stop_profiles("kita")
    t_profiles = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = access.cell_times("kita", cells)
    t_cells = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sample = cells[np.random.default_rng(17).choice(len(cells), SAMPLE, replace=False)]
    dest = np.column_stack(offers_xy(catalogue[catalogue["category"] == "kita"]))
    t0 = time.perf_counter()
    departure_profiles(feed, sample, DATE, settings=settings.transit, destinations=dest)
    t_sample = time.perf_counter() - t0
    baseline = t_sample * len(cells) / SAMPLE
    total = t_profiles + t_cells
    return {
        "region": "enzkreis", "feed": "VPE Enzkreis 2025 (real), clipped to the Enzkreis",
        "date": DATE.isoformat(), "window": "07:00-09:00", "departures": len(access.minutes),
        "cells": len(cells), "stops": len(access.stop_profiles("kita")[1]),
        "cells_kita_within_30min": int((result.median_s <= 1800).sum()),
        "stop_profiles_s": round(t_profiles, 2), "cells_combine_s": round(t_cells, 2),
        "total_s": round(total, 2),
        "peak_traced_mb": round(peak / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
        "baseline_per_cell_scans_s": round(baseline, 1),
        "baseline_sample_cells": SAMPLE,
        "ratio_baseline_over_surface": round(baseline / total, 1),
        "note": "destinations are fixture offers (labelled TEST OFFER); baseline = one scan "
                "per cell and minute on a random sample, extrapolated linearly",
    }


def offers_xy(frame: Any) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3035 metres of offers' lon/lat."""
    from geo.networks.snap import to_metric

    return to_metric(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
