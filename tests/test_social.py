"""Context figures without a small-area source: read from the city file, labelled by area."""

from __future__ import annotations

import pandas as pd

from geo.settings import Settings
from geo.sources.social import context_facts, read_city_series


def test_city_series_are_the_files_values_and_city_only(settings: Settings) -> None:
    raw = pd.read_csv(settings.data_dir / "goettingen" / "stadt_goettingen_social_indicators.csv")
    poverty = raw[(raw["indicator"] == "kinder_altersarmut_pct")
                  & (raw["group"] == "Kinderarmut anteilig in %")]
    series = read_city_series(settings)
    got = series[series["indicator"] == "kinder_altersarmut_pct"]
    assert got["year"].tolist() == sorted(poverty["year"], reverse=True)  # 2022 … 2010
    assert got.iloc[0]["value"] == poverty.loc[poverty["year"].idxmax(), "value"] == 18.7
    facts = {(f.label, f.area): f for f in context_facts(settings)}
    child = facts[("Kinderarmut (Anteil in %)", "nur Stadt Göttingen")]
    assert (child.year, child.value, child.source) == (2022, "18,7 %", "Wegweiser Kommune")
    # the Land's comparison values are never presented as the city's or the county's
    assert ("SGB-II/XII-Quote (%)", "Niedersachsen (zum Vergleich)") in facts
    # the county's own SGB II figure carries its year and source
    county = [f for f in context_facts(settings) if f.area == "Landkreis Göttingen"]
    assert [(f.year, f.value) for f in county] == [(2014, "ca. 17 %")]


def test_region_without_city_file_has_only_its_facts(settings: Settings) -> None:
    other = settings.model_copy(update={"region": "enzkreis"})
    assert read_city_series(other).empty
    assert context_facts(other) == []
