"""Postal addresses of offers: their own, else the nearest OSM house number.

Most offers from the OSM ``poi`` layer carry no address. :func:`offer_addresses` gives each
offer one line a family can read, and says where it comes from (``address_source``):

* ``offer`` — the offer's own street, house number, postcode and town;
* ``housenumber_street`` — the offer names its street but no number: the nearest house
  number of the tiles' ``housenumber`` layer on that street (folded names equal), within
  :data:`SAME_STREET_MAX_M`;
* ``housenumber_nearby`` — the offer has no street: the nearest house number within
  :data:`NEARBY_MAX_M`;
* ``offer`` also for an offer with only its postcode and/or town, when no house number lies
  near; None when nothing is known.

House numbers are those of the address index (:class:`geo.sources.geocode.Geocoder`:
each number with the name of its nearest street). Distances in EPSG:3035 metres.
"""

from __future__ import annotations

from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.sources.geocode import Geocoder, fold
from geo.vocabulary import METRIC_CRS

#: A house number farther than this (metres) from an offer without a street is another
#: building's: an offer's entrance lies within a few dozen metres of its address point.
NEARBY_MAX_M: Final = 50.0
#: The nearest number on the offer's own street is taken within this (metres): the street
#: name of a house number is its nearest street within 150 m (geocode), so beyond that the
#: same name is another street of the same name.
SAME_STREET_MAX_M: Final = 150.0


def _metric(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3035 x, y (metres) of the WGS84 ``lon``/``lat`` columns of ``frame``."""
    points = gpd.GeoSeries(gpd.points_from_xy(frame["lon"].astype(float),
                                              frame["lat"].astype(float)),
                           crs="EPSG:4326").to_crs(METRIC_CRS)
    return points.x.to_numpy(), points.y.to_numpy()


def _own(row: pd.Series) -> tuple[str, str]:
    """Street line and town line of an offer's own fields ("" where unknown)."""
    def part(*keys: str) -> str:
        return " ".join(str(row[k]).strip() for k in keys
                        if isinstance(row.get(k), str) and str(row[k]).strip())
    return part("street", "housenumber"), part("postcode", "town")


def offer_addresses(offers: pd.DataFrame, geocoder: Geocoder) -> pd.DataFrame:
    """Return ``address`` and ``address_source`` of every offer (see module docstring).

    Parameters
    ----------
    offers
        Catalogue with ``street``, ``housenumber``, ``postcode``, ``town``, ``lon``,
        ``lat`` (WGS84 degrees).
    geocoder
        The address index of the region.

    Returns
    -------
    pandas.DataFrame
        Same index as ``offers``: ``address`` (str or None), ``address_source``.
    """
    book = geocoder.addresses
    bx, by = _metric(book)
    tree = cKDTree(np.column_stack([bx, by]))
    street_rows = book.groupby("key").indices
    ox, oy = _metric(offers)
    near_m, near_i = tree.query(np.column_stack([ox, oy]), distance_upper_bound=NEARBY_MAX_M)
    out: list[tuple[str | None, str | None]] = []
    for i, (_, row) in enumerate(offers.iterrows()):
        street, town = _own(row)
        has_number = isinstance(row.get("housenumber"), str) and row["housenumber"].strip()
        if street and has_number:
            out.append((", ".join(p for p in (street, town) if p), "offer"))
            continue
        rows = street_rows.get(fold(street), []) if street else []
        if len(rows):
            d = np.hypot(bx[rows] - ox[i], by[rows] - oy[i])
            if d.min() <= SAME_STREET_MAX_M:
                hit = book.iloc[rows[int(d.argmin())]]
                out.append((Geocoder.label(hit, str(hit["number"])), "housenumber_street"))
                continue
        if not street and np.isfinite(near_m[i]):
            hit = book.iloc[int(near_i[i])]
            out.append((Geocoder.label(hit, str(hit["number"])), "housenumber_nearby"))
            continue
        own = ", ".join(p for p in (street, town) if p)
        out.append((own, "offer") if own else (None, None))
    return pd.DataFrame(out, columns=["address", "address_source"], index=offers.index)
