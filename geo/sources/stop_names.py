"""A gazetteer of the public-transport stops of the region's loaded timetable.

Bus users know their stop by name ("Ellmendingen Pforzheimer Str."): the address search
(:class:`geo.sources.geocode.Geocoder`) finds these names as well. They are read from
``stops.txt`` of the feed that ``erreichbar gtfs load --region R`` stored
(:func:`geo.sources.gtfs.stored_feed_path`), without parsing the timetable itself.

One row per place a user means by a name, as :func:`geo.transit.query.resolve_stops` reads
names: each station (``location_type`` 1) at the station's own coordinates, and each stop
without a station; platforms of a station are not listed apart. Only stops inside the
region count (within ``OfferSettings.region_tolerance_m`` metres of its VG5000 Gemeinden;
the stored feed keeps stops in a halo around it), each with the Gemeinde it lies in, else
the nearest one.
"""

from __future__ import annotations

import logging
import zipfile
from typing import Final

import geopandas as gpd
import pandas as pd

from geo._io import BuildManifest
from geo.settings import Settings
from geo.sources.boundaries import load_units
from geo.sources.gtfs import stored_feed_path
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

#: ``class`` of a stop in the geocoder's place table.
STOP_CLASS: Final = "stop"
#: Columns of :func:`stop_places` (those of the geocoder's place table).
COLUMNS: Final = ("name", "class", "gemeinde", "lon", "lat")


def _stations(path: str) -> pd.DataFrame:
    """Stations and stops without a station of a GTFS zip's ``stops.txt`` (text columns)."""
    with zipfile.ZipFile(path) as archive, archive.open("stops.txt") as file:
        stops = pd.read_csv(file, dtype=str, keep_default_na=False)
    for column in ("location_type", "parent_station"):
        if column not in stops.columns:
            stops[column] = ""
    kind = stops["location_type"].str.strip()
    keep = (kind == "1") | (kind.isin(["", "0"]) & (stops["parent_station"].str.strip() == ""))
    stops = stops[keep & (stops["stop_name"].str.strip() != "")]
    return stops.assign(lon=pd.to_numeric(stops["stop_lon"], errors="coerce"),
                        lat=pd.to_numeric(stops["stop_lat"], errors="coerce")).dropna(
        subset=["lon", "lat"])


def stop_places(settings: Settings) -> pd.DataFrame:
    """Named stops of the region's stored timetable (empty when none is loaded).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: ``name`` (as in the feed), ``class`` (:data:`STOP_CLASS`),
        ``gemeinde`` (VG5000 name), ``lon``, ``lat`` (WGS84 degrees).
    """
    path = stored_feed_path(settings, settings.region)
    if not path.is_file() or BuildManifest(path.with_suffix(".json")).is_current(None) is None:
        return pd.DataFrame(columns=list(COLUMNS))
    stops = _stations(str(path))
    points = gpd.GeoDataFrame(
        {"name": stops["stop_name"].str.strip().to_numpy(), "lon": stops["lon"].to_numpy(),
         "lat": stops["lat"].to_numpy()},
        geometry=gpd.points_from_xy(stops["lon"], stops["lat"]), crs="EPSG:4326"
    ).to_crs(METRIC_CRS)
    gemeinden = load_units(settings, "gemeinde")[["name", "geometry"]].rename(
        columns={"name": "gemeinde"})
    near = gpd.sjoin_nearest(points, gemeinden, how="inner",
                             max_distance=settings.offers.region_tolerance_m)
    near = near[~near.index.duplicated()]
    log.info("stop names: %d stations and stops of %s in the region (of %d)", len(near),
             path, len(points))
    return pd.DataFrame({"name": near["name"], "class": STOP_CLASS,
                         "gemeinde": near["gemeinde"], "lon": near["lon"],
                         "lat": near["lat"]}).reset_index(drop=True)
