"""The prevention-chain matrix on the real county data, checked against computations of its
own: the engine's nearest-offer cells (pandas), forward Dijkstra runs from the homes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from scipy.sparse.csgraph import dijkstra

from geo.engine.access import Accessibility, AccessInputError
from geo.errors import RegionError
from geo.products import chain, transition
from geo.settings import ChainStage

#: Rosdorf: town next to the city, many Kitas in reach; Bad Grund (Harz): rural, planned
#: Familienzentrum; Seeburg: small village.
GEMEINDEN = ("03159029", "03159002", "03159032")
TO_LONLAT = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def matrix(chain_data: chain.ChainData) -> pd.DataFrame:
    return chain.chain_matrix(chain_data, ["walk", "bike"])


def _eligible(acc: Accessibility, stage: ChainStage) -> pd.DataFrame:
    """Active offers of the stage, by the ages written in the settings (own test code)."""
    cs = acc.settings.chain
    offers = acc.offers[acc.offers["status"] == "active"]
    offers = offers[offers["category"].isin(stage.categories)]
    lo, hi = [], []
    for o in offers.itertuples():
        a, b = cs.category_ages[o.category]
        for rule in cs.name_ages:
            if (rule.category == o.category and re.search(rule.pattern, o.name, re.I)
                    and not re.search(rule.unless, o.name, re.I)):
                a, b = rule.age_from, rule.age_to
                break
        lo.append(a)
        hi.append(b)
    keep = (np.array(lo) < stage.age_to) & (np.array(hi) > stage.age_from)
    return offers[keep]


def _stage_minutes(acc: Accessibility, stage: ChainStage, mode: str) -> np.ndarray:
    """Nearest offer of the stage per children cell from ``Accessibility.cells``."""
    eligible = _eligible(acc, stage)
    active = acc.offers[(acc.offers["status"] == "active")
                        & acc.offers["category"].isin(stage.categories)]
    engine = acc
    if len(eligible) < len(active):
        left_out = set(active["id"]) - set(eligible["id"])
        engine = Accessibility(acc.settings,
                               offers=acc.offers[~acc.offers["id"].isin(left_out)],
                               children=acc.cell_frame("children"))
    minutes = [engine.cells(c, mode)["minutes"].to_numpy()
               for c in stage.categories if (eligible["category"] == c).any()]
    return np.min(minutes, axis=0)


def _median(minutes: np.ndarray, weight: np.ndarray) -> float:
    ok = np.isfinite(minutes)
    order = np.argsort(minutes[ok], kind="stable")
    m, w = minutes[ok][order], weight[ok][order].astype(float)
    return float(m[np.searchsorted(np.cumsum(w), 0.5 * w.sum() - 1e-9)]) if len(m) else np.nan


def _reached_offers(acc: Accessibility, stage: ChainStage, mode: str, ags: str) -> set[str]:
    """Offers within the budget of some populated cell of the Gemeinde: forward Dijkstra
    from every cell's node (not the per-offer runs of the code under test)."""
    cells = acc.cells(stage.categories[0], mode)
    cells = cells[cells["gemeinde_ags"] == ags]
    lon, lat = TO_LONLAT.transform(cells["x"].to_numpy(), cells["y"].to_numpy())
    snap = acc.snap(lon, lat, mode)
    ok = snap.connected
    limit = stage.budget_min * 60.0
    dist = dijkstra(acc.network(mode).csr(), indices=snap.node[ok], limit=limit)
    dist += snap.seconds[ok, None]
    eligible = set(_eligible(acc, stage)["id"])
    found: set[str] = set()
    for category in stage.categories:
        offers = acc.offer_set(category, mode)
        seeds = offers.seeds
        seconds = dist[:, offers.snap.node[seeds]] + offers.snap.seconds[seeds]
        hit = (seconds <= limit).any(axis=0)
        found |= set(offers.ids[seeds][hit]) & eligible
    return found


@pytest.mark.parametrize("mode", ["walk", "bike"])
@pytest.mark.parametrize("ags", GEMEINDEN)
def test_offer_stages_equal_independent_computation(acc, chain_data, matrix, mode, ags) -> None:
    children = acc.cell_frame("children")
    inside = (children["gemeinde_ags"] == ags).to_numpy()
    weight = children["children_under_10"].to_numpy()[inside]
    for stage in acc.settings.chain.stages:
        if stage.kind != "offers":
            continue
        row = matrix[(matrix["gemeinde_ags"] == ags) & (matrix["stage"] == stage.key)
                     & (matrix["mode"] == mode)].iloc[0]
        minutes = _stage_minutes(acc, stage, mode)[inside]
        share = weight[minutes <= stage.budget_min].sum() / weight.sum()
        assert row["children"] == pytest.approx(weight.sum())
        assert row["reach_share"] == pytest.approx(share, abs=1e-12), stage.key
        assert row["median_minutes"] == pytest.approx(_median(minutes, weight), rel=1e-9,
                                                      nan_ok=True)
        assert bool(row["gap"]) == (share < acc.settings.chain.gap_share)
        offers = _reached_offers(acc, stage, mode, ags)
        assert row["offers"] == len(offers), stage.key
        reach = chain_data.reachable(stage, mode)
        assert set(reach.loc[reach["gemeinde_ags"] == ags, "offer_id"]) == offers
        traeger = acc.offers.set_index("id").loc[sorted(offers), "traeger"].dropna()
        assert row["traeger"] == traeger.str.strip().nunique()


