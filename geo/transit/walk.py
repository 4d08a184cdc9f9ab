"""Walk models of the transit router: access from a point, transfers between stops, egress.

A *walk model* is any callable ``walk(from_xy, to_xy) -> (i, j, seconds)`` on EPSG:3035
metres that lists every pair with a walk and its duration in whole seconds.
:class:`CrowFlyWalk` is the default (crow-fly metres × detour factor at walking speed, up to
``max_walk_m``); :class:`NetworkWalk` walks on the street walk network where we hold one.
Walks are single hops, never chained: one walk after each vehicle, as in r5's transfer
search. :func:`walk_whole_way_s` is walking the whole way (no distance limit): on the
street network with :class:`NetworkWalk` (the walk mode's time), else crow-fly
(:func:`direct_walk_s`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.networks.network import Network
from geo.networks.snap import NodeIndex
from geo.settings import Settings, TransitSettings

#: ``walk(from_xy, to_xy) -> (i, j, seconds)``: every pair with a walk from ``from_xy[i]`` to
#: ``to_xy[j]`` (arrays (n, 2) of EPSG:3035 metres) and its duration in whole seconds.
WalkModel = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class CrowFlyWalk:
    """Walk model from straight-line distance.

    Duration = ceil(crow-fly metres × ``detour`` / ``speed_mps``) for pairs within
    ``max_m`` crow-fly metres (the limit is on the crow-fly distance).
    """

    speed_mps: float
    detour: float
    max_m: float

    @classmethod
    def from_settings(cls, s: TransitSettings) -> CrowFlyWalk:
        """Build the walk model the settings describe."""
        return cls(s.walk_speed_kmh / 3.6, s.detour_factor, s.max_walk_m)

    def __call__(self, from_xy: np.ndarray, to_xy: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pairs within ``max_m``: indices into ``from_xy``, ``to_xy`` and seconds."""
        i, j, metres = _pairs_within(from_xy, to_xy, self.max_m)
        return i, j, np.ceil(metres * self.detour / self.speed_mps).astype(np.int32)


