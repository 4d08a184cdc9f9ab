"""Transit what-if through the facade against a full recomputation (real VPE Enzkreis feed).

Scenario: close the labelled fixture Familienzentrum Ellmendingen and open one at the real
stop Neuenbürg Gewerbegebiet (tests/fixtures/offers_enzkreis_fixture.csv: TEST OFFERS, not
real). ``what_if``: :meth:`Accessibility.what_if` by transit on a warm engine (stop matrix
and today's cells built once beforehand; that one-off cost is reported separately).
Baseline, same run: a fresh engine on the changed catalogue computing the children cells
by transit (scan of the offers' stop profiles + combination), the same numbers (checked).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from bench.bench_transit import _best_of
from geo.engine.access import Accessibility
from geo.settings import Settings, TransitSettings
from geo.sources import gtfs, offers

FIXTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "offers_enzkreis_fixture.csv"
SITE_STOP = "de:08236:1400_Parent"  # Neuenbürg Gewerbegebiet


def run() -> dict[str, Any]:
    """Time one transit what-if (warm) and the full recomputation it replaces, seconds."""
    data_dir = Settings().data_dir
    work = Path(tempfile.mkdtemp(prefix="bench-transit-what-if-"))
    enz = Settings(data_dir=data_dir, work_dir=work, region="enzkreis",
                   transit=TransitSettings(date=dt.date(2025, 3, 11)))
    feed = gtfs.load_feed(data_dir / "germany/gtfs/vpe_enzkreis_2025.zip", enz,
                          region="enzkreis")
    gtfs.store_feed(feed, enz, "enzkreis")
    catalogue = offers.read_offer_file(FIXTURE, enz)
    site = feed.stops.set_index("stop_id").loc[SITE_STOP, ["lon", "lat"]]
    add = [(float(site["lon"]), float(site["lat"]))]
    engine = Accessibility(enz, offers=catalogue)
    t0 = time.perf_counter()
    engine.what_if("familienzentrum", "transit", add=add, remove=["fixture-1"])
    t_first = time.perf_counter() - t0
    t_what_if, result = _best_of(lambda: engine.what_if("familienzentrum", "transit",
                                                        add=add, remove=["fixture-1"]))
    changed = catalogue[catalogue["id"] != "fixture-1"].copy()
    new_row = changed[changed["id"] == "fixture-2"].copy()
    new_row[["id", "lon", "lat"]] = ["new-1", site["lon"], site["lat"]]
    changed = gpd.GeoDataFrame(pd.concat([changed, new_row], ignore_index=True),
                               crs=catalogue.crs)
    t_full, full = _best_of(lambda: Accessibility(enz, offers=changed).cells(
        "familienzentrum", "transit"))
    after = full.set_index("cell_id").loc[result.cells["cell_id"], "minutes"].to_numpy()
    assert np.array_equal(after, result.cells["minutes_after"].to_numpy()), "answers differ"
    return {
        "children_cells": len(full), "changed_cells": len(result.cells),
        "what_if_s": round(t_what_if, 3), "full_recomputation_s": round(t_full, 3),
        "speedup": round(t_full / t_what_if, 1),
        "first_what_if_s (stop matrix + today's cells)": round(t_first, 3),
    }
