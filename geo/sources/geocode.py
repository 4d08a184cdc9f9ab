"""Offline address search over the OSM vector tiles we hold: streets, house numbers, places.

The index is built from three layers of the region's tile sets (:attr:`Region.tiles`, the
whole county, and :attr:`Region.city_tiles`, newer, preferred inside their footprint):

* ``transportation_name`` — named street lines (``name`` in OpenMapTiles tiles,
  ``name:latin`` in the tilemaker tiles);
* ``housenumber`` — address points carrying only the number: each is given the name of the
  nearest named street line within :data:`HOUSENUMBER_STREET_MAX_M` (EPSG:3035 metres);
* ``place`` — city, town, village, suburb, hamlet and locality names.

A region without vector tiles (e.g. the Enzkreis, where only a timetable exists) has no
addresses or streets: its places are its VG5000 Gemeinden (at a point inside each), and a
query that finds nothing there raises :class:`NoAddressDataError`, which says so. In every
region the stations and stops of a loaded timetable are places too
(:mod:`geo.sources.stop_names`; precision ``stop``), unless a place has the same name.

Every street and address also gets its *locality*: the nearest settlement ``place`` and the
VG5000 Gemeinde it lies in, so that "Hauptstraße 5, Rosdorf" picks the right one of the
county's many Hauptstraßen.

Search rules (:meth:`Geocoder.search`, :meth:`Geocoder.locate`):

* names are compared folded (:func:`fold`: case, ß/ss, "str."/"straße", hyphens, and umlauts
  both ways, so "Goettingen", "Gottingen" and "Göttingen" are one name);
* a town in the query ("Kirchstraße 1, Walkenried", "Göttingen, Weender Landstraße 2",
  "Hauptstr. 5 Rosdorf") restricts every candidate, exact or close, to that settlement or
  Gemeinde: a settlement of that name first, then the Gemeinde, then names containing it;
* only exact (folded) names are results. A street without the house number asked for is
  returned as the street (precision ``street``, note :data:`NUMBER_NOT_FOUND`), with the
  close spellings of the same town that have the number as ``suggestions`` — never taken
  in its place ("Marktstraße 1, Duderstadt" stays on the Marktstraße and suggests
  "Markstraße 1, Duderstadt");
* a name not found raises :class:`AddressNotFoundError` whose ``suggestions`` are close names
  (inside the town when one was given, the town itself last); matches in several Gemeinden
  or far apart make :meth:`Geocoder.locate` raise :class:`AmbiguousAddressError` with the
  candidates ("Meinten Sie …?"). Every suggestion is a query that finds that candidate.

Coordinates are WGS84 degrees.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._io import atomic_path, files_digest
from geo.errors import ErreichbarError
from geo.messages import text as message
from geo.settings import Settings, TileSource, get_region
from geo.sources.boundaries import load_units, vg5000_files
from geo.sources.stop_names import STOP_CLASS, stop_places
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

#: A house number is assigned the nearest named street within this distance (metres):
#: German address points lie on the building, rarely more than ~100 m from their street.
HOUSENUMBER_STREET_MAX_M: Final = 150.0
#: ``place`` classes that name a settlement (a locality of streets and addresses).
SETTLEMENT_CLASSES: Final = frozenset({"city", "town", "village", "suburb", "hamlet",
                                       "quarter", "neighbourhood", "isolated_dwelling"})
#: Suggestions returned when nothing matches, and their least difflib similarity (0–1).
SUGGESTIONS: Final = 5
SUGGESTION_CUTOFF: Final = 0.7
#: Inside a named town the names are few: close names down to this similarity are suggested
#: ("Kirchstraße" → "Kirchberg" ≈ 0.6).
TOWN_SUGGESTION_CUTOFF: Final = 0.55
#: A house number missing on the typed street is looked for on streets of the same town
#: whose folded name is at least this similar (difflib ratio; one letter in a 12-letter name
#: ≈ 0.96: OSM spelling variants such as Markt-/Markstraße) — and only suggested.
VARIANT_CUTOFF: Final = 0.9
#: :meth:`Geocoder.locate`: matches of one precision further apart than this (metres) are
#: different places, and the query is ambiguous. Two address points of one house lie within
#: a few dozen metres; a street's pieces in two quarters of a town within a kilometre or so.
AMBIGUOUS_M: Final[dict[str, float]] = {"address": 200.0, "street": 1500.0, "place": 1500.0,
                                          "stop": 1500.0}
#: ``class`` of a VG5000 Gemeinde in the place table of a region without vector tiles.
GEMEINDE_CLASS: Final = "gemeinde"
#: Note of a street returned without the house number asked for (German; the API says it
#: in the asker's language from the same message table).
NUMBER_NOT_FOUND: Final = message("api.number_not_found")

#: Version of the address tables' layout and rules: part of their cache key.
_TABLES_VERSION: Final = f"3/{HOUSENUMBER_STREET_MAX_M}"

_POSTCODE = re.compile(r"\b\d{5}\b")
_RANGE = re.compile(r"(\d+[a-zA-Z]?)\s*[-–/]\s*\d+[a-zA-Z]?\b")  #: "6-8" → "6"
#: A folded street part: name, house number ("2", "2a", "2 a"), optional town after it.
_NUMBERED = re.compile(r"^(?P<street>.*?\D)\s*(?P<number>\d+(?:\s?[a-z](?![a-z]))?)"
                       r"(?:\s+(?P<locality>.+))?$")
#: "Dramfeld (Rosdorf)": a settlement and its Gemeinde, as in the labels.
_PLACE_IN_GEMEINDE = re.compile(r"^(?P<place>[^()]+?)\s*\((?P<gemeinde>.+)\)\s*$")
#: Town tiers of a row (:meth:`Geocoder._tier`): settlement, Gemeinde, contains, outside.
_OUTSIDE: Final = 3


class AddressNotFoundError(ErreichbarError):
    """No street, address or place matches a query; ``suggestions`` lists close names."""

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class NoAddressDataError(AddressNotFoundError):
    """Nothing matches, and the region has no address data (no vector tiles) to search.

    The message (German, message table ``errors.type.no_address_data``) says that only
    places and stops can be found; ``suggestions`` lists close ones.
    """


class AmbiguousAddressError(AddressNotFoundError):
    """A query matches several places ("Meinten Sie …?").

    ``candidates`` are the matches (:class:`Location`), ``suggestions`` their labels, each a
    query that finds that one candidate.
    """

    def __init__(self, message: str, candidates: list[Location]) -> None:
        super().__init__(message, list(dict.fromkeys(c.label for c in candidates)))
        self.candidates = candidates


def did_you_mean(options: tuple[str, ...] | list[str], lang: str = "de") -> str:
    """Return "Meinten Sie A oder B?" in ``lang`` (message table ``api.did_you_mean``)."""
    joiner = f" {message('api.or', lang)} "
    return message("api.did_you_mean", lang, options=joiner.join(options))


def normalise(text: str) -> str:
    """Return the comparable form of a name.

    Lower case, ß → ss, "str."/"str" → "strasse", hyphens and repeated blanks → one blank
    (``"Weender-Landstr."`` → ``"weender landstrasse"``).
    """
    t = text.strip().lower().replace("ß", "ss")
    t = re.sub(r"str\b\.?", "strasse", t)
    return re.sub(r"[\s\-,.]+", " ", t).strip()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Return the search key of a name: :func:`normalise` with umlauts folded both ways.

    ä/ae → a, ö/oe → o, ü/ue → u, other accents dropped, anything but letters and digits →
    one blank: ``"Göttingen"``, ``"Goettingen"`` and ``"Gottingen"`` → ``"gottingen"``.
    Index and query are folded alike, so the rare word with a real "ue" ("Feuerweg") still
    finds itself.
    """
    t = normalise(text)
    for digraph, vowel in (("ae", "a"), ("oe", "o"), ("ue", "u")):
        t = t.replace(digraph, vowel)
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