@dataclass(frozen=True, eq=False)
class NetworkWalk:
    """Walk model on a street walk network (:class:`geo.networks.network.Network`, mode ``walk``).

    Both ends join the network at their nearest node (:class:`geo.networks.snap.NodeIndex`: straight
    access leg × the access detour factor at walking speed); between the two nodes the
    shortest path by scipy's Dijkstra on ``travel_time`` (seconds). Candidate pairs are
    those within ``max_m`` crow-fly metres; a pair is kept when its walk takes at most
    ``max_s`` seconds (the crow-fly model's budget: ``max_m`` × detour / speed).
    """

    net: Network
    index: NodeIndex
    max_m: float
    max_s: float
    #: origins per Dijkstra call (memory: chunk × network nodes × 8 bytes)
    chunk: int = 32

    @classmethod
    def from_settings(cls, net: Network, settings: Settings) -> NetworkWalk:
        """Build the walk model for ``net`` with the transit and access settings."""
        t = settings.transit
        return cls(net, NodeIndex(net, settings), t.max_walk_m,
                   t.max_walk_m * t.detour_factor / (t.walk_speed_kmh / 3.6))

    def __call__(self, from_xy: np.ndarray, to_xy: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pairs with a network walk within the limits: indices and whole seconds."""
        from_xy, to_xy = np.asarray(from_xy, float), np.asarray(to_xy, float)
        i, j, _ = _pairs_within(from_xy, to_xy, self.max_m)
        a = self.index.snap_xy(from_xy[:, 0], from_xy[:, 1])
        b = self.index.snap_xy(to_xy[:, 0], to_xy[:, 1])
        ok = a.connected[i] & b.connected[j]
        i, j = i[ok], j[ok]
        seconds = np.full(len(i), np.inf)
        nodes, inverse = np.unique(a.node[i], return_inverse=True)
        graph = self.net.csr()
        for lo in range(0, len(nodes), self.chunk):
            rows = np.flatnonzero((inverse >= lo) & (inverse < lo + self.chunk))
            dist = dijkstra(graph, indices=nodes[lo:lo + self.chunk], limit=self.max_s)
            seconds[rows] = dist[inverse[rows] - lo, b.node[j[rows]]]
        seconds += a.seconds[i] + b.seconds[j]
        keep = seconds <= self.max_s
        return i[keep], j[keep], np.ceil(seconds[keep]).astype(np.int32)

    @functools.cached_property
    def fastest_mps(self) -> float:
        """The fastest walking speed of the network's edges, metres per second."""
        moving = self.net.travel_time > 0
        return float(np.max(self.net.length[moving] / self.net.travel_time[moving]))

    def direct(self, from_xy: np.ndarray, to_xy: np.ndarray) -> np.ndarray:
        """Seconds walking the whole way on the network, every pair, no distance limit.

        The street walk mode's door-to-door time: access leg to the origin's node, shortest
        path, access leg from the destination's node (the same snap, network and speeds as
        :class:`geo.engine.street.StreetEngine` on this network). Not rounded.

        Returns
        -------
        numpy.ndarray, shape (n, m)
            Seconds; inf where either end lies beyond the snap cut-off.
        """
        a = self.index.snap_xy(*np.asarray(from_xy, float).reshape(-1, 2).T)
        b = self.index.snap_xy(*np.asarray(to_xy, float).reshape(-1, 2).T)
        out = np.full((len(a.node), len(b.node)), np.inf)
        rows, cols = np.flatnonzero(a.connected), np.flatnonzero(b.connected)
        nodes, inverse = np.unique(a.node[rows], return_inverse=True)
        graph = self.net.csr()
        for lo in range(0, len(nodes), self.chunk):
            dist = dijkstra(graph, indices=nodes[lo:lo + self.chunk])
            part = (inverse >= lo) & (inverse < lo + self.chunk)
            out[np.ix_(rows[part], cols)] = dist[inverse[part] - lo][:, b.node[cols]]
        return out + a.seconds[:, None] + b.seconds[None, :]


def _pairs_within(from_xy: np.ndarray, to_xy: np.ndarray, max_m: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of points within ``max_m`` crow-fly metres, coincident points included.

    Returns
    -------
    i, j, metres
        Indices into ``from_xy`` and ``to_xy`` (int64) and the distance (metres).
    """
    a, b = cKDTree(np.asarray(from_xy, float)), cKDTree(np.asarray(to_xy, float))
    pairs = a.sparse_distance_matrix(b, max_m, output_type="coo_matrix")
    # sparse_distance_matrix drops zero distances: add coincident points back
    lists = a.query_ball_tree(b, 0.0)
    same_i = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    same_j = np.fromiter((k for x in lists for k in x), np.int64, count=len(same_i))
    return (np.r_[pairs.row, same_i].astype(np.int64), np.r_[pairs.col, same_j].astype(np.int64),
            np.r_[pairs.data, np.zeros(len(same_i))])


def walk_whole_way_s(walk: WalkModel, from_xy: np.ndarray, to_xy: np.ndarray,
                     settings: TransitSettings) -> np.ndarray:
    """Seconds walking the whole way from each of ``from_xy`` to each of ``to_xy``.

    On the street network when ``walk`` is a :class:`NetworkWalk` (:meth:`NetworkWalk.direct`:
    exactly the street walk mode's time), else crow-fly × detour (:func:`direct_walk_s`).
    Shape (n, m); inf where a point lies beyond the network's snap cut-off.
    """
    if isinstance(walk, NetworkWalk):
        return walk.direct(from_xy, to_xy)
    return direct_walk_s(from_xy, to_xy, settings)


def reach_m(walk: WalkModel, seconds: float, settings: TransitSettings) -> float:
    """Return the farthest crow-fly metres a walk of ``seconds`` can cover under ``walk``.

    A bound for choosing candidates. Crow-fly × detour (:class:`CrowFlyWalk` and any other
    model): seconds × walking speed ÷ detour factor. On the street network
    (:class:`NetworkWalk`) a walk is never shorter than the straight line but may be
    straighter than the detour factor says: seconds × the fastest of the network's edge
    speeds and the walking speed (access legs).
    """
    speed = settings.walk_speed_kmh / 3.6
    if isinstance(walk, NetworkWalk):
        return seconds * max(speed, walk.fastest_mps)
    return seconds * speed / settings.detour_factor


def direct_walk_s(from_xy: np.ndarray, to_xy: np.ndarray, settings: TransitSettings
                  ) -> np.ndarray:
    """Time walking the whole way: crow-fly metres × detour at walking speed, no limit.

    Parameters
    ----------
    from_xy, to_xy : numpy.ndarray, shape (n, 2) and (m, 2)
        EPSG:3035 metres.
    settings : TransitSettings

    Returns
    -------
    numpy.ndarray, shape (n, m)
        Whole seconds.
    """
    a, b = np.asarray(from_xy, float).reshape(-1, 2), np.asarray(to_xy, float).reshape(-1, 2)
    metres = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return np.ceil(metres * settings.detour_factor / (settings.walk_speed_kmh / 3.6))

