"""What a mode engine answers (:class:`ModeEngine`) and the results it answers with.

One engine per travel mode: :class:`~geo.engine.street.StreetEngine` for walk, bike and car
(a street network each), :class:`~geo.engine.transit_engine.TransitEngine` for walk +
public transport. :class:`~geo.engine.access.Accessibility` picks the engine by mode and
checks what all modes share (categories, levels, ``k``, budgets, points in the region). A
mode that cannot answer a question raises :class:`~geo.errors.AccessInputError` naming the
mode. Times are seconds inside, minutes in the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.networks.network import Network
from geo.networks.snap import Snap


@dataclass(frozen=True)
class OfferSet:
    """The active offers of one category joined to one mode's network."""

    category: str
    mode: str
    frame: gpd.GeoDataFrame  #: the offers (catalogue columns), rows 0..m-1
    snap: Snap  #: per row: node, metres, access seconds (offer node → offer)

    @cached_property
    def ids(self) -> np.ndarray:
        """Offer ids (str) per row."""
        return self.frame["id"].to_numpy(dtype=object)

    @cached_property
    def rows(self) -> dict[str, int]:
        """Row per offer id."""
        return {str(offer_id): row for row, offer_id in enumerate(self.ids)}

    @cached_property
    def names(self) -> np.ndarray:
        """Offer names (str) per row."""
        return self.frame["name"].to_numpy(dtype=object)

    @cached_property
    def lonlat(self) -> np.ndarray:
        """Offer locations per row (m × 2, lon/lat WGS84 degrees)."""
        return self.frame[["lon", "lat"]].to_numpy(float)

    @property
    def seeds(self) -> np.ndarray:
        """Rows of the connected offers (the ones routing starts from)."""
        return np.flatnonzero(self.snap.connected)


@dataclass(frozen=True)
class Surface:
    """Time from every node of a mode's network to the nearest offer of a category.

    ``node_offer`` indexes ``offer_ids``; ``pred`` (base surfaces only) is the predecessor
    array of the seeded transposed graph: the next node towards the offer.
    """

    category: str
    mode: str
    node_seconds: np.ndarray  #: float64 seconds per node, inf = no offer reachable
    node_offer: np.ndarray  #: int64 per node, -1 = none
    offer_ids: np.ndarray  #: object (str) per offer
    pred: np.ndarray | None = None

    def at(self, snap: Snap) -> tuple[np.ndarray, np.ndarray]:
        """Seconds to the nearest offer and its index into ``offer_ids`` for snapped points.

        Returns
        -------
        seconds, offer
            Door-to-door seconds (access leg included) and offer index per point; inf / -1
            where the point is not connected or no offer is reachable.
        """
        ok = snap.connected
        node = np.where(ok, snap.node, 0)
        seconds = np.where(ok, snap.seconds + self.node_seconds[node], np.inf)
        offer = np.where(ok & np.isfinite(seconds), self.node_offer[node], -1)
        return seconds, offer


@dataclass(frozen=True)
class NearestRoutes:
    """The k nearest offers of one point with their routes, arrays by rank (1 = nearest)."""

    offer_ids: np.ndarray  #: object (str) offer id per rank
    names: np.ndarray  #: object (str) offer name per rank
    seconds: np.ndarray  #: float64 door-to-door seconds per rank (transit: window median)
    access_m: float  #: straight-line metres from the point to its network node (transit: NaN)
    #: per rank: route vertices (m × 2, lon/lat WGS84 degrees): point, streets (transit:
    #: stops), offer
    routes: list[np.ndarray]
    #: transit only, per rank: the legs of the median departure's journey
    #: (:func:`geo.transit.query.describe_legs`: route, trip, from/to stop ids and names,
    #: departure/arrival ISO times; walks have route ``walk``); None for street modes
    legs: list[list[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class WhatIf:
    """The result of a what-if: offers added and/or removed."""

    #: the changed surface (added offers are ``new-1``, ``new-2``, …); None for transit,
    #: whose times are per cell (``cells`` carries them)
    surface: Surface | None
    gemeinden: pd.DataFrame  #: coverage per Gemeinde before, after and the change
    cells: pd.DataFrame  #: children cells whose time changed: before/after minutes, offer
    seconds: float  #: wall time of the computation, seconds


@dataclass(frozen=True)
class Supply:
    """E2SFCA result (see :mod:`geo.engine.supply`)."""

    cells: gpd.GeoDataFrame  #: children cells: cell_id, children_under_10, access, access_per_1000
    offers: pd.DataFrame  #: offer_id, name, supply, ratio (supply per weighted child)
    basis: str  #: "capacity (places)" or "offers (capacity unknown)"


class ModeEngine(Protocol):
    """Travel times of one mode in one region (see the module docstring).

    Arguments are checked by the facade: categories and grids are known, ``k`` is in
    range, budgets are positive; points are WGS84 degrees inside the region.
    """

    #: the travel mode (:class:`geo.vocabulary.Mode`)
    mode: str
    #: whether batch jobs skip the mode when :meth:`load` finds its data missing
    optional: bool
    #: whether the mode runs on a street network of its own: per-offer reach (one bounded
    #: search per offer), what-if and street-based views are exact; without one (transit)
    #: answers come from the nearest offers only
    has_network: bool

    def load(self) -> None:
        """Load the mode's data (network or timetable); raise DataError if it is missing."""

    def network(self) -> Network:
        """Return the mode's street network."""

    def offer_set(self, category: str) -> OfferSet:
        """Active offers of ``category`` joined to the network."""

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> Snap:
        """Join WGS84 points (degrees) to the network."""

    def surface(self, category: str) -> Surface:
        """Seconds from every network node to the nearest offer of ``category``."""

    def cell_minutes(self, category: str, grid: str) -> tuple[np.ndarray, np.ndarray]:
        """Minutes (inf = none) and connected flag per cell of ``grid`` (coverage input)."""

    def cells(self, category: str, grid: str) -> pd.DataFrame:
        """Long-form cell table of ``grid`` (see :meth:`Accessibility.cells`)."""

    def raster_seconds(self, category: str) -> np.ndarray:
        """Seconds to the nearest offer per raster cell (inf = none)."""

    def nearest_many(self, lon: np.ndarray, lat: np.ndarray, category: str,
                     k: int) -> pd.DataFrame:
        """Find the ``k`` nearest offers of many points: point, rank, offer_id, minutes."""

    def nearest_routes(self, lon: float, lat: float, category: str, k: int) -> NearestRoutes:
        """Find the ``k`` nearest offers of one point with their routes."""

    def minutes_to(self, lon: float, lat: float, category: str,
                   offer_ids: Sequence[str]) -> np.ndarray:
        """Minutes from one point to given offers of ``category`` (inf beyond the limit)."""

    def nearest(self, lon: float, lat: float, category: str, k: int) -> gpd.GeoDataFrame:
        """Find the ``k`` nearest offers of one point: a GeoDataFrame with routes."""

    def isochrones(self, lon: float, lat: float, budgets: Sequence[float]
                   ) -> gpd.GeoDataFrame:
        """Reach polygons per budget (minutes, largest first), EPSG:4326."""

    def what_if(self, category: str, add: Sequence[tuple[float, float]],
                remove: Sequence[str]) -> WhatIf:
        """Add and/or remove offers of ``category``; the changed surface and coverage."""

    def supply(self, category: str) -> Supply:
        """E2SFCA supply per child of ``category``."""

    def not_connected(self, categories: Sequence[str]) -> dict[str, Any] | None:
        """Count cells and offers beyond the network's reach (None: not applicable)."""