@dataclass(frozen=True)
class Location:
    """One search result."""

    label: str  #: display name, e.g. "Weender Landstraße 2, Göttingen"
    lon: float  #: WGS84 degrees
    lat: float  #: WGS84 degrees
    precision: str  #: ``address`` (house number), ``street``, ``place`` or ``stop``
    gemeinde: str  #: the VG5000 Gemeinde the location lies in
    #: what was not found, e.g. "Hausnummer nicht gefunden; Meinten Sie Markstraße 1, …?"
    note: str | None = None
    #: "Meinten Sie …?": queries that find close spellings with what was asked for
    suggestions: tuple[str, ...] = ()


class _Town(NamedTuple):
    """A town of a query, folded: a settlement or Gemeinde, or a settlement in a Gemeinde."""

    key: str
    gemeinde: str | None = None


class _Reading(NamedTuple):
    """One reading of a query: folded street or place name, house number, town."""

    name: str
    number: str | None
    town: _Town | None


def _name_column(frame: pd.DataFrame) -> pd.Series:
    """Names of a tile layer (``name`` in OpenMapTiles tiles, ``name:latin`` in tilemaker's)."""
    for col in ("name", "name:latin"):
        if col in frame.columns:
            return frame[col]
    return pd.Series(None, index=frame.index, dtype=object)


