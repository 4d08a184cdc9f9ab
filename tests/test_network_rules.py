"""Access rules, directions and speeds per mode on a hand-made fixture of four ways.

The fixture is made up (clearly not real data): four 100 m-ish ways meeting at node 2.
"""

from __future__ import annotations

import numpy as np
import pytest

from geo.networks.network import build_graphs
from geo.settings import Settings
from geo.sources.ways import Ways, empty_attrs


@pytest.fixture(scope="module")
def ways() -> Ways:
    # line 0: one-way minor street 1→2, cyclists may ride against it
    # line 1: one-way minor street 2→3, no contraflow
    # line 2: footway 2→4
    # line 3: motorway 2→5 (one-way)
    lon = np.array([9.930, 9.931, 9.931, 9.932, 9.931, 9.931, 9.931, 9.933])
    lat = np.array([51.530, 51.530, 51.530, 51.530, 51.530, 51.531, 51.530, 51.530])
    key = np.array([1, 2, 2, 3, 2, 4, 2, 5])
    attrs = empty_attrs(4)
    attrs["cls"] = ["minor", "minor", "path", "motorway"]
    attrs["subclass"] = ["residential", "residential", "footway", "motorway"]
    attrs["oneway"] = np.array([1, 1, 0, 1], dtype=np.int8)
    attrs["bike_contraflow"] = [True, False, False, False]
    return Ways(lon, lat, key, np.array([0, 2, 4, 6, 8]), attrs, "fixture", "")


def _edges(ways: Ways, mode: str) -> dict[tuple[int, int], float]:
    net = build_graphs(ways, Settings(), modes=(mode,))[mode]
    speed = net.length / net.travel_time * 3.6
    return {(int(net.node_id[a]), int(net.node_id[b])): round(float(s), 3)
            for a, b, s in zip(net.u, net.v, speed, strict=True)}


def test_walk_ignores_one_way_and_avoids_motorways(ways: Ways) -> None:
    assert _edges(ways, "walk") == {
        (1, 2): 4.8, (2, 1): 4.8, (2, 3): 4.8, (3, 2): 4.8, (2, 4): 4.8, (4, 2): 4.8}


def test_bike_rides_contraflow_only_where_allowed_and_pushes_on_footways(ways: Ways) -> None:
    assert _edges(ways, "bike") == {
        (1, 2): 12.0, (2, 1): 12.0, (2, 3): 12.0, (2, 4): 4.8, (4, 2): 4.8}


def test_car_keeps_one_way_streets_and_leaves_footways(ways: Ways) -> None:
    s = Settings()
    # no built-up areas given: rural speeds
    assert _edges(ways, "car") == {
        (1, 2): s.car.rural["minor"], (2, 3): s.car.rural["minor"],
        (2, 5): s.car.rural["motorway"]}
