"""The one vocabulary of Erreichbar: modes, categories, levels, weights, CRSs, labels, sources.

Everything a user can name (a mode, an offer category, an area level, a weight) is a
:class:`~enum.StrEnum` here; the CLI and the API take these enums directly. Labels for
people are in the one message table (:mod:`geo.messages`, German first); products look
them up with :func:`label`. Source attributions and vintages are built from the settings
(:func:`data_sources`), never written as literals in a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from geo.messages import text
from geo.settings import Settings, get_region

#: Metric CRS of every computation: ETRS89 / LAEA Europe, the INSPIRE grid of the census.
METRIC_CRS: Final = "EPSG:3035"
#: Geographic CRS of inputs and outputs (longitude, latitude in degrees).
WGS84: Final = "EPSG:4326"


class StreetMode(StrEnum):
    """Street travel mode: walk, bike or car (each on a street network of its own)."""

    walk = "walk"
    bike = "bike"
    car = "car"


class Mode(StrEnum):
    """Travel mode: walk, bike, car or transit.

    Transit is walk + public transport (window median) and needs a loaded timetable.
    """

    walk = "walk"
    bike = "bike"
    car = "car"
    transit = "transit"


class Category(StrEnum):
    """Offer categories of the prevention chain.

    ``kita`` = Krippe and Kindergarten (under school age), ``grundschule`` = primary schools,
    ``hort`` = after-school care of primary-school children (OSM tags it as a kindergarten:
    :attr:`geo.settings.OfferSettings.hort_pattern` tells it apart), ``schule`` = schools
    other than Grundschulen. The three are kept apart everywhere.
    """

    kita = "kita"
    grundschule = "grundschule"
    hort = "hort"
    schule = "schule"
    familienzentrum = "familienzentrum"
    fruehe_hilfen = "fruehe_hilfen"
    beratung = "beratung"
    familienbildung = "familienbildung"
    gesundheit = "gesundheit"
    freizeit = "freizeit"


class Status(StrEnum):
    """Whether an offer exists: only ``active`` offers count as reachable."""

    active = "active"
    planned = "planned"
    closed = "closed"


class Level(StrEnum):
    """Area level: county, unit (municipal unit), gemeinde or youth_office."""

    county = "county"
    unit = "unit"
    gemeinde = "gemeinde"
    youth_office = "youth_office"


class Weight(StrEnum):
    """What coverage is weighted by: people per census cell (100 m cells)."""

    children_under_10 = "children_under_10"
    families_with_minors = "families_with_minors"
    single_parent_families = "single_parent_families"
    foreign_nationals = "foreign_nationals"


#: Street modes as plain strings (not enum members: file layers and keys want str), in their
#: fixed order (walk, bike, car).
STREET_MODES: Final[tuple[str, ...]] = tuple(m.value for m in StreetMode)
#: Every mode, street modes first.
MODES: Final[tuple[str, ...]] = tuple(m.value for m in Mode)
#: Every category.
CATEGORIES: Final[tuple[str, ...]] = tuple(c.value for c in Category)
#: Every area level.
LEVELS: Final[tuple[str, ...]] = tuple(v.value for v in Level)

def label(kind: str, value: str, lang: str = "de") -> str:
    """Return the label of ``value`` (a mode, category, …) of ``kind`` in ``lang``, else German.

    Labels are the ``labels`` section of the one message table (:mod:`geo.messages`).
    """
    return text(f"labels.{kind}.{value}", lang)


# --------------------------------------------------------------------------- data sources

#: BKG VG5000 boundaries: reference date of the files in the data directory.
BOUNDARIES_VINTAGE: Final = "01.01.2021"
#: Attribution of BKG VG5000 (dl-de/by-2.0).
BOUNDARIES_ATTRIBUTION: Final = "© GeoBasis-DE / BKG (2021), dl-de/by-2.0"
#: Attribution of OpenStreetMap data (ODbL).
OSM_ATTRIBUTION: Final = "© OpenStreetMap contributors, ODbL"


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


def data_sources(settings: Settings) -> tuple[DataSource, ...]:
    """Every data source of the settings' region, with its vintage and attribution."""
    region = get_region(settings.region)
    tiles = [(name, t) for name, t in (("Landkreis", region.tiles),
                                       ("Stadtgebiet", region.city_tiles)) if t is not None]
    osm_source = "OpenStreetMap" + (
        " (Vektorkacheln " + ", ".join(f"{name} {t.vintage[:4]}" for name, t in tiles) + ")"
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


def white_spot_definition(settings: Settings, lang: str = "de") -> str:
    """Return the one white-spot definition as maps, reports and the API state it.

    "Weißer Fleck: mehr als 15 Minuten zu Fuß zum nächsten aktiven Angebot der Kategorie"
    (``AccessSettings.white_spot_min`` minutes, ``white_spot_mode``).
    """
    a = settings.access
    return text("report.white_spot.definition", lang, minutes=a.white_spot_min,
                mode=text(f"report.mode_phrase.{a.white_spot_mode}", lang))
