"""Social context figures that have no small-area source: county facts and city series.

Two kinds, each with its source and year, never spread onto cells:

* **county facts** of the region's settings (:attr:`geo.settings.Region.context_facts`),
  e.g. the county's own figure of the share of under-tens in SGB II households (2014);
* **city series** from ``<region>/stadt_goettingen_social_indicators.csv`` (Stadt Göttingen
  only: child poverty 2010–2022, SGB II/XII rate, single parents), labelled as city-only.

The reports quote them in a context box; they are never used as weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import pandas as pd

from geo.errors import DataError
from geo.settings import Settings, get_region

log = logging.getLogger(__name__)

#: City indicator file inside the region's data folder (OpenSDGde/goettingen-data).
CITY_FILE: Final = "stadt_goettingen_social_indicators.csv"
#: Indicators quoted from the city file: (indicator, group or "" for none) → German label.
CITY_SERIES: Final[dict[tuple[str, str], str]] = {
    ("kinder_altersarmut_pct", "Kinderarmut anteilig in %"): "Kinderarmut (Anteil in %)",
    ("sgb2_sgb12_quote_pct", ""): "SGB-II/XII-Quote (%)",
    ("alleinerziehende_anzahl", ""): "Alleinerziehende (Anzahl)",
}


@dataclass(frozen=True)
class ContextFact:
    """One figure of the context box.

    Attributes
    ----------
    label
        What it is, in German.
    area
        Where it holds (``Landkreis Göttingen``, ``nur Stadt Göttingen``).
    year
        Year of the figure.
    value
        The figure as printed (German number with unit).
    source
        Who published it.
    """

    label: str
    area: str
    year: int
    value: str
    source: str


def _de_number(value: float, unit: str) -> str:
    """German number with its unit: ``18,7 %`` or ``3.698``."""
    if unit == "Prozent":
        return f"{value:.1f} %".replace(".", ",")
    return f"{value:,.0f}".replace(",", ".")


def _area(region: str) -> str:
    """Where a city-file value holds: the city only, or the Land as comparison."""
    return f"nur {region}" if region.startswith("Stadt") else f"{region} (zum Vergleich)"


def read_city_series(settings: Settings) -> pd.DataFrame:
    """Read the city-only indicator series of the region, latest year first.

    Returns
    -------
    pandas.DataFrame
        ``indicator``, ``label``, ``region``, ``year``, ``value``, ``unit``, ``source``;
        empty when the region has no such file.

    Raises
    ------
    DataError
        The file exists but lacks a column.
    """
    path = settings.data_dir / get_region(settings.region).name / CITY_FILE
    columns = ["indicator", "region", "group", "year", "value", "unit", "source_type"]
    if not path.is_file():
        return pd.DataFrame(columns=["indicator", "label", "region", "year", "value", "unit",
                                     "source"])
    table = pd.read_csv(path, dtype={"group": str}, keep_default_na=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    key = pd.Series(list(zip(table["indicator"], table["group"], strict=True)), index=table.index)
    table = table[key.isin(list(CITY_SERIES))].copy()
    table["label"] = [CITY_SERIES[(i, g)] for i, g in zip(table["indicator"], table["group"],
                                                          strict=True)]
    table["value"] = pd.to_numeric(table["value"], errors="raise")
    log.info("read %d city indicator values from %s", len(table), path)
    return (table.rename(columns={"source_type": "source"})
            [["indicator", "label", "region", "year", "value", "unit", "source"]]
            .sort_values(["indicator", "region", "year"], ascending=[True, True, False],
                         ignore_index=True))


def context_facts(settings: Settings) -> list[ContextFact]:
    """Return the county facts of the settings' region and the latest value of each city series.

    City values carry the area ``nur <city>`` so that nobody reads them as county figures;
    the Land's values in the file are marked as comparison.
    """
    region = get_region(settings.region)
    facts = [ContextFact(f.label, region.title, f.year, f.value, f.source)
             for f in region.context_facts]
    series = read_city_series(settings)
    latest = series.groupby(["indicator", "region"], sort=False).head(1)
    facts += [ContextFact(r.label, _area(r.region), int(r.year), _de_number(r.value, r.unit),
                          r.source) for r in latest.itertuples()]
    return facts
