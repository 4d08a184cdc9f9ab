"""Walk/bike/car networks of the real county tiles: coverage, rules, storage, osmnx interop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from pyproj import Transformer
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.networks import network
from geo.networks.network import CLASSES, Network
from geo.settings import Settings
from geo.sources import tiles


def _speed_kmh(net: Network) -> np.ndarray:
    return net.length / net.travel_time * 3.6


def test_each_mode_is_one_strongly_connected_network(networks: dict[str, Network]) -> None:
    for mode, net in networks.items():
        assert net.largest_scc_share() >= 0.9, mode
    assert networks["walk"].n_nodes > 150_000
    assert networks["car"].n_nodes > 60_000


def test_networks_span_the_whole_county(networks: dict[str, Network], data_dir: Path) -> None:
    bounds = gpd.read_file(data_dir / "goettingen/boundaries_vg5000_2021.geojson")
    county = bounds[bounds["ARS"] == "03159"].total_bounds if "ARS" in bounds else \
        bounds.total_bounds
    for net in networks.values():
        assert net.lon.min() <= county[0] + 0.01 and net.lon.max() >= county[2] - 0.01
        assert net.lat.min() <= county[1] + 0.01 and net.lat.max() >= county[3] - 0.01


def test_every_populated_km_cell_is_within_1_km_of_a_car_node(
        networks: dict[str, Network], data_dir: Path) -> None:
    cells = pd.read_csv(data_dir / "goettingen/zensus2011_einwohner_1km.csv")
    cells = cells[cells["einwohner"] > 0]
    assert len(cells) == 782
    x, y = Transformer.from_crs(4326, 3035, always_xy=True).transform(
        networks["car"].lon, networks["car"].lat)
    d, _ = cKDTree(np.column_stack([x, y])).query(cells[["x_3035", "y_3035"]].to_numpy())
    assert d.max() < 1000.0


def test_access_rules_per_mode(networks: dict[str, Network]) -> None:
    walk, bike, car = networks["walk"], networks["bike"], networks["car"]
    names = np.asarray(CLASSES)
    assert "motorway" not in set(names[walk.cls]) | set(names[bike.cls])
    assert "path" not in set(names[car.cls])
    track = car.cls == CLASSES.index("track")
    assert track.any() and (_speed_kmh(car)[track] <= 15.0 + 1e-9).all()
    assert not walk.oneway.any()  # pedestrians ignore one-way streets
    assert car.oneway.sum() > 1000  # one-way streets and motorway carriageways
    # bikes push on footways and paths of unknown kind: walking pace there
    path = bike.cls == CLASSES.index("path")
    np.testing.assert_allclose(_speed_kmh(bike)[path], 4.8, rtol=1e-6)


def test_car_speeds_follow_the_documented_class_rule(networks: dict[str, Network]) -> None:
    car, s = networks["car"], Settings()
    speed = _speed_kmh(car)
    for code, name in enumerate(CLASSES[:8]):
        sel = speed[car.cls == code]
        allowed = {s.car.rural[name], s.car.urban[name], s.car.rural[name] * s.car.link_factor,
                   s.car.urban[name] * s.car.link_factor}
        assert np.isin(np.round(sel, 6), np.round(list(allowed), 6)).all(), name
    motorway = speed[car.cls == 0]
    assert np.isclose(motorway, s.car.rural["motorway"]).mean() > 0.5


def test_save_and_load_give_the_same_network(networks: dict[str, Network], tmp_path: Path
                                             ) -> None:
    net = networks["bike"]
    network.save(net, tmp_path)
    back = network.load(tmp_path / "bike.npz")
    for name in ("node_id", "lon", "lat", "u", "v", "length", "travel_time", "cls",
                 "geom_offsets"):
        np.testing.assert_array_equal(getattr(back, name), getattr(net, name))
    edges = gpd.read_parquet(tmp_path / "bike_edges.parquet")
    assert len(edges) == net.n_edges and edges.crs.to_epsg() == 4326
    np.testing.assert_allclose(edges.to_crs(25832).length.sum() / 1000,
                               net.length.sum() / 1000, rtol=0.005)


@pytest.fixture(scope="module")
def small_walk(data_dir: Path, settings: Settings) -> Network:
    """Walk network of the two Ostviertel tiles (fast enough for networkx)."""
    full = tiles.open_tileset(data_dir / "goettingen/osm-tiles-landkreis-2021")
    pair = tiles.TileSet(full.root, 14, ((8644, 5446), (8645, 5446)), full.name, full.version)
    return network.build_graphs(tiles.read_ways(pair), settings, modes=("walk",))["walk"]


def test_networkx_roundtrip_and_osmnx_routing_agree(small_walk: Network) -> None:
    g = network.to_networkx(small_walk)
    assert g.number_of_nodes() == small_walk.n_nodes
    assert g.number_of_edges() == small_walk.n_edges
    nodes, edges = ox.convert.graph_to_gdfs(g)
    assert len(edges) == small_walk.n_edges
    back = network.from_networkx(g, "walk")
    np.testing.assert_array_equal(back.node_id, small_walk.node_id)
    assert back.n_edges == small_walk.n_edges  # networkx reorders edges: compare as sets
    np.testing.assert_allclose(np.sort(back.travel_time), np.sort(small_walk.travel_time))
    np.testing.assert_allclose(back.length.sum(), small_walk.length.sum())
    rng = np.random.default_rng(7)
    src = rng.integers(0, small_walk.n_nodes, 5)
    dst = rng.integers(0, small_walk.n_nodes, 5)
    times = dijkstra(small_walk.csr(), indices=src)
    for i, (a, b) in enumerate(zip(src, dst, strict=True)):
        ida, idb = int(small_walk.node_id[a]), int(small_walk.node_id[b])
        route = ox.routing.shortest_path(g, ida, idb, weight="travel_time")
        if route is None:
            assert np.isinf(times[i, b])
            continue
        route_time = sum(min(d["travel_time"] for d in g[x][y].values())
                         for x, y in pairwise(route))
        assert route_time == pytest.approx(times[i, b], abs=1e-6)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geo.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def test_cli_build_prints_the_summary_and_reuses_it(tmp_path: Path, data_dir: Path) -> None:
    env = {"ERREICHBAR_WORK_DIR": str(tmp_path), "ERREICHBAR_DATA_DIR": str(data_dir)}
    first = _cli("network", "build", "--source", "city-tiles", env=env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["region"] == "goettingen" and summary["cached"] is False
    assert set(summary["modes"]) == {"walk", "bike", "car"}
    lon0, lat0, lon1, lat1 = summary["bbox"]
    assert 9.68 < lon0 < 9.72 and 10.08 < lon1 < 10.11 and 51.44 < lat0 < 51.46
    for mode in summary["modes"].values():
        assert mode["largest_component_share"] >= 0.9 and mode["length_km"] > 500
    assert (tmp_path / "processed/goettingen/network/car.npz").is_file()
    second = _cli("network", "build", "--source", "city-tiles", env=env)
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again["cached"] is True and again["modes"] == summary["modes"]


@pytest.mark.parametrize("args, message", [
    (("network", "build", "--region", "atlantis"), "unknown region 'atlantis'"),
    (("network", "build", "--source", "/nonexistent/x.osm.pbf"), "no such OSM extract"),
])
def test_cli_errors_are_one_line(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    res = _cli(*args, env={"ERREICHBAR_WORK_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error: ")
    assert message in res.stderr and "Traceback" not in res.stderr


def test_cli_corrupt_tile_is_one_line(tmp_path: Path) -> None:
    root = tmp_path / "data/goettingen/osm-tiles-landkreis-2021"
    (root / "14/8650").mkdir(parents=True)
    (root / "metadata.json").write_text("{}")
    (root / "14/8650/5440.pbf").write_bytes(b"\x1a\xff\xff\xff not a tile")
    res = _cli("network", "build", "--data-dir", str(tmp_path / "data"),
               env={"ERREICHBAR_WORK_DIR": str(tmp_path / "work")})
    assert res.returncode == 2 and "corrupt vector tile" in res.stderr
    assert "Traceback" not in res.stderr
