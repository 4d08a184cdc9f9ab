"""The accessibility engine on the real Göttingen networks and on a hand-made graph.

Offers here are the real schools (jedeschule register) and family offers (compiled list):
they load in a second, unlike the tile POIs, and give categories with 1–78 offers.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import rasterio
import shapely
from scipy.sparse.csgraph import dijkstra

from geo.engine.access import Accessibility, AccessInputError
from geo.engine.coverage import summarise
from geo.engine.isochrones import EdgeCutter
from geo.engine.supply import e2sfca, zone_weights
from geo.errors import EmptyResultError, RegionError
from geo.networks import routing
from geo.networks.network import Network, to_networkx
from geo.networks.snap import to_lonlat, to_metric
from geo.products.compute import compute
from geo.settings import Settings
from geo.sources import offers as of

GOETTINGEN_CENTRE = (9.9355, 51.5333)  # Markt, Göttingen


@pytest.fixture(scope="module")
def offers(settings: Settings) -> gpd.GeoDataFrame:
    folder = settings.data_dir / settings.region
    family, _ = of.family_offers(folder / of.FAMILY_FILE)
    return of.to_frame([*of.school_offers(folder / of.SCHOOLS_FILE), *family])


@pytest.fixture(scope="module")
def engine(settings: Settings, networks: dict[str, Network],
           offers: gpd.GeoDataFrame) -> Accessibility:
    return Accessibility(settings, offers=offers)


# ---------------------------------------------------------------- hand-made graph


def _tiny() -> Network:
    """0 → 1 → 2 → 3 one-way (60 s each, 100 m), 3 → 0 back (600 s); nodes 100 m apart."""
    lon = 9.9 + np.arange(4) * 0.0014375  # ~100 m at 51.5° N
    lat = np.full(4, 51.5)
    u, v = np.array([0, 1, 2, 3], np.int32), np.array([1, 2, 3, 0], np.int32)
    geom_lon = np.column_stack([lon[u], lon[v]]).ravel()
    geom_lat = np.column_stack([lat[u], lat[v]]).ravel()
    return Network(mode="car", node_id=np.arange(4, dtype=np.int64), lon=lon, lat=lat, u=u, v=v,
                   length=np.array([100.0, 100, 100, 300]),
                   travel_time=np.array([60.0, 60, 60, 600]), cls=np.zeros(4, np.int8),
                   oneway=np.ones(4, bool), geom_lon=geom_lon, geom_lat=geom_lat,
                   geom_offsets=np.arange(0, 9, 2, dtype=np.int64))


def test_tiny_graph_nearest_respects_one_ways_and_offer_access() -> None:
    net = _tiny()
    graph_t = routing.transpose(net.csr())
    # offer A at node 3 (10 s from its node), offer B exactly on node 0
    field = routing.multi_source(graph_t, np.array([3, 0]), np.array([10.0, 0.0]))
    # home → offer: from 1 only forward to 3 (120 s + 10 s); B needs 120 + 600 s
    np.testing.assert_allclose(field.seconds, [0.0, 130.0, 70.0, 10.0])
    np.testing.assert_array_equal(field.seed, [1, 0, 0, 0])
    times, seeds = routing.top_k(graph_t, np.array([3, 0]), np.array([10.0, 0.0]), 2, 1e9)
    np.testing.assert_allclose(times[1], [130.0, 720.0])
    np.testing.assert_array_equal(seeds[1], [0, 1])
    # a bound leaves B out of node 1's list
    times, seeds = routing.top_k(graph_t, np.array([3, 0]), np.array([10.0, 0.0]), 2, 300)
    assert times[1, 1] == np.inf and seeds[1, 1] == -1
    # predecessors lead from node 1 towards the offer: 1 → 2 → 3
    assert list(routing.walk_back(field.pred, 1, net.n_nodes)) == [1, 2, 3]
    coords = routing.EdgeLookup(net).path_coords(np.array([1, 2, 3]))
    np.testing.assert_allclose(coords[:, 0], net.lon[[1, 2, 3]])


def test_tiny_graph_times_to_stops_at_its_targets_and_keeps_the_limit() -> None:
    graph = _tiny().csr()
    # from node 1: 2 after 60 s, 3 after 120 s (one-way), 0 only via 3 → 0 (+600 s)
    np.testing.assert_array_equal(routing.times_to(graph, 1, np.array([3, 0, -1, 1]), 1e9),
                                  [120.0, 720.0, np.inf, 0.0])
    # within 300 s node 0 is out of reach, as scipy's bounded run says
    np.testing.assert_array_equal(routing.times_to(graph, 1, np.array([3, 0]), 300.0),
                                  dijkstra(graph, indices=1, limit=300.0)[[3, 0]])


def test_times_to_equals_scipy_on_the_real_networks(engine: Accessibility) -> None:
    """The early-stopping search gives bit for bit scipy's times at its targets: 20 random
    sources per street mode, three targets each within and one beyond the limit."""
    rng = np.random.default_rng(5)
    for mode in ("walk", "bike", "car"):
        graph = engine.network(mode).csr()
        for _ in range(20):
            source, limit = int(rng.integers(graph.shape[0])), float(rng.choice([600, 1800]))
            full = dijkstra(graph, indices=source, limit=limit)
            inside, beyond = np.flatnonzero(np.isfinite(full)), np.flatnonzero(~np.isfinite(full))
            targets = np.concatenate([rng.choice(inside, 3), rng.choice(beyond, 1)])
            np.testing.assert_array_equal(routing.times_to(graph, source, targets, limit),
                                          full[targets])


def test_tiny_graph_isochrone_cuts_edges_at_the_limit() -> None:
    net = _tiny()
    seconds = dijkstra(net.csr(), indices=0)  # 0, 60, 120, 180
    pieces = EdgeCutter(net).pieces(seconds, 90.0)
    lengths = sorted(shapely.length(pieces))
    # 0 → 1 whole (~100 m), 1 → 2 half (30 of 60 s), nothing beyond
    assert len(pieces) == 2
    assert lengths[0] == pytest.approx(lengths[1] / 2, rel=1e-6)


def test_hand_computed_coverage_and_e2sfca() -> None:
    minutes = np.array([4.0, 12.0, np.inf, 25.0])
    out = summarise(minutes, np.array([True, True, False, True]), np.array([10, 30, 20, 40]),
                    np.array(["a", "a", "a", "b"], dtype=object), "children", (5, 15), 15)
    a = out.loc["a"]
    assert a["children"] == 60
    assert a["children_within_5min_share"] == pytest.approx(10 / 60)
    assert a["children_within_15min_share"] == pytest.approx(40 / 60)
    assert a["children_mean_minutes"] == pytest.approx((4 * 10 + 12 * 30) / 40)
    assert a["children_median_minutes"] == 12.0
    assert a["children_beyond_15min"] == 20 and a["children_not_connected"] == 20
    assert out.loc["b", "children_beyond_15min"] == 40
    np.testing.assert_allclose(zone_weights(np.array([0, 10, 10.5, 30, 31, np.inf]),
                                            (10, 20, 30), (1.0, 0.68, 0.22)),
                               [1.0, 1.0, 0.68, 0.22, 0.0, 0.0])
    # two cells, two offers: cell 0 reaches both (zone 1, zone 2), cell 1 only offer 1
    access, ratio = e2sfca(np.array([[5.0, 15.0], [np.inf, 5.0]]), np.array([100, 50]),
                           np.array([10.0, 20.0]), (10, 20), (1.0, 0.5))
    np.testing.assert_allclose(ratio, [10 / 100, 20 / (100 * 0.5 + 50)])
    np.testing.assert_allclose(access, [0.1 + 0.5 * 0.2, 0.2])


# ---------------------------------------------------------------- real networks


@pytest.fixture(scope="module")
def car_nx(networks: dict[str, Network]) -> tuple[nx.MultiDiGraph, np.ndarray, list[dict]]:
    """The car network in networkx and its shortest-path lengths from 10 random sources."""
    net = networks["car"]
    rng = np.random.default_rng(4)
    sources = rng.choice(net.n_nodes, 10, replace=False)
    g = to_networkx(net, geometry=False)
    lengths = [nx.shortest_path_length(g, source=int(net.node_id[s]), weight="travel_time")
               for s in sources]
    return g, sources, lengths


def test_200_od_pairs_equal_networkx(networks: dict[str, Network], car_nx) -> None:
    net = networks["car"]
    _, sources, lengths = car_nx
    targets = np.random.default_rng(5).choice(net.n_nodes, 20, replace=False)
    graph_t = routing.transpose(net.csr())
    ours = np.array([routing.multi_source(graph_t, np.array([t]), np.zeros(1)).seconds[sources]
                     for t in targets]).T  # 10 sources × 20 targets, home → offer direction
    theirs = np.array([[lengths[i].get(int(net.node_id[t]), np.inf) for t in targets]
                       for i in range(len(sources))])
    assert np.isfinite(theirs).sum() > 150  # most pairs connected
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs))
    finite = np.isfinite(theirs)
    assert np.abs(ours[finite] - theirs[finite]).max() < 1.0  # equal to the second
    assert np.abs(ours[finite] - theirs[finite]).max() < 1e-6


def test_surface_equals_networkx_and_single_source_minimum(engine: Accessibility,
                                                           car_nx) -> None:
    surface = engine.surface("grundschule", "car")
    offers = engine.offer_set("grundschule", "car")
    net = engine.network("car")
    graph_t = routing.transpose(net.csr())
    # minimum over one run per offer (each from its node, plus its access leg)
    single = dijkstra(graph_t, indices=offers.snap.node) + offers.snap.seconds[:, None]
    np.testing.assert_allclose(surface.node_seconds, single.min(axis=0), rtol=0, atol=1e-6)
    ranked = np.sort(single, axis=0)
    clear = np.isfinite(ranked[0]) & (ranked[1] > ranked[0] + 1e-6)  # a unique nearest
    np.testing.assert_array_equal(surface.node_offer[clear], single.argmin(axis=0)[clear])
    # networkx from the homes forward to every offer: same minimum (one-ways respected)
    _, sources, lengths = car_nx
    ids = net.node_id[offers.snap.node]
    for s, dist in zip(sources, lengths, strict=True):
        expect = min(dist.get(int(i), math.inf) + a for i, a in zip(ids, offers.snap.seconds,
                                                                    strict=True))
        assert surface.node_seconds[s] == pytest.approx(expect, abs=1e-6)


def test_walk_multi_source_equals_single_source_minimum(engine: Accessibility) -> None:
    surface = engine.surface("familienzentrum", "walk")
    offers = engine.offer_set("familienzentrum", "walk")
    graph_t = routing.transpose(engine.network("walk").csr())
    single = dijkstra(graph_t, indices=offers.snap.node) + offers.snap.seconds[:, None]
    np.testing.assert_allclose(surface.node_seconds, single.min(axis=0), rtol=0, atol=1e-6)


def test_cells_keep_every_cell_and_flag_the_unconnected(engine: Accessibility) -> None:
    cells = engine.cells("grundschule", "walk")
    children = engine.cell_frame("children")
    assert len(cells) == len(children) and cells["cell_id"].is_unique
    assert cells["children_under_10"].sum() == children["children_under_10"].sum() == 24735
    assert (np.isfinite(cells["minutes"]) == cells["connected"]).all()  # walk: all connected
    assert cells.loc[cells["connected"], "offer_id"].notna().all()
    # the cut-off flags cells instead of dropping them
    strict = Accessibility(Settings(data_dir=engine.settings.data_dir,
                                    work_dir=engine.settings.work_dir,
                                    access={"snap_max_m": 40.0}),
                           offers=engine.offers, children=children,
                           inhabitants=engine.cell_frame("inhabitants"))
    far = strict.cells("grundschule", "walk")
    assert len(far) == len(cells) and (~far["connected"]).sum() > 100
    assert np.isinf(far.loc[~far["connected"], "minutes"]).all()
    assert far.loc[~far["connected"], "offer_id"].isna().all()


def test_coverage_levels_are_consistent(engine: Accessibility) -> None:
    county = engine.coverage("county", "grundschule", "bike").iloc[0]
    gemeinden = engine.coverage("gemeinde", "grundschule", "bike")
    youth = engine.coverage("youth_office", "grundschule", "bike").iloc[0]
    assert county["children"] == gemeinden["children"].sum() == 24735
    assert county["inhabitants"] == gemeinden["inhabitants"].sum()
    assert 0 < youth["children"] < county["children"]  # Stadt Göttingen has its own Jugendamt
    shares = [county[f"children_within_{m}min_share"] for m in (5, 10, 15, 20, 30)]
    assert shares == sorted(shares) and 0 < shares[0] and shares[-1] <= 1
    within15 = (gemeinden["children_within_15min_share"] * gemeinden["children"]).sum()
    assert within15 / county["children"] == pytest.approx(county["children_within_15min_share"])
    assert county["children_median_minutes"] <= county["children_p90_minutes"]
    beyond = county["children"] * (1 - county["children_within_15min_share"])
    assert county["children_beyond_15min"] == pytest.approx(beyond)


def test_nearest_many_and_single_nearest_with_routes(engine: Accessibility) -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(9.85, 10.0, 300), rng.uniform(51.50, 51.56, 300)
    table = engine.nearest_many(lon, lat, "grundschule", "bike", k=3)
    first = table[table["rank"] == 1].set_index("point")["minutes"]
    seconds, _ = engine.surface("grundschule", "bike").at(engine.snap(lon, lat, "bike"))
    np.testing.assert_allclose(first.to_numpy(), seconds[first.index] / 60, atol=1e-9)
    assert (table.groupby("point")["minutes"].diff().dropna() >= 0).all()
    one = engine.nearest(*GOETTINGEN_CENTRE, "grundschule", "walk", k=3)
    assert list(one["rank"]) == [1, 2, 3] and one["minutes"].is_monotonic_increasing
    again = engine.nearest_many([GOETTINGEN_CENTRE[0]], [GOETTINGEN_CENTRE[1]],
                                "grundschule", "walk", k=3)
    np.testing.assert_allclose(one["minutes"], again["minutes"])  # forward run = table
    cached = engine.nearest(*GOETTINGEN_CENTRE, "grundschule", "walk", k=3)  # table path
    assert list(cached["offer_id"]) == list(one["offer_id"])
    np.testing.assert_allclose(cached["minutes"], one["minutes"])
    assert cached.geometry.geom_equals(one.geometry).all()
    for route, offer_id in zip(one.geometry, one["offer_id"], strict=True):
        start, end = shapely.get_coordinates(route)[[0, -1]]
        assert tuple(start) == GOETTINGEN_CENTRE
        offer = engine.offers.set_index("id").loc[offer_id]
        assert tuple(end) == (offer["lon"], offer["lat"])
    # walking at 4.8 km/h: the route cannot be shorter than the time allows for
    lengths = gpd.GeoSeries(one.geometry, crs="EPSG:4326").to_crs("EPSG:3035").length
    assert (lengths <= one["minutes"] * 80 * 1.001 + 1).all()


def test_k_nearest_equals_per_offer_brute_force(engine: Accessibility) -> None:
    """The level-by-level k-nearest table equals one bounded Dijkstra per offer, sorted:
    for every node, and door to door for 400 random points of the county."""
    category, mode, k = "grundschule", "walk", engine.settings.access.k_max
    limit = engine.settings.access.nearest_max_min * 60.0
    offers = engine.offer_set(category, mode)
    seeds = offers.seeds
    graph_t = routing.transpose(engine.network(mode).csr())
    single = dijkstra(graph_t, indices=offers.snap.node[seeds], limit=limit) \
        + offers.snap.seconds[seeds, None]  # offers × nodes, seconds
    single[single > limit] = np.inf
    order = np.argsort(single, axis=0, kind="stable")[:k + 1].T  # nodes × (k + 1)
    ranked = np.take_along_axis(single.T, order, axis=1)
    expect, order = ranked[:, :k], order[:, :k]
    table_s, table_o = engine.engine(mode).table(category)
    np.testing.assert_allclose(table_s, expect, rtol=0, atol=1e-6)  # inf where inf
    # the same offers wherever the ranks are not tied
    reached = np.isfinite(expect)
    after = ranked[:, 1:]  # a tie with the (k + 1)-th leaves the k-th offer open
    before = np.column_stack([np.full(len(expect), -np.inf), expect[:, :-1]])
    with np.errstate(invalid="ignore"):  # inf - inf beyond the reached ranks
        clear = reached & (after - expect > 1e-6) & (expect - before > 1e-6)
    assert reached.sum() > 100_000 and clear[reached].mean() > 0.9
    np.testing.assert_array_equal(table_o[clear], seeds[order][clear])
    grid = engine.data.raster_grid()
    pick = np.random.default_rng(11).choice(len(grid), 400, replace=False)
    lon, lat = to_lonlat(grid["x"].to_numpy()[pick], grid["y"].to_numpy()[pick])
    snap = engine.snap(lon, lat, mode)
    found = engine.nearest_many(lon, lat, category, mode, k)
    assert found["point"].nunique() >= 250  # the rest: no Grundschule within the hour
    for p, rows in found.groupby("point"):
        node = snap.node[p]
        want = expect[node][np.isfinite(expect[node])] + snap.seconds[p]
        np.testing.assert_allclose(rows["minutes"], want / 60.0, rtol=0, atol=1e-9)
        sure = clear[node][:len(rows)]
        want_ids = offers.ids[seeds[order[node, :len(rows)]]]
        assert list(rows["offer_id"][sure]) == list(want_ids[sure])


def test_isochrones_follow_the_streets(engine: Accessibility) -> None:
    iso = engine.isochrones(*GOETTINGEN_CENTRE, "walk", [5, 10, 15])
    assert list(iso["minutes"]) == [15.0, 10.0, 5.0]
    metric = iso.to_crs("EPSG:3035")
    assert (metric.area.diff().dropna() < 0).all()  # larger budget, larger area
    assert metric.geometry.iloc[1].buffer(1).contains(metric.geometry.iloc[2])
    origin = shapely.Point(*to_metric(*GOETTINGEN_CENTRE))
    assert metric.geometry.iloc[2].contains(origin)
    # 10 min at 4.8 km/h reaches at most 800 m (+ buffer): far smaller than the circle
    assert metric.geometry.iloc[1].area < math.pi * 850**2 * 0.8
    # nodes reached within 9.5 min lie inside the 10-min polygon
    net = engine.network("walk")
    snap = engine.snap(*GOETTINGEN_CENTRE, "walk")
    seconds = dijkstra(net.csr(), indices=int(snap.node[0])) + snap.seconds[0]
    near = seconds < 9.5 * 60
    x, y = to_metric(net.lon[near], net.lat[near])
    assert shapely.contains_xy(metric.geometry.iloc[1], x, y).mean() > 0.99
    assert json.loads(iso.to_json())["type"] == "FeatureCollection"


def test_what_if_add_and_remove_equal_full_recomputation(engine: Accessibility) -> None:
    offers = engine.offer_set("familienzentrum", "bike")
    site = (9.75, 51.42)  # a village in the south-west
    result = engine.what_if("familienzentrum", "bike", add=[site], remove=[offers.ids[0]])
    assert result.seconds < 1.0
    graph_t = engine.engine("bike").graph.graph_t
    snap = engine.snap(*site, "bike")
    keep = offers.seeds[1:]
    full = routing.multi_source(graph_t, np.append(offers.snap.node[keep], snap.node),
                                np.append(offers.snap.seconds[keep], snap.seconds))
    candidates = engine.engine("bike").graph.index.candidates
    np.testing.assert_allclose(result.surface.node_seconds[candidates],
                               full.seconds[candidates], atol=1e-6)
    gained = result.gemeinden["children_within_15min_change"]
    assert gained.abs().sum() > 0 and len(result.cells) > 0
    assert set(result.cells["offer_id"].dropna()) <= {*offers.ids[1:], "new-1"}
    # only adding never makes anything slower
    add_only = engine.what_if("familienzentrum", "bike", add=[site])
    base = engine.surface("familienzentrum", "bike").node_seconds
    assert (add_only.surface.node_seconds <= base).all()
    assert (add_only.gemeinden["children_within_15min_change"] >= 0).all()


def test_e2sfca_conserves_supply(engine: Accessibility) -> None:
    supply = engine.supply("grundschule", "walk")
    assert supply.basis.startswith("offers (capacity unknown")
    served = supply.offers["ratio"].notna()
    total = (supply.cells["access"] * supply.cells["children_under_10"]).sum()
    assert total == pytest.approx(supply.offers.loc[served, "supply"].sum())


def test_compute_writes_outputs_and_skips_empty_categories(engine: Accessibility,
                                                           settings: Settings) -> None:
    summary = compute(settings, engine)
    json.dumps(summary)
    assert "kita" in summary["skipped"]  # no Kita among the school/family offers
    assert summary["surfaces"] == 3 * len(engine.categories())
    share = summary["coverage"]["grundschule"]["car"]["children_within_15min_share"]
    assert 0.9 < share <= 1.0
    folder = settings.processed_dir / settings.region / "access"
    with rasterio.open(folder / "minutes_grundschule_walk.tif") as src:
        assert src.crs.to_epsg() == 3035 and src.res == (100.0, 100.0)
        minutes = src.read(1)
    assert 0 <= minutes[minutes >= 0].min() and (minutes >= 0).sum() > 100_000
    cells = gpd.read_parquet(folder / "cells.parquet")
    assert {"cell_id", "category", "mode", "minutes", "offer_id", "grid"} <= set(cells.columns)
    children = cells[(cells["grid"] == "children") & (cells["category"] == "grundschule")
                     & (cells["mode"] == "car")]
    assert children["children_under_10"].sum() == 24735 and cells.crs.to_epsg() == 3035
    need = cells[(cells["grid"] == "need") & (cells["category"] == "grundschule")
                 & (cells["mode"] == "car")]
    assert need["single_parent_families"].sum() == 3_889
    # the county's single-parent coverage in the summary is the stored cells' share
    within = need.loc[need["minutes"] <= 15, "single_parent_families"].sum()
    assert summary["coverage"]["grundschule"]["car"][
        "single_parent_families_within_15min_share"] == round(within / 3_889, 4)
    # the manifest lists every output with its hash; a later reader can trust the folder
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert {"cells.parquet", "coverage.parquet", "minutes_grundschule_walk.tif"} <= \
        set(manifest["outputs"])


def test_bad_input_names_the_value(engine: Accessibility) -> None:
    with pytest.raises(AccessInputError, match="'schwimmbad'"):
        engine.surface("schwimmbad", "walk")
    with pytest.raises(AccessInputError, match="'tram'"):
        engine.surface("grundschule", "tram")
    with pytest.raises(EmptyResultError, match="'kita'"):
        engine.surface("kita", "walk")
    with pytest.raises(RegionError, match=r"lon 13\.40000, lat 52\.52000"):
        engine.nearest(13.4, 52.52, "grundschule", "walk")
    with pytest.raises(RegionError, match="outside"):
        engine.isochrones(8.0, 50.0, "car", [10])
    with pytest.raises(AccessInputError, match="k=9"):
        engine.nearest(*GOETTINGEN_CENTRE, "grundschule", "walk", k=9)
    with pytest.raises(AccessInputError, match="'no-such-offer'"):
        engine.what_if("grundschule", "walk", remove=["no-such-offer"])
    with pytest.raises(AccessInputError, match="level 'kreis'"):
        engine.coverage("kreis", "grundschule", "walk")
