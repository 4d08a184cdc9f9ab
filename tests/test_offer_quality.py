"""Offer data quality on the real catalogue: duplicate Kitas merged (and listed), unnamed
offers flagged (the Kita completeness check is in tests/test_siting.py, on the engine)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.settings import Settings
from geo.sources import offer_quality
from geo.sources.offers import build_catalogue, poi_offers, to_frame
from geo.vocabulary import METRIC_CRS


@pytest.fixture(scope="module")
def catalogue(settings: Settings) -> tuple:
    """The default catalogue and its build report (tiles decoded once)."""
    return build_catalogue(settings)


def test_name_key_keeps_what_tells_houses_apart() -> None:
    key = offer_quality.name_key
    assert key("Kindergarten am Sieberdamm") == key("Sieberdamm") == "sieberdamm"
    assert key("Kindertagesstätte St. Jacobi") == key("Kita St. Jacobi")
    for a, b in (("Sankt-Martini-Krippe", "Sankt-Martini-Kindergarten"),
                 ("Kita Max-Planck-Institut I", "Kita Max-Planck-Institut II"),
                 ("Kita Flohzirkus e. V.", "Kita Flohzirkus e. V. (Nebenstelle)"),
                 ("Kindergarten (ohne Namen)", "Waldhäuschen")):
        assert key(a) != key(b), (a, b)


def test_duplicate_kitas_merged_and_listed(catalogue: tuple, settings: Settings) -> None:
    """The merged pairs on the real data: same name (after name_key) within 100 m, the
    newer source kept; recomputed here from the tile POIs before the merge."""
    offers, report = catalogue
    merged = report["merged"]
    print("\nmerged Kita pairs:\n" + merged.to_string())
    pairs = {(r.kept_name, r.dropped_name, round(r.distance_m)) for r in merged.itertuples()}
    assert pairs == {("Ernst-Fahlbusch-Haus", "Ernst-Fahlbusch-Haus", 6),
                     ("Kindertagesstätte St. Jacobi", "Kindertagesstätte St. Jacobi", 18),
                     ("Kindergarten am Sieberdamm", "Sieberdamm", 29)}
    assert set(merged["category"]) == {"kita"}
    assert (merged["distance_m"] <= settings.offers.match_distance_m).all()
    assert (merged["kept_source_date"] >= merged["dropped_source_date"]).all()
    assert not offers["id"].isin(merged["dropped_id"]).any()
    assert merged["kept_id"].isin(offers["id"]).all()
    # independently: all pairs of same-category POIs within 100 m, by brute force
    before = to_frame(poi_offers(settings)[0])
    before = before[before["category"].isin(["kita", "hort"])].to_crs(METRIC_CRS)
    x, y = before.geometry.x.to_numpy(), before.geometry.y.to_numpy()
    d = np.hypot(x[:, None] - x, y[:, None] - y)
    keys = before["name"].map(offer_quality.name_key).to_numpy()
    same = (d <= 100) & (keys[:, None] == keys) & (before["category"].to_numpy()[:, None]
                                                   == before["category"].to_numpy())
    i, j = np.nonzero(np.triu(same, 1))
    assert len(i) == len(merged) == 3
    ids = before["id"].to_numpy()
    found = {frozenset((ids[a], ids[b])) for a, b in zip(i, j, strict=True)}
    assert found == {frozenset((r.kept_id, r.dropped_id)) for r in merged.itertuples()}


def test_unnamed_offers_are_flagged(catalogue: tuple) -> None:
    offers, _ = catalogue
    kitas = offers[offers["category"].isin(["kita", "hort"])]
    unnamed = offer_quality.is_unnamed(kitas["name"])
    assert unnamed.sum() == 17  # "Kindergarten (ohne Namen)", as counted in issue 15
    assert set(kitas.loc[unnamed, "name"]) == {"Kindergarten (ohne Namen)"}
    assert offer_quality.is_unnamed(pd.Series(["Spielplatz (ohne Namen)", "Sieberdamm",
                                               None])).tolist() == [True, False, True]
