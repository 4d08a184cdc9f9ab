"""Greedy best new sites on the real county data: brute force on a small real subset, and the
engine's coverage with the proposed site added."""

from __future__ import annotations

from itertools import combinations
from math import e

import numpy as np
import pytest

from geo.engine.access import Accessibility
from geo.products import siting
from geo.settings import Settings
from geo.sources.offers import SCHOOLS_FILE, school_offers, to_frame

CATEGORY, MODE, MINUTES = "grundschule", "walk", 20.0


@pytest.fixture(scope="module")
def schools(settings: Settings):
    """The real school register (jedeschule 2017): Grundschulen and other schools."""
    return to_frame(school_offers(settings.data_dir / settings.region / SCHOOLS_FILE))


@pytest.fixture(scope="module")
def acc(settings: Settings, networks: dict, schools) -> Accessibility:
    return Accessibility(settings, offers=schools)


@pytest.fixture(scope="module")
def problem(acc: Accessibility):
    """Uncovered children (Grundschule on foot, 20 min), node candidates and the matrix."""
    need = siting.demand(acc, CATEGORY, MODE, MINUTES)
    nodes = siting.node_candidates(acc, MODE, need, MINUTES,
                                   acc.settings.report.site_candidate_spacing_m)
    matrix = siting.coverage_matrix(acc, MODE, need, nodes, np.zeros(len(nodes)), MINUTES)
    return need, nodes, matrix


def test_demand_is_the_engines_uncovered_children(acc: Accessibility, problem) -> None:
    need, _, _ = problem
    cells = acc.cells(CATEGORY, MODE)
    within = cells["minutes"] <= MINUTES
    assert need.total == cells["children_under_10"].sum() == 24_735
    assert need.covered == cells.loc[within, "children_under_10"].sum()
    table = acc.coverage("county", CATEGORY, MODE, minutes=[int(MINUTES)])
    assert need.covered / need.total == pytest.approx(
        table["children_within_20min_share"].iloc[0], abs=1e-12)
    assert (need.cells["minutes"] > MINUTES).all() and need.cells["connected"].all()


def test_greedy_against_brute_force(problem) -> None:
    """On the 14 candidates covering most children alone (they compete for the same
    villages), every pick and gain is checked against exhaustive search."""
    need, _, matrix = problem
    weight = need.cells["children_under_10"].to_numpy(float)
    single = matrix.astype(float) @ weight
    top = np.argsort(-single, kind="stable")[:14]
    sub = matrix[top].toarray()
    picks, gains = siting.greedy(matrix[top], weight, 3)

    def covered(rows: tuple[int, ...]) -> float:
        return float(weight[sub[list(rows)].any(axis=0)].sum())

    best = {k: max(covered(c) for c in combinations(range(len(top)), k)) for k in (1, 2, 3)}
    assert gains[0] == best[1] == single[top].max()
    for k in (2, 3):
        assert covered(tuple(picks[:k])) == pytest.approx(gains[:k].sum())
        assert (1 - 1 / e) * best[k] <= gains[:k].sum() <= best[k]
    # each gain is the best marginal gain given the previous picks
    for k in (1, 2):
        base = covered(tuple(picks[:k]))
        assert gains[k] == max(covered((*picks[:k], j)) - base for j in range(len(top)))


def test_matrix_rows_equal_single_source_runs(acc: Accessibility, problem) -> None:
    """A candidate covers exactly the uncovered cells within the time of a forward run."""
    from scipy.sparse.csgraph import dijkstra

    need, nodes, matrix = problem
    graph = acc.network(MODE).csr()
    limit = MINUTES * 60
    for row in np.linspace(0, len(nodes) - 1, 5).astype(int):
        back = dijkstra(graph.T.tocsr(), indices=int(nodes[row]), limit=limit)
        expect = np.flatnonzero(back[need.node] + need.seconds <= limit)
        got = matrix[row].indices
        assert set(got) == set(expect)


def test_matrix_same_from_either_side(acc: Accessibility, problem) -> None:
    """Fewer candidates than cell nodes: runs from the candidates; more: from the cells."""
    need, nodes, matrix = problem
    assert len(nodes) > len(np.unique(need.node))  # the fixture's matrix ran from the cells
    rows = np.arange(0, len(nodes), max(1, len(nodes) // 50))
    few = nodes[rows]
    assert len(few) <= len(np.unique(need.node))
    from_candidates = siting.coverage_matrix(acc, MODE, need, few, np.zeros(len(few)), MINUTES)
    assert (from_candidates != matrix[rows]).nnz == 0
    assert from_candidates.nnz > 0


def test_best_site_gain_equals_engine_coverage(settings: Settings, acc: Accessibility,
                                               schools) -> None:
    """Candidates = the other schools (real points); adding the first proposed site as a
    Grundschule raises the engine's children within 20 min by exactly the stated gain."""
    other = schools[schools["category"] == "schule"].reset_index(drop=True)
    result = siting.best_sites(acc, CATEGORY, MODE, MINUTES, 2,
                               candidates=(other["lon"].to_numpy(), other["lat"].to_numpy()))
    assert result.candidates == len(other)
    first = result.sites.iloc[0]
    assert first["children_gained"] > 0
    assert list(result.sites["children_gained"]) == sorted(result.sites["children_gained"],
                                                           reverse=True)
    added = schools.copy()
    added.loc[schools["id"] == other.loc[first["candidate"], "id"], "category"] = CATEGORY
    after = Accessibility(settings, offers=added).cells(CATEGORY, MODE)
    before = acc.cells(CATEGORY, MODE)
    gained = (after.loc[after["minutes"] <= MINUTES, "children_under_10"].sum()
              - before.loc[before["minutes"] <= MINUTES, "children_under_10"].sum())
    assert gained == first["children_gained"]
    summary = result.summary()
    assert summary["sites"][0]["children_gained"] == first["children_gained"]
    assert summary["children_covered_before"] == result.covered_before


def test_bad_input(acc: Accessibility) -> None:
    from geo.engine.access import AccessInputError

    with pytest.raises(AccessInputError, match="minutes"):
        siting.best_sites(acc, CATEGORY, MODE, 0, 3)
    with pytest.raises(AccessInputError, match="category"):
        siting.best_sites(acc, "schwimmbad", MODE, 15, 3)


def test_cli_sites_equals_function(settings: Settings, acc: Accessibility,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``erreichbar sites`` (full catalogue) proposes the same Grundschule sites as the
    function on the school register alone: the Grundschulen are the same offers."""
    import json

    from typer.testing import CliRunner

    from geo.cli import app

    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(settings.work_dir))
    result = CliRunner().invoke(app, ["sites", "--category", CATEGORY, "--mode", MODE,
                                      "--minutes", "20", "--k", "2",
                                      "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout.strip().splitlines()[-1])
    expect = siting.best_sites(acc, CATEGORY, MODE, MINUTES, 2).summary()
    assert [s["node"] for s in got["sites"]] == [s["node"] for s in expect["sites"]]
    assert [s["children_gained"] for s in got["sites"]] == \
        [s["children_gained"] for s in expect["sites"]]
    assert got["children_total"] == 24_735
