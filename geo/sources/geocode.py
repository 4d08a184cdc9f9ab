"""Offline address search over the OSM vector tiles we hold: streets, house numbers, places.

The index is built from three layers of the region's tile sets (:attr:`Region.tiles`, the
whole county, and :attr:`Region.city_tiles`, newer, preferred inside their footprint):

* ``transportation_name`` — named street lines (``name`` in OpenMapTiles tiles,
  ``name:latin`` in the tilemaker tiles);
* ``housenumber`` — address points carrying only the number: each is given the name of the
  nearest named street line within :data:`HOUSENUMBER_STREET_MAX_M` (EPSG:3035 metres);
* ``place`` — city, town, village, suburb, hamlet and locality names.

Every street and address also gets its *locality*: the nearest settlement ``place`` and the
VG5000 Gemeinde it lies in, so that "Hauptstraße 5, Rosdorf" picks the right one of the
county's many Hauptstraßen. Names are compared normalised (:func:`normalise`: case, ß/ss,
"str."/"straße", hyphens); misses raise :class:`AddressNotFoundError` with close names
(difflib) as suggestions. Coordinates are WGS84 degrees.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._io import atomic_path, files_digest
from geo.errors import ErreichbarError
from geo.settings import Settings, TileSource, get_region
from geo.sources.boundaries import load_units, vg5000_files
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
#: A house number missing on the typed street is searched on streets whose normalised name
#: is at least this similar (difflib ratio; one letter in a 12-letter name ≈ 0.96).
VARIANT_CUTOFF: Final = 0.9

#: Version of the address tables' layout and rules: part of their cache key.
_TABLES_VERSION: Final = f"1/{HOUSENUMBER_STREET_MAX_M}"

_POSTCODE = re.compile(r"\b\d{5}\b")
_RANGE = re.compile(r"(\d+[a-zA-Z]?)\s*[-–/]\s*\d+[a-zA-Z]?\b")  #: "6-8" → "6"
_NUMBERED = re.compile(r"^(?P<street>.*?\D)\s*(?P<number>\d+(?:\s?[a-z](?![a-zäöü]))?)"
                       r"(?:\s+(?P<locality>.+))?$")


class AddressNotFoundError(ErreichbarError):
    """No street, address or place matches a query; ``suggestions`` lists close names."""

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


def normalise(text: str) -> str:
    """Return the comparable form of a name.

    Lower case, ß → ss, "str."/"str" → "strasse", hyphens and repeated blanks → one blank
    (``"Weender-Landstr."`` → ``"weender landstrasse"``).
    """
    t = text.strip().lower().replace("ß", "ss")
    t = re.sub(r"str\b\.?", "strasse", t)
    return re.sub(r"[\s\-,.]+", " ", t).strip()


@dataclass(frozen=True)
class Location:
    """One search result."""

    label: str  #: display name, e.g. "Weender Landstraße 2, Göttingen"
    lon: float  #: WGS84 degrees
    lat: float  #: WGS84 degrees
    precision: str  #: ``address`` (house number), ``street`` or ``place``
    gemeinde: str  #: the VG5000 Gemeinde the location lies in


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
    """
    from geo.sources.tiles import open_tileset

    region = get_region(settings.region)
    sources = [s for s in (region.city_tiles, region.tiles) if s is not None]
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


