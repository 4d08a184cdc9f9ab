"""The data sources behind every output: layer, source, vintage and attribution.

One table, built from the settings (the region's tile vintages, the census in use), that
maps, reports, the API's ``/health`` and the family page all read, so that a vintage is
never a literal in a template.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.settings import Settings, get_region

#: BKG VG5000 boundaries: reference date of the files in the data directory.
BOUNDARIES_VINTAGE = "01.01.2021"
#: Attribution of BKG VG5000 (dl-de/by-2.0).
BOUNDARIES_ATTRIBUTION = "© GeoBasis-DE / BKG (2021), dl-de/by-2.0"
#: Attribution of OpenStreetMap data (ODbL).
OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL"


@dataclass(frozen=True)
class DataSource:
    """One input of the outputs.

    Attributes
    ----------
    key
        Stable machine name (``osm``, ``boundaries``, ``population``, …).
    layer
        What it provides, in German (the reports' and maps' language).
    source
        Who publishes it, in German.
    vintage
        Date or period of the data.
    attribution
        The licence's required attribution.
    """

    key: str
    layer: str
    source: str
    vintage: str
    attribution: str


def population_label(settings: Settings) -> str:
    """How the population figures are described, e.g. ``Zensus 2011 (09.05.2011)``."""
    census = settings.census
    return f"{census.title} ({census.census_day:%d.%m.%Y})"


def data_sources(settings: Settings) -> tuple[DataSource, ...]:
    """Every data source of the settings' region, with its vintage and attribution."""
    region = get_region(settings.region)
    tiles = [(label, t) for label, t in (("Landkreis", region.tiles),
                                         ("Stadtgebiet", region.city_tiles)) if t is not None]
    osm_source = "OpenStreetMap" + (
        " (Vektorkacheln " + ", ".join(f"{label} {t.vintage[:4]}" for label, t in tiles) + ")"
        if tiles else "")
    census = settings.census
    return (
        DataSource("osm", "Straßen- und Wegenetz, Kitas, Spielplätze, Bibliotheken, "
                   "Arztpraxen, Ortsnamen", osm_source,
                   " / ".join(t.vintage for _, t in tiles) or "Extrakt des Nutzers",
                   OSM_ATTRIBUTION),
        DataSource("boundaries", "Verwaltungsgrenzen", "BKG VG5000", BOUNDARIES_VINTAGE,
                   BOUNDARIES_ATTRIBUTION),
        DataSource("population", "Einwohner (1 km), Kinder unter 10 (100 m)", census.title,
                   f"{census.census_day:%d.%m.%Y}", f"{census.attribution}, dl-de/by-2.0"),
        DataSource("schools", "Grundschulen und weitere Schulen",
                   "Niedersächsisches Schulverzeichnis (nibis) via jedeschule.de", "2017",
                   "Quelle: nibis / jedeschule.de"),
        DataSource("family_offers", "Familienzentren, Beratung, Frühe Hilfen, Familienbildung",
                   "öffentliche Quellen (Einzelnachweise unten)", "2009–2026",
                   "Fakten aus den zitierten Seiten; Koordinaten © OpenStreetMap contributors"),
    )


def vintages(settings: Settings) -> dict[str, str]:
    """Source key → ``source vintage`` (the API's ``/health``)."""
    return {s.key: f"{s.source} {s.vintage}" for s in data_sources(settings)}


def attribution(settings: Settings) -> str:
    """One-line attribution of OSM, BKG and the census (maps and the family page)."""
    keys = ("osm", "boundaries", "population")
    return " | ".join(s.attribution for s in data_sources(settings) if s.key in keys)
