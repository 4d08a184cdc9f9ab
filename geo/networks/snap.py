"""Snapping points to a network: nearest node in EPSG:3035 and the access leg to it.

A point (Zensus cell centre, offer, query location) joins the network of a mode at its
nearest node of that network's largest strongly connected component (nodes of small
fragments — tile-clipped stubs, private yards — would strand the point). The access leg is
the straight line times :attr:`AccessSettings.detour_factor` at the mode's access speed
(:func:`access_speed_kmh`). Points farther than :attr:`AccessSettings.snap_max_m` from any
such node are *not connected*: they keep their row with ``node = -1`` and ``seconds = inf``
so that callers report them instead of losing them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.errors import AccessInputError
from geo.networks.network import Network
from geo.settings import Settings
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

#: Metric CRS of snapping (ETRS89-LAEA, metres): the CRS of the Zensus grid and boundaries.
_TO_METRIC: Final = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_LONLAT: Final = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


#: equally near nodes compared per point (nodes sharing one spot)
_TIES: Final = 4


def to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (degrees) → EPSG:3035 x/y (metres)."""
    x, y = _TO_METRIC.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3035 x/y (metres) → WGS84 lon/lat (degrees)."""
    lon, lat = _TO_LONLAT.transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def access_speed_kmh(settings: Settings, mode: str) -> float:
    """Speed of the access leg (km/h) of ``mode``.

    Walk and bike at their default speed, car at the urban ``service`` road speed
    (driveways, parking lanes); AccessInputError for an unknown mode.
    """
    speeds = {"walk": settings.walk.default, "bike": settings.bike.default,
              "car": settings.car.urban["service"]}
    try:
        return speeds[mode]
    except KeyError:
        raise AccessInputError(f"unknown mode {mode!r}; modes: {', '.join(speeds)}") from None


@dataclass(frozen=True)
class Snap:
    """Points joined to a network (arrays aligned with the input points)."""

    node: np.ndarray  #: int64 node index, -1 where not connected
    distance_m: np.ndarray  #: float64 straight-line metres to that node (EPSG:3035)
    seconds: np.ndarray  #: float64 access-leg seconds, inf where not connected

    @property
    def connected(self) -> np.ndarray:
        """bool: the point lies within the snap cut-off of the network."""
        return self.node >= 0


class NodeIndex:
    """KD-tree over the main-component nodes of one network, in EPSG:3035.

    Parameters
    ----------
    net
        The mode's network.
    settings
        Access settings (detour factor, cut-off) and speeds.
    """

    def __init__(self, net: Network, settings: Settings) -> None:
        self.mode = net.mode
        self.x, self.y = to_metric(net.lon, net.lat)
        _, labels = connected_components(net.csr(), directed=True, connection="strong")
        main = np.bincount(labels).argmax()
        #: node indices the tree may return (largest strongly connected component)
        self.candidates = np.flatnonzero(labels == main)
        self.tree = cKDTree(np.column_stack([self.x[self.candidates], self.y[self.candidates]]))
        self.max_m = settings.access.snap_max_m
        #: seconds per straight-line metre of the access leg
        self.s_per_m = settings.access.detour_factor / (access_speed_kmh(settings, net.mode) / 3.6)
        log.debug("%s: %d of %d nodes snappable", net.mode, len(self.candidates), net.n_nodes)

    def snap_xy(self, x: np.ndarray, y: np.ndarray) -> Snap:
        """Snap EPSG:3035 points (metres) to their nearest node.

        Parameters
        ----------
        x, y
            Point coordinates in EPSG:3035 metres (arrays of equal length).

        Returns
        -------
        Snap
            Node index (-1 beyond ``snap_max_m``), distance in metres, access seconds.
        """
        pts = np.column_stack([np.atleast_1d(np.asarray(x, float)),
                               np.atleast_1d(np.asarray(y, float))])
        dist, idx = self._nearest(pts)
        ok = np.isfinite(dist)
        node = np.full(len(pts), -1, dtype=np.int64)
        node[ok] = self.candidates[idx[ok]]
        nearest, _ = self.tree.query(pts[~ok]) if (~ok).any() else (np.empty(0), None)
        dist[~ok] = nearest
        seconds = np.where(ok, dist * self.s_per_m, np.inf)
        return Snap(node=node, distance_m=dist, seconds=seconds)

    def _nearest(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance (m) and tree row of each point's nearest candidate within the cut-off.

        Among equally near candidates (nodes on one spot: a bridge over a road, stitched
        apart by layer) the lowest node index wins, so any part of the network cut from
        it (:func:`geo.products.batch.clip_network` keeps node order) snaps alike.
        """
        k = min(_TIES, len(self.candidates))
        dist, idx = self.tree.query(pts, k=k, distance_upper_bound=self.max_m)
        if k == 1:
            return dist, idx
        node = np.where(np.isfinite(dist),
                        self.candidates[np.minimum(idx, len(self.candidates) - 1)],
                        np.iinfo(np.int64).max)
        pick = np.argmin(np.where(dist == dist[:, :1], node, np.iinfo(np.int64).max), axis=1)
        rows = np.arange(len(pts))
        return dist[rows, pick], idx[rows, pick]

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> Snap:
        """Snap WGS84 points (degrees) to their nearest node (see :meth:`snap_xy`)."""
        return self.snap_xy(*to_metric(lon, lat))