def _read_source(source: TileSource, settings: Settings, skip_tiles: set[tuple[int, int]]
                 ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the named street lines, house-number points and places of one tile set.

    EPSG:3035; the tiles in ``skip_tiles`` (covered by a newer set) are left out.
    """
    from geo.sources.tiles import open_tileset, read_layers

    tileset = open_tileset(settings.data_dir / source.path, source.zoom)
    layers = read_layers(tileset, ("transportation_name", "housenumber", "place"),
                         cache_dir=settings.processed_dir / "tiles-cache")

    def keep(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        tiles = pd.MultiIndex.from_arrays([frame["tile_x"], frame["tile_y"]])
        return frame[~tiles.isin(list(skip_tiles))] if skip_tiles else frame

    names = keep(layers["transportation_name"])
    names = gpd.GeoDataFrame({"name": _name_column(names)}, geometry=names.geometry)
    names = names[names["name"].notna()
                  & names.geom_type.isin(["LineString", "MultiLineString"])]
    numbers = keep(layers["housenumber"])[["housenumber", "geometry"]].explode(ignore_index=True)
    places = keep(layers["place"])
    places = gpd.GeoDataFrame({"name": _name_column(places), "class": places["class"]},
                              geometry=places.geometry)
    places = places[places["name"].notna() & (places.geom_type == "Point")]
    return names.to_crs(METRIC_CRS), numbers.to_crs(METRIC_CRS), places.to_crs(METRIC_CRS)


def _localities(points: gpd.GeoSeries, settlements: gpd.GeoDataFrame,
                gemeinden: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Nearest settlement name and containing Gemeinde name (None outside) per point."""
    frame = gpd.GeoDataFrame(geometry=points.reset_index(drop=True))
    near = gpd.sjoin_nearest(frame, settlements[["name", "geometry"]], how="left")
    near = near[~near.index.duplicated()]
    inside = gpd.sjoin(frame, gemeinden[["name", "geometry"]].rename(columns={"name": "gem"}),
                       how="left", predicate="within")
    inside = inside[~inside.index.duplicated()]
    return near["name"].to_numpy(dtype=object), inside["gem"].to_numpy(dtype=object)


def _to_lonlat(geom: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    pts = geom.to_crs("EPSG:4326")
    return pts.x.to_numpy(), pts.y.to_numpy()


def build_tables(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Address, street and place tables of the settings' region.

    Returns
    -------
    addresses, streets, places
        ``addresses``: ``street``, ``number``, ``place``, ``gemeinde``, ``lon``, ``lat``;
        ``streets``: one row per street name and settlement (``street``, ``place``,
        ``gemeinde``, ``lon``, ``lat`` of the point halfway along its longest piece);
        ``places``: ``name``, ``class``, ``gemeinde``, ``lon``, ``lat``. WGS84 degrees.
        The tiles reach beyond the county: addresses farther than
        ``settings.offers.region_tolerance_m`` from its Gemeinden are left out (else they
        would be named after the nearest village inside it); nearer ones keep ``gemeinde``
        None (VG5000 is generalised: houses at the border may lie just outside it).
    """
    from geo.sources.tiles import open_tileset

    region = get_region(settings.region)
    sources = [s for s in (region.city_tiles, region.tiles) if s is not None]
    if not sources:
        return _without_tiles(settings)
    parts = []
    covered: set[tuple[int, int]] = set()
    for source in sources:  # newest first; older sets fill in around it
        parts.append(_read_source(source, settings, covered))
        covered |= set(open_tileset(settings.data_dir / source.path, source.zoom).tiles)
    names, numbers, places = (gpd.GeoDataFrame(pd.concat(p, ignore_index=True), crs=METRIC_CRS)
                              for p in zip(*parts, strict=True))
    gemeinden = load_units(settings, "gemeinde")
    places = places[places.within(gemeinden.union_all())].reset_index(drop=True)
    settlements = places[places["class"].isin(SETTLEMENT_CLASSES)]

    near = gpd.sjoin_nearest(numbers, names[["name", "geometry"]], how="left",
                             max_distance=HOUSENUMBER_STREET_MAX_M)
    near = near[~near.index.duplicated()]
    numbers = near[near["name"].notna()].reset_index(drop=True)
    numbers = numbers[numbers.distance(gemeinden.union_all())
                      <= settings.offers.region_tolerance_m].reset_index(drop=True)
    num_place, num_gem = _localities(numbers.geometry, settlements, gemeinden)
    lon, lat = _to_lonlat(numbers.geometry)
    addresses = pd.DataFrame({"street": numbers["name"], "number": numbers["housenumber"],
                              "place": num_place, "gemeinde": num_gem, "lon": lon, "lat": lat})
    addresses = addresses.drop_duplicates(["street", "number", "place"], ignore_index=True)

    pieces = names.explode(ignore_index=True)
    mid = shapely.line_interpolate_point(pieces.geometry.values, 0.5, normalized=True)
    street_place, street_gem = _localities(gpd.GeoSeries(mid, crs=METRIC_CRS), settlements,
                                           gemeinden)
    pieces = pd.DataFrame({"street": pieces["name"], "place": street_place,
                           "gemeinde": street_gem, "length": pieces.length.to_numpy(),
                           "geometry": mid})
    pieces = pieces[pieces["gemeinde"].notna()]
    longest = pieces.sort_values("length", ascending=False).drop_duplicates(["street", "place"])
    lon, lat = _to_lonlat(gpd.GeoSeries(longest["geometry"].to_numpy(), crs=METRIC_CRS))
    streets = pd.DataFrame({"street": longest["street"].to_numpy(),
                            "place": longest["place"].to_numpy(),
                            "gemeinde": longest["gemeinde"].to_numpy(), "lon": lon, "lat": lat})
    _, place_gem = _localities(places.geometry, settlements, gemeinden)
    lon, lat = _to_lonlat(places.geometry)
    place_table = pd.DataFrame({"name": places["name"], "class": places["class"],
                                "gemeinde": place_gem, "lon": lon, "lat": lat})
    log.info("address index: %d addresses, %d streets, %d places", len(addresses),
             len(streets), len(place_table))
    return addresses, streets, place_table


def _without_tiles(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Tables of a region without vector tiles: no addresses or streets, its Gemeinden.

    Each VG5000 Gemeinde is a place (class :data:`GEMEINDE_CLASS`) at a point inside it
    (shapely's representative point; WGS84 degrees).
    """
    gemeinden = load_units(settings, "gemeinde")
    lon, lat = _to_lonlat(gpd.GeoSeries(gemeinden.representative_point(), crs=METRIC_CRS))
    names = gemeinden["name"].to_numpy()
    places = pd.DataFrame({"name": names, "class": GEMEINDE_CLASS, "gemeinde": names,
                           "lon": lon, "lat": lat})
    log.info("address index of %s: no vector tiles, so no addresses or streets; %d "
             "Gemeinden as places", settings.region, len(places))
    return (pd.DataFrame({c: pd.Series(dtype=object if c not in ("lon", "lat") else float)
                          for c in ("street", "number", "place", "gemeinde", "lon", "lat")}),
            pd.DataFrame({c: pd.Series(dtype=object if c not in ("lon", "lat") else float)
                          for c in ("street", "place", "gemeinde", "lon", "lat")}),
            places)


def load_tables(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`build_tables`, cached as Parquet under ``processed/<region>/geocode/<key>/``.

    The key hashes the tile sets, the VG5000 files, the border tolerance and
    :data:`_TABLES_VERSION`, so changed data means a rebuild (≈12 s for the county),
    unchanged data a read (≈0.3 s).
    """
    from geo.sources.tiles import open_tileset

    region = get_region(settings.region)
    digests = [open_tileset(settings.data_dir / s.path, s.zoom).digest()
               for s in (region.city_tiles, region.tiles) if s is not None]
    key = files_digest(vg5000_files(settings.data_dir),
                       extra="|".join([*digests, _TABLES_VERSION,
                                       str(settings.offers.region_tolerance_m)]))
    folder = settings.processed_dir / settings.region / "geocode" / key
    names = ("addresses", "streets", "places")
    if all((folder / f"{n}.parquet").is_file() for n in names):
        return tuple(pd.read_parquet(folder / f"{n}.parquet") for n in names)  # type: ignore[return-value]
    tables = build_tables(settings)
    for name, table in zip(names, tables, strict=True):
        with atomic_path(folder / f"{name}.parquet") as tmp:
            table.to_parquet(tmp)
    return tables


class Geocoder:
    """Search addresses, streets and places of one region offline (see module docstring).

    Parameters
    ----------
    settings
        Settings of the region (tile sets, data and work directories).
    """

    def __init__(self, settings: Settings) -> None:
        self.addresses, self.streets, places = load_tables(settings)
        stops = stop_places(settings)
        named = set(_folded(places["name"]))
        stops = stops[[key not in named for key in _folded(stops["name"])]]
        self.places = pd.concat([places, stops], ignore_index=True) if len(stops) else places
        self.region_title = get_region(settings.region).title
        self.addresses["number_key"] = self.addresses["number"].astype(str).str.lower() \
            .str.replace(r"\s+", "", regex=True)
        for frame, name, place in ((self.addresses, "street", "place"),
                                   (self.streets, "street", "place"),
                                   (self.places, "name", "gemeinde")):
            for column, source in (("key", name), ("place_key", place), ("gem_key", "gemeinde")):
                # object dtype even when empty (a region without addresses): .str works
                frame[column] = np.array(_folded(frame[source]), dtype=object)
        self._address_rows = self.addresses.groupby("key").indices
        self._street_rows = self.streets.groupby("key").indices
        self._place_rows = self.places.groupby("key").indices
        self._street_keys = set(self._street_rows)
        self._place_keys = set(self._place_rows)
        towns = pd.concat([self.places.loc[self.places["class"] != STOP_CLASS, ["key", "name"]],
                           *(f[["gem_key", "gemeinde"]].set_axis(["key", "name"], axis=1)
                             for f in (self.streets, self.places))], ignore_index=True)
        towns = towns[towns["key"] != ""].drop_duplicates("key")
        self._town_keys = set(towns["key"])
        self._town_display = dict(zip(towns["key"], towns["name"], strict=True))
        self._place_pairs = set(zip(self.streets["place_key"], self.streets["gem_key"],
                                    strict=True)) | set(zip(self.addresses["place_key"],
                                                            self.addresses["gem_key"],
                                                            strict=True))
        self._display = {**dict(zip(self.places["key"], self.places["name"], strict=True)),
                         **dict(zip(self.streets["key"], self.streets["street"], strict=True))}

    # ---------------------------------------------------------------- reading a query

    def _town(self, text: str) -> _Town | None:
        """Return the town of a query part: a known name, else ``Place (Gemeinde)``, or as typed."""
        key = fold(text)
        if not key:
            return None
        m = _PLACE_IN_GEMEINDE.match(text.strip())
        if key not in self._town_keys and m:
            return _Town(fold(m["place"]), fold(m["gemeinde"]))
        return _Town(key)

    def _splits(self, text: str, number: str | None, town: _Town | None) -> list[_Reading]:
        """Read a folded name part as it is, else with a known town after or before the name.

        A town guessed from the words of the name part must be a whole settlement or
        Gemeinde name ("Weende Göttingen", not "Weende Gött").
        """
        readings = [_Reading(text, number, town)]
        if town is not None:
            return readings
        tokens = text.split(" ")
        cuts = [(" ".join(tokens[:cut]), " ".join(tokens[cut:]))
                for cut in range(len(tokens) - 1, 0, -1)]
        readings += [_Reading(head, number, _Town(tail)) for head, tail in cuts
                     if tail in self._town_keys]
        readings += [_Reading(tail, number, _Town(head)) for head, tail in reversed(cuts)
                     if head in self._town_keys]
        return readings

    def _readings(self, query: str) -> list[_Reading]:
        """Return the readings of a query, most likely first.

        Comma-separated parts: the part with a house number (else the first part that is
        not a known town) is the street or place, another part the town. Without commas
        the town may follow the number ("Hauptstr. 5 Rosdorf") or stand before or after
        the name.
        """
        text = _RANGE.sub(r"\1", _POSTCODE.sub(" ", query))
        parts = [p for p in text.split(",") if fold(p)]
        matches = [_NUMBERED.match(fold(p)) for p in parts]
        numbered = [i for i, m in enumerate(matches) if m]
        if numbered:
            order = numbered[:1]
        else:  # a name part that is not a known town first ("Goettingen, Weender Landstraße")
            order = sorted(range(len(parts)), key=lambda i: fold(parts[i]) in self._town_keys)
        readings: list[_Reading] = []
        for i in order:
            towns = [t for j, p in enumerate(parts) if j != i
                     for t in [self._town(p)] if t is not None]
            m = matches[i]
            if m:
                name, number = m["street"].strip(), m["number"].replace(" ", "")
                towns += [_Town(m["locality"])] if m["locality"] else []
            else:
                name, number = fold(parts[i]), None
            options: list[_Town | None] = [*towns] or [None]
            for town in options:
                readings += self._splits(name, number, town)
        return readings

    # ---------------------------------------------------------------- matching

    @staticmethod
    def _tier(rows: pd.DataFrame, town: _Town) -> np.ndarray:
        """How well each row lies in ``town``: 0 settlement, 1 Gemeinde, 2 contains, 3 not."""
        place, gem = rows["place_key"], rows["gem_key"]
        if town.gemeinde is not None:
            return np.where((place == town.key) & (gem == town.gemeinde), 0, _OUTSIDE)
        contains = place.str.contains(town.key, regex=False) \
            | gem.str.contains(town.key, regex=False)
        return np.select([place == town.key, gem == town.key, contains], [0, 1, 2], _OUTSIDE)

    def _best(self, rows: pd.DataFrame, town: _Town | None) -> pd.DataFrame:
        """Return the rows in ``town`` of its best tier (all rows without a town)."""
        if town is None or rows.empty:
            return rows
        tier = self._tier(rows, town)
        return rows[tier == tier.min()] if tier.min() < _OUTSIDE else rows.iloc[:0]

    @staticmethod
    def label(row: pd.Series, number: str | None = None) -> str:
        """Return the display name of an address or street row ("Hauptstraße 5, Dramfeld")."""
        town = row["place"] if row["place"] == row["gemeinde"] or not isinstance(
            row["gemeinde"], str) else f"{row['place']} ({row['gemeinde']})"
        return f"{row['street']}{' ' + number if number else ''}, {town}"

    @staticmethod
    def _place_label(row: pd.Series) -> str:
        return str(row["name"]) if row["gemeinde"] == row["name"] \
            else f"{row['name']} ({row['gemeinde']})"

    def _numbers(self, key: str, number: str) -> pd.DataFrame:
        """Address rows of a folded street name and house number."""
        rows = self.addresses.iloc[self._address_rows.get(key, [])]
        return rows[rows["number_key"] == number]

    def _variants(self, name: str, number: str, town: _Town | None) -> tuple[str, ...]:
        """Return queries of close spellings of ``name`` in ``town`` that have ``number``."""
        keys = difflib.get_close_matches(name, self._street_keys, n=6, cutoff=VARIANT_CUTOFF)
        labels = [self.label(r, str(r["number"])) for key in keys if key != name
                  for _, r in self._best(self._numbers(key, number), town).iterrows()]
        return tuple(dict.fromkeys(labels))[:SUGGESTIONS]

    def _match(self, reading: _Reading) -> list[Location]:
        """Locations of one reading with exactly its (folded) name, best town tier only.

        A house number the street lacks in the town gives the street, with a note and the
        close spellings that have the number as suggestions (:meth:`_variants`).
        """
        name, number, town = reading
        if number:
            rows = self._best(self._numbers(name, number), town)
            if len(rows):
                return [Location(self.label(r, str(r["number"])), float(r["lon"]),
                                 float(r["lat"]), "address", str(r["gemeinde"]))
                        for _, r in rows.iterrows()]
        rows = self._best(self.streets.iloc[self._street_rows.get(name, [])], town)
        if len(rows):
            suggestions = self._variants(name, number, town) if number else ()
            note = (NUMBER_NOT_FOUND + (f"; {did_you_mean(suggestions)}"
                                        if suggestions else "")) if number else None
            return [Location(self.label(r), float(r["lon"]), float(r["lat"]), "street",
                             str(r["gemeinde"]), note, suggestions) for _, r in rows.iterrows()]
        if number:
            return []
        rows = self._best(self.places.iloc[self._place_rows.get(name, [])], town)
        return [Location(self._place_label(r), float(r["lon"]), float(r["lat"]),
                         "stop" if r["class"] == STOP_CLASS else "place", str(r["gemeinde"]))
                for _, r in rows.iterrows()]

    # ---------------------------------------------------------------- suggestions

    def _town_known(self, town: _Town) -> bool:
        if town.gemeinde is not None:
            return (town.key, town.gemeinde) in self._place_pairs
        return any(town.key in key for key in self._town_keys)

    def _suggest_in_town(self, name: str, number: str | None, town: _Town) -> list[str]:
        """Close street and place names inside a known town, and the town itself last."""
        streets = self.streets[self._tier(self.streets, town) < _OUTSIDE]
        places = self.places[self._tier(self.places, town) < _OUTSIDE]
        close = difflib.get_close_matches(name, set(streets["key"]) | set(places["key"]),
                                          n=SUGGESTIONS - 1, cutoff=TOWN_SUGGESTION_CUTOFF)
        labels = []
        for key in close:
            rows = self._best(streets[streets["key"] == key], town)
            if len(rows):
                labels.append(self.label(rows.iloc[0], number))
            else:
                labels.append(self._place_label(self._best(places[places["key"] == key],
                                                           town).iloc[0]))
        here = self.places.iloc[self._place_rows.get(town.key, [])]
        here = here[here["gem_key"] == town.gemeinde] if town.gemeinde else here
        itself = self._place_label(here.iloc[0]) if len(here) == 1 else \
            self._town_display.get(town.gemeinde or town.key)
        return list(dict.fromkeys([*labels, *([itself] if itself else [])]))

    def _suggest(self, readings: list[_Reading]) -> tuple[str, list[str]]:
        """Why nothing matched, and what to try instead (see module docstring)."""
        name, number, town = next((r for r in readings if r.town is not None
                                   and self._town_known(r.town)), readings[0])
        if town is None:
            close = difflib.get_close_matches(name, self._street_keys | self._place_keys,
                                              n=SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
            return "not found in the OSM data of the region", [self._display[c] for c in close]
        if self._town_known(town):
            shown = self._town_display.get(town.gemeinde or town.key, town.key)
            return (f"not found in {shown}", self._suggest_in_town(name, number, town))
        close = difflib.get_close_matches(town.key, self._town_keys, n=SUGGESTIONS,
                                          cutoff=SUGGESTION_CUTOFF)
        street = self._display.get(name, name) + (f" {number}" if number else "")
        return (f"town {town.key!r} not found",
                [f"{street}, {self._town_display[c]}" for c in close])

    # ---------------------------------------------------------------- public

    def search(self, query: str, limit: int = 5) -> list[Location]:
        """Locations matching an address, a street or a place name, best first.

        Accepted forms: ``"Weender Landstraße 2, 37073 Göttingen"``, ``"Goettingen, Weender
        Landstr. 2"``, ``"Hauptstr. 5 Rosdorf"``, ``"Groner Landstraße"``, ``"Weende"``, and
        the labels of the results and suggestions (``"Hauptstraße 5, Dramfeld (Rosdorf)"``).
        The postcode is ignored (the tiles have none), a number range ("6-8") counts as its
        first number, and a number that the street lacks gives the street with a note.

        Parameters
        ----------
        query
            Free text.
        limit
            Most results returned.

        Returns
        -------
        list of Location
            ``precision`` says whether a house number, a street or a place was found;
            ``note`` and ``suggestions`` what was not found and what was close.

        Raises
        ------
        AddressNotFoundError
            No exact name matches; ``suggestions`` holds close street and place names
            (inside the town when the query names one).
        NoAddressDataError
            No exact name matches in a region without address data (see module docstring).
        """
        readings = self._readings(query)
        if not readings:
            raise AddressNotFoundError("address is empty", [])
        for reading in readings:
            found = self._match(reading)
            if found:
                return found[:limit]
        reason, suggestions = self._suggest(readings)
        if self.addresses.empty and self.streets.empty:
            raise NoAddressDataError(message("errors.type.no_address_data",
                                             region=self.region_title, address=repr(query)),
                                     suggestions)
        raise AddressNotFoundError(f"address {query!r} {reason}", suggestions)

    def locate(self, query: str) -> Location:
        """Return the one location of ``query`` (see :meth:`search`).

        Raises
        ------
        AddressNotFoundError
            Nothing matches.
        AmbiguousAddressError
            The matches lie in more than one Gemeinde, or further apart than
            :data:`AMBIGUOUS_M`; its ``suggestions`` are the candidates' labels.
        """
        found = self.search(query, limit=SUGGESTIONS * 4)
        first = found[0]
        cos = math.cos(math.radians(first.lat))
        apart = max(math.hypot((f.lon - first.lon) * cos, f.lat - first.lat) * 111_195.0
                    for f in found)
        gemeinden = {loc.gemeinde for loc in found}
        if len(gemeinden) > 1 or apart > AMBIGUOUS_M.get(first.precision, 0.0):
            raise AmbiguousAddressError(
                f"address {query!r} is ambiguous: it exists in {len(found)} places "
                f"({len(gemeinden)} Gemeinden); add the town. Meinten Sie …?", found)
        return first


def _folded(values: pd.Series) -> list[str]:
    """:func:`fold` of each value ("" for a missing one), each distinct value folded once."""
    keys = {v: fold(v) if isinstance(v, str) else "" for v in values.unique()}
    return [keys[v] for v in values]
