"""Need-weighted reach on the real county data: coverage, the priority table and best sites
weighted by single-parent families, each against an independent computation from cells()."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.cli import app
from geo.engine.access import Accessibility
from geo.errors import AccessInputError
from geo.products import priority, siting
from geo.settings import Settings
from geo.vocabulary import Weight

SINGLE = Weight.single_parent_families.value


def _share_within(cells: pd.DataFrame, weight: str, minutes: float, key: str) -> pd.Series:
    w = cells[weight].fillna(0.0)
    within = w.where(cells["minutes"] <= minutes, 0.0)
    return within.groupby(cells[key]).sum() / w.groupby(cells[key]).sum()


def test_need_cells_carry_the_county_totals(acc: Accessibility) -> None:
    cells = acc.cells("familienzentrum", "walk", weight=SINGLE)
    assert len(cells) == len(acc.cell_frame("need"))
    # the county sums of the data directory's extracts (Zensus 2011, 100 m)
    assert cells[SINGLE].sum() == 3_889
    assert cells["families_with_minors"].sum() == 24_756
    assert cells["foreign_nationals"].sum() == 16_375


@pytest.mark.parametrize("category,mode", [("familienzentrum", "walk"), ("kita", "bike")])
def test_coverage_by_single_parents_equals_cells(acc: Accessibility, category: str,
                                                 mode: str) -> None:
    cells = acc.cells(category, mode, weight=SINGLE)
    for level, key in (("gemeinde", "gemeinde_ags"), ("county", None)):
        table = acc.coverage(level, category, mode, minutes=[15], weight=SINGLE)
        got = table.set_index("ags")[f"{SINGLE}_within_15min_share"]
        if key is None:
            w = cells[SINGLE].fillna(0.0)
            expect = pd.Series([(w[cells["minutes"] <= 15]).sum() / w.sum()],
                               index=[table["ags"].iloc[0]])
        else:
            expect = _share_within(cells, SINGLE, 15, key)
        np.testing.assert_allclose(got.reindex(expect.index).to_numpy(), expect.to_numpy(),
                                   rtol=0, atol=1e-12)
        # the children columns are those of the plain table: a weight only adds columns
        plain = acc.coverage(level, category, mode, minutes=[15])
        np.testing.assert_array_equal(table["children_within_15min_share"],
                                      plain["children_within_15min_share"])


def test_unknown_weight_is_a_clear_error(acc: Accessibility) -> None:
    with pytest.raises(AccessInputError, match="unknown weight 'poverty'"):
        acc.coverage("county", "kita", "walk", weight="poverty")


def test_priority_rank_is_the_stated_formula(acc: Accessibility) -> None:
    table = priority.priority_table(acc)
    assert len(table) == len(acc.units("gemeinde")) and list(table["rank"]) == \
        list(range(1, len(table) + 1))
    assert table[SINGLE].sum() == 3_889 and table["children_under_10"].sum() == 24_735
    ranked = table["unreached_single_parent_families"].to_numpy()
    assert (np.diff(ranked) <= 1e-9).all()
    # recompute the rank figure of every Gemeinde from the engine's cells
    unreached = pd.Series(0.0, index=table["ags"])
    for category in priority.CORE_CATEGORIES:
        for mode in priority.CORE_MODES:
            cells = acc.cells(category, mode, weight=SINGLE)
            far = cells[SINGLE].fillna(0.0).where(~(cells["minutes"] <= 15), 0.0)
            unreached = unreached.add(far.groupby(cells["gemeinde_ags"]).sum(), fill_value=0)
    expect = unreached / 6
    np.testing.assert_allclose(table.set_index("ags")["unreached_single_parent_families"],
                               expect.reindex(table["ags"]).to_numpy(), atol=1e-9)
    share = table.set_index("ags")["familienzentrum_walk_single_parent_families_share"]
    cells = acc.cells("familienzentrum", "walk", weight=SINGLE)
    np.testing.assert_allclose(share.reindex(_share_within(cells, SINGLE, 15,
                                                           "gemeinde_ags").index),
                               _share_within(cells, SINGLE, 15, "gemeinde_ags"), atol=1e-12)


def test_best_sites_for_single_parents(settings: Settings, acc: Accessibility) -> None:
    """Candidates = the real school register's other schools; turning the first proposed
    one into a Familienzentrum brings exactly the stated single-parent families in reach."""
    from geo.sources.offers import SCHOOLS_FILE, school_offers, to_frame

    schools = to_frame(school_offers(settings.data_dir / settings.region / SCHOOLS_FILE))
    base = acc.offers
    result = siting.best_sites(acc, "familienzentrum", "bike", 15.0, 2, weight=SINGLE,
                               candidates=(schools["lon"].to_numpy(), schools["lat"].to_numpy()))
    summary = result.summary()
    assert summary["weight"] == SINGLE
    before = acc.cells("familienzentrum", "bike", weight=SINGLE)
    w = before[SINGLE].fillna(0.0)
    assert summary[f"{SINGLE}_total"] == pytest.approx(w.sum())
    assert summary[f"{SINGLE}_covered_before"] == pytest.approx(w[before["minutes"] <= 15].sum())
    first = result.sites.iloc[0]
    gains = result.sites[f"{SINGLE}_gained"]
    assert first[f"{SINGLE}_gained"] > 0 and list(gains) == sorted(gains, reverse=True)
    site = schools.iloc[[int(first["candidate"])]].assign(
        category="familienzentrum", status="active", id="fixture-new-site")
    added = pd.concat([base, site.reindex(columns=base.columns)], ignore_index=True)
    after = Accessibility(settings, offers=added).cells("familienzentrum", "bike",
                                                        weight=SINGLE)
    wa = after[SINGLE].fillna(0.0)
    gained = wa[after["minutes"] <= 15].sum() - w[before["minutes"] <= 15].sum()
    assert gained == pytest.approx(first[f"{SINGLE}_gained"])


def test_cli_priority_prints_the_top_five(settings: Settings, acc: Accessibility,
                                          tmp_path) -> None:
    done = CliRunner().invoke(app, ["priority", "--data-dir", str(settings.data_dir)],
                              env={"ERREICHBAR_WORK_DIR": str(settings.work_dir),
                                   "ERREICHBAR_MAPS__OUT_DIR": str(tmp_path)})
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    table = priority.priority_table(acc)
    assert [t["name"] for t in summary["top"]] == table["name"].head(5).tolist()
    stored = pd.read_parquet(settings.processed_dir / "goettingen" / "priority"
                             / "priority.parquet")
    assert stored["name"].tolist() == table["name"].tolist()
    page = (tmp_path / "bedarf-und-entfernung.html").read_text("utf-8")
    assert "Wo Bedarf und Entfernung zusammenkommen" in page and "Zensus 2011" in page