def load_tables(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`build_tables`, cached as Parquet under ``processed/<region>/geocode/<key>/``.

    The key hashes the tile sets, the VG5000 files and :data:`_TABLES_VERSION`, so changed
    data means a rebuild (≈12 s for the county), unchanged data a read (≈0.3 s).
    """
    from geo.sources.tiles import open_tileset

    region = get_region(settings.region)
    digests = [open_tileset(settings.data_dir / s.path, s.zoom).digest()
               for s in (region.city_tiles, region.tiles) if s is not None]
    key = files_digest(vg5000_files(settings.data_dir),
                       extra="|".join([*digests, _TABLES_VERSION]))
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
        self.addresses, self.streets, self.places = load_tables(settings)
        self.addresses["key"] = [normalise(s) for s in self.addresses["street"]]
        self.addresses["number_key"] = self.addresses["number"].astype(str).str.lower() \
            .str.replace(r"\s+", "", regex=True)
        self.streets["key"] = [normalise(s) for s in self.streets["street"]]
        self.places["key"] = [normalise(s) for s in self.places["name"]]
        self._street_keys = set(self.streets["key"])
        self._place_keys = set(self.places["key"])
        self._display = {**dict(zip(self.places["key"], self.places["name"], strict=True)),
                         **dict(zip(self.streets["key"], self.streets["street"], strict=True))}

    @staticmethod
    def _in_locality(frame: pd.DataFrame, locality: str | None) -> pd.DataFrame:
        """Rows whose settlement or Gemeinde name contains the normalised ``locality``."""
        if not locality:
            return frame
        hit = [locality in normalise(str(p)) or locality in normalise(str(g))
               for p, g in zip(frame["place"], frame["gemeinde"], strict=True)]
        return frame[np.asarray(hit, bool)]

    @staticmethod
    def _label(row: pd.Series, number: str | None = None) -> str:
        town = row["place"] if row["place"] == row["gemeinde"] or not isinstance(
            row["gemeinde"], str) else f"{row['place']} ({row['gemeinde']})"
        return f"{row['street']}{' ' + number if number else ''}, {town}"

    def _match(self, street: str, number: str | None, locality: str | None) -> list[Location]:
        """Locations of a normalised street (+ number) in a normalised locality.

        A number the street lacks is looked up on streets of a nearly equal name
        (:data:`VARIANT_CUTOFF`: OSM spelling variants such as Markt-/Markstraße) before
        falling back to the street itself.
        """
        if street not in self._street_keys:
            return []
        if number:
            variants = difflib.get_close_matches(street, self._street_keys, n=4,
                                                 cutoff=VARIANT_CUTOFF)
            for key in [street, *[v for v in variants if v != street]]:
                rows = self._in_locality(
                    self.addresses[(self.addresses["key"] == key)
                                   & (self.addresses["number_key"] == number)], locality)
                if len(rows):
                    return [Location(self._label(r, str(r["number"])), float(r["lon"]),
                                     float(r["lat"]), "address", str(r["gemeinde"]))
                            for _, r in rows.iterrows()]
        rows = self._in_locality(self.streets[self.streets["key"] == street], locality)
        return [Location(self._label(r), float(r["lon"]), float(r["lat"]), "street",
                         str(r["gemeinde"])) for _, r in rows.iterrows()]

    def _match_place(self, name: str, locality: str | None) -> list[Location]:
        rows = self.places[self.places["key"] == name]
        if locality:
            rows = rows[[locality in normalise(str(g)) for g in rows["gemeinde"]]]
        return [Location(f"{r['name']} ({r['gemeinde']})" if r["gemeinde"] != r["name"]
                         else str(r["name"]), float(r["lon"]), float(r["lat"]), "place",
                         str(r["gemeinde"])) for _, r in rows.iterrows()]

    def search(self, query: str, limit: int = 5) -> list[Location]:
        """Locations matching an address, a street or a place name, best first.

        Accepted forms: ``"Weender Landstraße 2, 37073 Göttingen"``, ``"Hauptstr. 5
        Rosdorf"``, ``"Groner Landstraße"``, ``"Weende"``. The postcode is ignored (the
        tiles have none), a number range ("6-8") counts as its first number, and a number
        that the data lacks falls back to the street.

        Parameters
        ----------
        query
            Free text.
        limit
            Most results returned.

        Returns
        -------
        list of Location
            ``precision`` says whether a house number, a street or a place was found.

        Raises
        ------
        AddressNotFoundError
            Nothing matches; ``suggestions`` holds close street and place names.
        """
        text = normalise(_RANGE.sub(r"\1", _POSTCODE.sub(" ", query)))
        if not text:
            raise AddressNotFoundError("address is empty", [])
        found: list[Location] = []
        m = _NUMBERED.match(text)
        if m:
            found = self._match(m["street"].strip(), m["number"].replace(" ", ""),
                                m["locality"])
            candidates = [m["street"].strip()]
        else:
            tokens = text.split(" ")
            for cut in range(len(tokens), 0, -1):  # longest street/place name first
                head, tail = " ".join(tokens[:cut]), " ".join(tokens[cut:]) or None
                found = self._match(head, None, tail) or self._match_place(head, tail)
                if found:
                    break
            candidates = [text]
        if found:
            return found[:limit]
        close = difflib.get_close_matches(candidates[0], self._street_keys | self._place_keys,
                                          n=SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
        raise AddressNotFoundError(f"address {query!r} not found in the OSM data of the region",
                                   [self._display[c] for c in close])

    def locate(self, query: str) -> Location:
        """Return the one location of ``query`` (see :meth:`search`).

        Raises
        ------
        AddressNotFoundError
            Nothing matches, or the matches lie in more than one Gemeinde (then the
            suggestions are the matches, to be repeated with the town name).
        """
        found = self.search(query, limit=SUGGESTIONS * 4)
        if len({loc.gemeinde for loc in found}) > 1:
            raise AddressNotFoundError(
                f"address {query!r} is ambiguous: it exists in "
                f"{len({loc.gemeinde for loc in found})} Gemeinden; add the town",
                [loc.label for loc in found][:SUGGESTIONS])
        return found[0]
