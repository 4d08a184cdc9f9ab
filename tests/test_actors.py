"""The network of Familienzentren on the real county data: catchments partition the
children, distances and touching catchments checked by independent computations."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.products import actors, chain

TO_LONLAT = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def net(chain_data: chain.ChainData) -> actors.ActorNetwork:
    return actors.actor_network(chain_data)


@pytest.mark.parametrize("mode", ["walk", "bike"])
def test_catchments_partition_the_connected_children(acc, net, mode) -> None:
    children = acc.cell_frame("children")
    lon, lat = TO_LONLAT.transform(children["x"].to_numpy(), children["y"].to_numpy())
    snap = acc.snap(lon, lat, mode)
    connected = children["children_under_10"].to_numpy()[snap.connected].sum()
    catch = net.catchments[net.catchments["mode"] == mode]
    assert catch["cell_id"].is_unique  # no cell in two catchments
    assert catch["children_under_10"].sum() == pytest.approx(
        connected - net.not_reached[mode])
    assert net.centres[f"children_{mode}"].sum() == pytest.approx(connected
                                                                  - net.not_reached[mode])
    assert set(catch["fz_id"]) <= set(net.centres["fz_id"])
    active = acc.offers[(acc.offers["category"] == "familienzentrum")
                        & (acc.offers["status"] == "active")]
    assert set(net.centres["fz_id"]) == set(active["id"])


def test_catchment_is_the_nearest_centre_by_forward_search(acc, net) -> None:
    catch = net.catchments[net.catchments["mode"] == "bike"]
    radius = acc.settings.access.nearest_max_min  # nearest() looks this far
    sample = catch[catch["minutes"] < radius - 1].sample(25, random_state=7)
    lon, lat = TO_LONLAT.transform(sample["x"].to_numpy(), sample["y"].to_numpy())
    for x, y, fz in zip(lon, lat, sample["fz_id"], strict=True):
        nearest = acc.nearest(float(x), float(y), "familienzentrum", "bike", k=2)
        best = nearest["minutes"].to_numpy()
        if len(best) > 1 and best[1] - best[0] < 1e-6:
            continue  # a tie: either centre is right
        assert nearest["offer_id"].iloc[0] == fz


def test_centre_minutes_equal_forward_dijkstra(acc, net) -> None:
    offers = acc.offer_set("familienzentrum", "bike")
    node, seconds = offers.snap.node, offers.snap.seconds
    dist = dijkstra(acc.network("bike").csr(), indices=node)
    expected = (seconds[:, None] + dist[:, node] + seconds[None, :]) / 60.0
    np.fill_diagonal(expected, 0.0)
    expected[expected > 180.0] = np.inf  # centre_minutes' search limit
    got = net.minutes.loc[offers.ids, offers.ids].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    within = (expected <= acc.settings.chain.actor_near_min) & ~np.eye(len(node), dtype=bool)
    centres = net.centres.set_index("fz_id").loc[offers.ids]
    assert (centres["fz_within_15min_bike"].to_numpy() == within.sum(axis=1)).all()


@pytest.mark.parametrize("mode", ["walk", "bike"])
def test_touching_catchments_equal_a_kd_tree_search(net, mode) -> None:
    catch = net.catchments[net.catchments["mode"] == mode].reset_index(drop=True)
    tree = cKDTree(catch[["x", "y"]].to_numpy())
    i, j = tree.query_pairs(r=100 * np.sqrt(2) + 1.0, output_type="ndarray").T
    a, b = catch["fz_id"].to_numpy()[i], catch["fz_id"].to_numpy()[j]
    diff = a != b
    expected = {tuple(sorted(p)) for p in zip(a[diff], b[diff], strict=True)}
    flagged = net.pairs.loc[net.pairs[f"touch_{mode}"], ["a", "b"]]
    assert {tuple(p) for p in flagged.to_numpy()} == expected


def test_planned_centres_gain_children_and_gaps_are_consistent(acc, chain_data, net) -> None:
    planned = net.planned
    assert set(planned["planned_id"]) == set(acc.offers.loc[
        (acc.offers["category"] == "familienzentrum") & (acc.offers["status"] == "planned"),
        "id"])
    assert (planned["children_gained"] > 0).all()
    assert (planned["reach_share_after"] > planned["reach_share"]).all()
    gap = acc.settings.chain.gap_share
    assert (planned["closes_gap"] == ((planned["reach_share"] < gap)
                                      & (planned["reach_share_after"] >= gap))).all()


def test_write_actors_graphml_and_geojson(settings, acc, tmp_path: Path) -> None:
    summary = actors.write_actors(settings, acc, map_dir=tmp_path)
    json.dumps(summary, allow_nan=False)
    folder = chain.chain_dir(settings)
    graph = nx.read_graphml(folder / "akteursnetz.graphml")
    assert graph.number_of_nodes() == summary["familienzentren"]
    assert graph.number_of_edges() == summary["links"]
    for _, _, attrs in graph.edges(data=True):
        assert attrs["minutes"] > 0
    geo = json.loads((folder / "akteursnetz.geojson").read_text("utf-8"))
    kinds = pd.Series([f["properties"]["kind"] for f in geo["features"]]).value_counts()
    assert kinds["familienzentrum"] == summary["familienzentren"]
    assert kinds.get("link", 0) == summary["links"]
    page = (tmp_path / "akteursnetz-bike.html").read_text("utf-8")
    assert "Familienzentrum" in page and "OpenStreetMap" in page
    table = pd.read_csv(folder / "fz_paare.csv")
    ordered = table[["a", "b"]].to_numpy()
    assert all(a < b for a, b in ordered)
    assert all(x != y for x, y in pairwise(map(tuple, ordered)))