@pytest.mark.parametrize("ags", GEMEINDEN)
def test_transition_stage_equals_nearest_kita_and_school(acc, matrix, ags) -> None:
    stage = next(s for s in acc.settings.chain.stages if s.kind == "transition")
    mode = "walk"
    kita, school = acc.cells("kita", mode), acc.cells("grundschule", mode)
    gem = transition.offer_gemeinden(acc)
    inside = (kita["gemeinde_ags"] == ags).to_numpy()
    k, s = kita[inside], school[inside]
    kitas, schools = acc.offer_set("kita", mode), acc.offer_set("grundschule", mode)
    krow = pd.Index(kitas.ids).get_indexer(k["offer_id"])
    srow = pd.Index(schools.ids).get_indexer(s["offer_id"])
    dist = dijkstra(acc.network(mode).csr(), indices=kitas.snap.node[krow])
    apart = (kitas.snap.seconds[krow] + dist[np.arange(len(krow)), schools.snap.node[srow]]
             + schools.snap.seconds[srow]) / 60.0
    # transition.py searches Kita → school pairs within the nearest-offer radius only
    apart[apart > acc.settings.access.nearest_max_min] = np.inf
    same = gem.loc[k["offer_id"]].to_numpy() == gem.loc[s["offer_id"]].to_numpy()
    weight = k["children_under_10"].to_numpy()
    intact = same & (apart <= stage.budget_min)
    row = matrix[(matrix["gemeinde_ags"] == ags) & (matrix["stage"] == stage.key)
                 & (matrix["mode"] == mode)].iloc[0]
    assert row["reach_share"] == pytest.approx(weight[intact].sum() / weight.sum(), abs=1e-9)
    assert row["median_minutes"] == pytest.approx(_median(apart, weight), rel=1e-6, nan_ok=True)
    ids = set(k["offer_id"][intact]) | set(s["offer_id"][intact])
    assert row["offers"] == len(ids)


def test_per_offer_reach_agrees_with_nearest_offer_surface(acc, chain_data) -> None:
    for category, mode, budget in (("kita", "walk", 15.0), ("familienzentrum", "bike", 30.0)):
        reach = chain_data.reach(category, mode, budget)
        best = reach.minutes.min(axis=1)
        cells = acc.cells(category, mode)["minutes"].to_numpy()
        within = cells <= budget
        assert np.array_equal(np.isfinite(best), within)
        np.testing.assert_allclose(best[within], cells[within], rtol=1e-9, atol=1e-9)
        nearest = acc.cells(category, mode)["offer_id"].to_numpy()[within]
        col = pd.Index(reach.offer_ids).get_indexer(nearest)
        rows = np.flatnonzero(within)
        np.testing.assert_allclose(reach.minutes[rows, col], best[within], atol=1e-9)


def test_ages_come_from_offer_name_or_category(acc, chain_data) -> None:
    ages = chain_data.ages
    offers = acc.offers.set_index("id")
    krippen = offers.index[offers["name"].str.contains("krippe", case=False)
                           & ~offers["name"].str.contains("kita|kindergarten|kindertages",
                                                          case=False)
                           & (offers["category"] == "kita")]
    assert len(krippen) > 0
    assert (ages.loc[krippen, "age_source"] == "name").all()
    assert (ages.loc[krippen, ["age_from", "age_to"]].to_numpy() == [0.0, 3.0]).all()
    # Horte are a category of their own now (6 in the catalogue), 6–10 by the category
    horte = offers.index[offers["category"] == "hort"]
    assert len(horte) == 6
    assert (ages.loc[horte, "age_source"] == "category").all()
    assert (ages.loc[horte, ["age_from", "age_to"]].to_numpy() == [6.0, 10.0]).all()
    plain = offers.index[offers["category"] == "beratung"]
    assert (ages.loc[plain, "age_source"] == "category").all()
    own = acc.offers.copy()
    own.loc[own.index[0], ["age_from", "age_to"]] = [1.0, np.nan]
    mine = chain.offer_ages(own, acc.settings)
    first = mine.loc[own["id"].iloc[0]]
    assert first["age_source"] == "offer" and first["age_from"] == 1.0
    assert first["age_to"] == acc.settings.chain.category_ages[own["category"].iloc[0]][1]


def test_planned_familienzentren_only_add_reach(acc, matrix) -> None:
    planned = acc.offers[(acc.offers["category"] == "familienzentrum")
                         & (acc.offers["status"] == "planned")]
    assert len(planned) == 2
    alle = matrix[matrix["stage"] == "alle"]
    assert alle["reach_share_with_planned"].notna().all()
    assert (alle["reach_share_with_planned"] >= alle["reach_share"] - 1e-12).all()
    assert (alle["reach_share_with_planned"] > alle["reach_share"] + 1e-9).any()
    others = matrix[matrix["stage"] != "alle"]
    assert others["reach_share_with_planned"].isna().all()


