"""Kita → Grundschule transition on the real county data, checked against direct Dijkstra runs."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from geo.engine.access import Accessibility
from geo.networks.snap import to_metric
from geo.products import transition
from geo.vocabulary import METRIC_CRS


@pytest.fixture(scope="module")
def kitas(acc: Accessibility):
    return transition.kita_schools(acc)


@pytest.fixture(scope="module")
def cells(acc: Accessibility):
    return transition.children_transition(acc)


def test_every_active_kita_per_mode(acc: Accessibility, kitas) -> None:
    offers = acc.offers
    active = offers[(offers["category"] == "kita") & (offers["status"] == "active")]
    # the county's Kita POIs (2021 tiles, city replaced by 2026): 216, less the 6 Horte that
    # are their own category now (tests/test_offers.py counts them from the raw POIs) and the
    # 3 duplicates merged away (tests/test_offer_quality.py lists the pairs)
    assert len(active) == 207
    assert len(kitas) == 3 * len(active)
    for mode, part in kitas.groupby("mode"):
        assert set(part["kita_id"]) == set(active["id"])
        assert np.isfinite(part["minutes"]).all(), mode  # every Kita reaches a school
    wide = kitas.pivot(index="kita_id", columns="mode", values="minutes")
    assert (wide["car"] < wide["bike"]).mean() > 0.9
    assert (wide["bike"] < wide["walk"]).mean() > 0.95


def test_nearest_school_equals_direct_dijkstra(acc: Accessibility, kitas) -> None:
    """Kita → every school by a forward Dijkstra from the Kita's node: the minimum (with
    both access legs) is the reported school and time."""
    mode = "walk"
    net = acc.network(mode)
    k = acc.offer_set("kita", mode)
    s = acc.offer_set("grundschule", mode)
    rows = np.linspace(0, len(k.ids) - 1, 8).astype(int)
    dist = dijkstra(net.csr(), indices=k.snap.node[rows])
    total = k.snap.seconds[rows, None] + dist[:, s.snap.node[s.seeds]] + s.snap.seconds[s.seeds]
    got = kitas[kitas["mode"] == mode].set_index("kita_id")
    for i, row in enumerate(rows):
        best = int(np.argmin(total[i]))
        assert got.loc[k.ids[row], "minutes"] == pytest.approx(total[i, best] / 60.0, abs=1e-9)
        assert got.loc[k.ids[row], "grundschule_id"] == s.ids[s.seeds[best]]


def test_offer_gemeinden_contain_or_nearest(acc: Accessibility) -> None:
    gem = transition.offer_gemeinden(acc)
    polys = acc.units("gemeinde").set_index("ags").geometry
    x, y = to_metric(acc.offers["lon"].to_numpy(), acc.offers["lat"].to_numpy())
    points = shapely.points(x, y)
    inside = shapely.contains(polys.loc[gem.to_numpy()].values, points)
    assert inside.mean() > 0.99
    # the few outside the generalised VG5000 polygons get the nearest Gemeinde
    for p, ags in zip(points[~inside], gem.to_numpy()[~inside], strict=True):
        assert polys.distance(p).idxmin() == ags
    assert acc.units("gemeinde").crs == METRIC_CRS


def test_children_transition_flags_and_pairs(acc: Accessibility, cells) -> None:
    settings = acc.settings
    assert cells["children_under_10"].sum() == 24_735  # Zensus 2011 under-10s of the county
    kita = acc.cells("kita", "walk")
    school = acc.cells("grundschule", "walk")
    assert (cells["kita_minutes"].to_numpy() == kita["minutes"].to_numpy()).all()
    assert (cells["grundschule_id"].to_numpy() == school["offer_id"].to_numpy()).all()
    limit = settings.report.transition_max_min
    far = ~(cells["kita_grundschule_minutes"] <= limit)
    assert (cells["far_apart"] == far).all()
    other = cells["kita_gemeinde_ags"] != cells["grundschule_gemeinde_ags"]
    assert (cells["other_gemeinde"] == other).all()
    assert (cells["affected"] == (far | other)).all()
    affected = cells.loc[cells["affected"], "children_under_10"].sum()
    assert 0 < affected < 24_735
    # pair times: forward Dijkstra from the Kita's node to the school's node
    net = acc.network("walk")
    k = acc.offer_set("kita", "walk")
    s = acc.offer_set("grundschule", "walk")
    sample = cells.drop_duplicates(["kita_id", "grundschule_id"]).iloc[::40]
    kidx = {v: i for i, v in enumerate(k.ids)}
    sidx = {v: i for i, v in enumerate(s.ids)}
    for r in sample.itertuples():
        a, b = kidx[r.kita_id], sidx[r.grundschule_id]
        d = dijkstra(net.csr(), indices=int(k.snap.node[a]),
                     limit=settings.access.nearest_max_min * 60)[s.snap.node[b]]
        if d + s.snap.seconds[b] <= settings.access.nearest_max_min * 60:
            expect = (k.snap.seconds[a] + d + s.snap.seconds[b]) / 60.0
            assert r.kita_grundschule_minutes == pytest.approx(expect, abs=1e-9)
        else:  # beyond the search radius
            assert np.isinf(r.kita_grundschule_minutes)
