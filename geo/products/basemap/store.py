"""The base map's features, decoded once from the vector tiles and generalised per zoom band.

:func:`build_store` reads the drawn layers of the county tiles (2021) and the city tiles
(2026) with :func:`geo.sources.tiles.read_layers` (decoded layers cached in
``processed/tiles-cache``), keeps the newer city features wherever a city tile exists
(features are cut to their own z14 tile square, so a tile is either all 2021 or all 2026),
adds the Gemeinde and county borders (BKG VG5000) and writes, in Web Mercator metres
(EPSG:3857):

* ``level_<z>.parquet`` for each zoom band of :data:`LEVELS`: the features drawn from zoom
  ``z`` on, simplified to half a pixel of the band's largest zoom, areas smaller than a
  pixel dropped. Low zooms thus never decode tiles: z8–13 read a few thousand simplified
  shapes instead of the 1,624 tiles' full geometry.
* ``places.parquet`` (``place`` layer: name, class, rank) and ``streets.parquet``
  (``transportation_name``: name, class, lines) for the labels.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._io import atomic_path
from geo.products.basemap import style
from geo.settings import Settings, get_region
from geo.sources import boundaries
from geo.sources.tiles import feature_names, open_tileset, read_layers

log = logging.getLogger(__name__)

#: Web Mercator (EPSG:3857), the CRS of tiles and of the stored features.
MERCATOR: Final = "EPSG:3857"
#: Half the Web Mercator world width, metres.
HALF_WORLD: Final = 20037508.342789244
#: First zoom of each generalisation band; the last band holds the full detail.
LEVELS: Final = (8, 10, 12, 14)
#: Rows per Parquet row group of the feature bands (a z15 tile reads a few groups).
ROW_GROUP: Final = 2000
#: Tile layers drawn on the base map (``boundary`` comes from VG5000 instead).
DRAWN_LAYERS: Final = ("water", "waterway", "landcover", "landuse", "transportation",
                       "building")
#: Place classes used for labels (others, e.g. ``continent``, are not in a county).
PLACE_CLASSES: Final = ("city", "town", "village", "suburb", "hamlet", "quarter",
                        "neighbourhood", "isolated_dwelling", "locality")


def store_dir(settings: Settings) -> Path:
    """Folder of the base map (features, tiles, manifest) of the settings' region."""
    return settings.processed_dir / get_region(settings.region).name / "basemap"


def metres_per_pixel(zoom: float) -> float:
    """Web Mercator metres per CSS pixel of a 256-pixel tile at ``zoom``."""
    return 2 * HALF_WORLD / (256 * 2.0**zoom)


def level_of(zoom: int) -> int:
    """Return the generalisation band (first zoom of :data:`LEVELS`) drawn at ``zoom``."""
    return max(level for level in LEVELS if level <= max(zoom, LEVELS[0]))


def tile_inputs(settings: Settings) -> list[Path]:
    """Tile files and metadata of the region's tile sets (the build's inputs)."""
    region = get_region(settings.region)
    out: list[Path] = []
    for cfg in (region.tiles, region.city_tiles):
        if cfg is not None:
            ts = open_tileset(settings.data_dir / cfg.path, cfg.zoom)
            out += [*ts.paths, ts.root / "metadata.json"]
    return out


def decode(settings: Settings, layers: tuple[str, ...]) -> dict[str, gpd.GeoDataFrame]:
    """Decode ``layers`` of the county tiles, replaced by the city tiles where those exist.

    Returns one GeoDataFrame (EPSG:4326) per layer with a column ``vintage``.
    """
    region = get_region(settings.region)
    sets = [(cfg, open_tileset(settings.data_dir / cfg.path, cfg.zoom))
            for cfg in (region.city_tiles, region.tiles) if cfg is not None]
    cache = settings.processed_dir / "tiles-cache"
    frames: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in layers}
    covered: set[tuple[int, int]] = set()
    for cfg, ts in sets:  # newest first: later sets only fill the tiles not yet covered
        decoded = read_layers(ts, layers, cache_dir=cache, workers=settings.network.workers)
        for name, frame in decoded.items():
            own = [(x, y) not in covered for x, y in zip(frame["tile_x"], frame["tile_y"],
                                                         strict=True)]
            part = frame[np.asarray(own, dtype=bool)].copy()
            part["vintage"] = cfg.vintage
            frames[name].append(part)
            log.info("base map: %d %s features of %s (%s)", len(part), name, ts.root,
                     cfg.vintage)
        covered |= set(ts.tiles)
    return {name: gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")
            for name, parts in frames.items()}