def test_gemeinde_chain_json(chain_data, matrix) -> None:
    answer = chain.gemeinde_chain(chain_data, "bad grund", "bike")
    json.dumps(answer, allow_nan=False)
    assert answer["gemeinde"]["ags"] == "03159002"
    rows = matrix[(matrix["gemeinde_ags"] == "03159002") & (matrix["mode"] == "bike")]
    assert [s["stage"] for s in answer["stages"]] == rows["stage"].tolist()
    assert answer["gaps"] == rows.loc[rows["gap"], "stage"].tolist()
    with pytest.raises(RegionError):
        chain.gemeinde_chain(chain_data, "Atlantis", "bike")
    with pytest.raises(AccessInputError):
        chain.gemeinde_chain(chain_data, "03159002", "car")


def test_transit_without_timetable_is_skipped_with_the_reason(chain_data) -> None:
    table = chain.chain_matrix(chain_data, ["walk", "transit"])
    assert set(table["mode"]) == {"walk"}
    assert "gtfs load" in chain_data.skipped["transit"]


def test_modes_are_told_apart_by_engine_capability(acc: Accessibility) -> None:
    """The chain asks the engine what a mode can do, never its name: street modes run on
    their own network (exact reach, what-if, transition), transit does not; a missing
    optional mode gives its loader's message, a street mode is always there."""
    import inspect

    assert [acc.engine(m).has_network for m in ("walk", "bike", "car", "transit")] == [
        True, True, True, False]
    assert acc.missing("walk") is None
    assert "gtfs load" in str(acc.missing("transit"))
    source = inspect.getsource(chain)
    assert "== Mode.transit" not in source and "!= Mode.transit" not in source


def test_write_chain_outputs(settings, acc, tmp_path: Path) -> None:
    summary = chain.write_chain(settings, acc, gemeinde="Rosdorf", modes=["walk", "bike"],
                                map_dir=tmp_path)
    json.dumps(summary, allow_nan=False)
    table = pd.read_parquet(chain.chain_dir(settings) / "chain_matrix.parquet")
    csv = pd.read_csv(chain.chain_dir(settings) / "chain_matrix.csv", dtype={"gemeinde_ags": str})
    assert len(table) == len(csv) == 40 * 6 * 2
    assert list(table.columns) == list(chain.COLUMNS)
    bike = table[table["mode"] == "bike"]
    gaps = bike.groupby("gemeinde_ags")["gap"].sum()
    assert [g["gaps"] for g in summary["most_gaps"]["bike"]] == \
        sorted(gaps.to_numpy(), reverse=True)[:5]
    page = (tmp_path / "praeventionskette-bike.html").read_text("utf-8")
    assert "Bad Grund (Harz)" in page and "OpenStreetMap" in page
    assert summary["gemeinde"]["walk"]["gemeinde"]["name"] == "Rosdorf"


@pytest.mark.parametrize("ags", GEMEINDEN[:2])
def test_guide_lists_exactly_the_offers_in_budget(settings, acc, chain_data, ags, tmp_path) -> None:
    from geo.products import guide

    summary = guide.write_guide(settings, ags, "html", tmp_path, data=chain_data)
    page = Path(summary["file"]).read_text("utf-8")
    mode = settings.chain.map_mode
    for stage in settings.chain.stages:
        if stage.kind != "offers":
            continue
        section = re.search(rf'data-stage="{stage.key}">(.*?)</section>', page, re.S)
        assert section is not None
        listed = set(re.findall(r'data-offer="([^"]+)"', section.group(1)))
        assert listed == _reached_offers(acc, stage, mode, ags), stage.key
        assert summary["offers"][stage.key] == len(listed)


def test_guide_pdf_renders(settings, chain_data, tmp_path) -> None:
    import pypdf

    from geo.products import guide

    summary = guide.write_guide(settings, "Bad Grund", "pdf", tmp_path, data=chain_data)
    reader = pypdf.PdfReader(summary["file"])
    assert len(reader.pages) >= 1
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Familienwegweiser Bad Grund (Harz)" in text


def test_chain_section_renders_in_a_report_template(chain_data, matrix) -> None:
    from geo.products import report

    unit = chain_data.gemeinden.loc["03159002", "unit_ags"]
    context = chain.chain_section(chain_data, unit, "bike")
    env = report.environment()
    page = env.from_string('{% extends "base.html" %}{% block content %}'
                           '{% include "chain_section.html" %}{% endblock %}').render(
        chain=context, title="t", date="d", sources=[], parameters=[], census="c")
    bike = matrix[(matrix["mode"] == "bike") & (matrix["gemeinde_ags"] == "03159002")]
    for r in bike.itertuples():
        key = f'data-key="chain|03159002|{r.stage}|bike" data-value="{float(r.reach_share)!r}"'
        assert key in page