def drawn_features(settings: Settings, decoded: dict[str, gpd.GeoDataFrame]
                   ) -> gpd.GeoDataFrame:
    """Every drawn feature with its ``kind`` and ``min_zoom`` (EPSG:3857), borders included."""
    parts = []
    for layer in DRAWN_LAYERS:
        frame = decoded[layer]
        kind = style.classify(layer, frame)
        keep = (kind != "").to_numpy()
        parts.append(gpd.GeoDataFrame({"kind": kind[keep].to_numpy()},
                                      geometry=frame.geometry.to_numpy()[keep],
                                      crs="EPSG:4326"))
    gemeinden = boundaries.load_units(settings, "gemeinde")
    county = boundaries.load_units(settings, "county")
    borders = gpd.GeoDataFrame(
        {"kind": ["border"] * len(gemeinden) + ["county_border"] * len(county)},
        geometry=np.concatenate([gemeinden.geometry.boundary.to_numpy(),
                                 county.geometry.boundary.to_numpy()]),
        crs=gemeinden.crs).to_crs("EPSG:4326")
    features = gpd.GeoDataFrame(pd.concat([*parts, borders], ignore_index=True),
                                crs="EPSG:4326").to_crs(MERCATOR)
    geoms = features.geometry.to_numpy()
    broken = ~shapely.is_valid(geoms)  # tiles hold a few self-touching rings: repair them,
    geoms[broken] = shapely.make_valid(geoms[broken])  # so windows can be cut exactly
    features = features.set_geometry(geoms)
    first = {k: a.min_zoom for k, a in style.AREAS.items()}
    first.update({k: line.min_zoom for k, line in style.LINES.items()})
    first.update(border=style.BORDER.min_zoom, county_border=style.COUNTY_BORDER.min_zoom)
    features["min_zoom"] = features["kind"].map(first).astype(np.int16)
    return features


def generalise(features: gpd.GeoDataFrame, level: int) -> gpd.GeoDataFrame:
    """Return the features of the band starting at zoom ``level`` (see module doc)."""
    last = next((lv for lv in LEVELS if lv > level), None)
    if last is None:  # the full-detail band
        return features.reset_index(drop=True)
    top = last - 1  # largest zoom drawn from this band
    band = features[features["min_zoom"] <= top]
    px = metres_per_pixel(top)
    geoms = shapely.simplify(band.geometry.to_numpy(), px / 2, preserve_topology=True)
    areas = shapely.get_type_id(geoms) >= 3
    keep = ~shapely.is_empty(geoms) & (~areas | (shapely.area(geoms) >= px * px))
    out = gpd.GeoDataFrame({"kind": band["kind"].to_numpy()[keep],
                            "min_zoom": band["min_zoom"].to_numpy()[keep]},
                           geometry=geoms[keep], crs=MERCATOR)
    log.info("base map band z%d–%d: %d of %d features, simplified to %.0f m", level, top,
             len(out), len(features), px / 2)
    return out


def label_sources(decoded: dict[str, gpd.GeoDataFrame]
                  ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Places (name, class, rank; points) and named street lines (name, class), EPSG:3857."""
    place = decoded["place"]
    names = feature_names(place)
    cls = place["class"].astype(str) if "class" in place else pd.Series("", index=place.index)
    rank = (pd.to_numeric(place["rank"], errors="coerce") if "rank" in place
            else pd.Series(np.nan, index=place.index))
    keep = (names.notna() & cls.isin(PLACE_CLASSES)).to_numpy()
    places = gpd.GeoDataFrame(
        {"name": names[keep].astype(str).to_numpy(), "class": cls[keep].to_numpy(),
         "rank": rank[keep].fillna(99).astype(np.int16).to_numpy()},
        geometry=shapely.centroid(place.geometry.to_numpy()[keep]), crs="EPSG:4326")
    places = places.drop_duplicates(subset=["name", "class"]).to_crs(MERCATOR)
    tn = decoded["transportation_name"]
    names = feature_names(tn)
    keep = names.notna().to_numpy()
    streets = gpd.GeoDataFrame(
        {"name": names[keep].astype(str).to_numpy(),
         "class": tn["class"].astype(str).to_numpy()[keep]},
        geometry=tn.geometry.to_numpy()[keep], crs="EPSG:4326").to_crs(MERCATOR)
    streets = streets.explode(index_parts=False)
    streets = streets[shapely.get_type_id(streets.geometry.to_numpy()) == 1]
    return places.reset_index(drop=True), streets.reset_index(drop=True)


def write_frame(frame: gpd.GeoDataFrame, target: Path, spatial: bool = False) -> Path:
    """Write a GeoDataFrame as GeoParquet atomically.

    ``spatial``: rows in Hilbert-curve order, in row groups of :data:`ROW_GROUP` rows with
    a bounding-box column, so that a reader asking for one tile's box
    (``read_parquet(bbox=…)``) reads only the few row groups near it.
    """
    if spatial and len(frame):
        frame = frame.iloc[np.argsort(frame.geometry.hilbert_distance(), kind="stable")]
    with atomic_path(target) as tmp:
        if spatial:
            frame.to_parquet(tmp, write_covering_bbox=True, row_group_size=ROW_GROUP)
        else:
            frame.to_parquet(tmp)
    return target


def build_store(settings: Settings) -> list[Path]:
    """Decode, classify and generalise the base map's features into :func:`store_dir`.

    Returns the files written.
    """
    folder = store_dir(settings)
    decoded = decode(settings, (*DRAWN_LAYERS, "place", "transportation_name"))
    features = drawn_features(settings, decoded)
    written = [write_frame(generalise(features, level), folder / f"level_{level}.parquet",
                           spatial=True) for level in LEVELS]
    places, streets = label_sources(decoded)
    written.append(write_frame(places, folder / "places.parquet"))
    written.append(write_frame(streets, folder / "streets.parquet"))
    log.info("base map store: %d features, %d places, %d street lines in %s",
             len(features), len(places), len(streets), folder)
    return written
