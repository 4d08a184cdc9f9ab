"""Shortest paths on a :class:`~geo.network.Network` CSR with scipy's Dijkstra.

Direction: a family travels *from* home *to* an offer. Times to a set of offers for every
node are therefore one run on the **transposed** graph from the offers (that matters for
car one-ways). Each offer's own access leg (offer point → its node) enters as a *seed*: a
virtual node with one edge of that many seconds to the offer's node, appended to the
graph, so a multi-source run (``min_only=True``) starts every offer at its access time and
reports which offer is nearest (``sources``). All times are seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.network import Network

#: Sources per per-source Dijkstra call: bounds memory to chunk × nodes × 8 bytes.
CHUNK = 64


def transpose(graph: csr_matrix) -> csr_matrix:
    """The graph with every edge reversed, as CSR (edge u→v becomes v→u)."""
    return graph.T.tocsr()


def with_seeds(graph: csr_matrix, nodes: np.ndarray, seconds: np.ndarray) -> csr_matrix:
    """Append one virtual node per seed with an edge to ``nodes[i]`` weighing ``seconds[i]``.

    Parameters
    ----------
    graph
        n × n CSR graph (seconds).
    nodes
        Node index per seed (int, m).
    seconds
        Access seconds per seed (float, m; 0 allowed: explicit zeros are edges in csgraph).

    Returns
    -------
    scipy.sparse.csr_matrix
        (n + m) × (n + m) graph; seed ``i`` is node ``n + i``.
    """
    n, m = graph.shape[0], len(nodes)
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + np.arange(1, m + 1)])
    indices = np.concatenate([graph.indices, np.asarray(nodes, graph.indices.dtype)])
    data = np.concatenate([graph.data, np.asarray(seconds, float)])
    return csr_matrix((data, indices, indptr), shape=(n + m, n + m))


@dataclass(frozen=True)
class Field:
    """Shortest times from every node to the nearest of a set of seeds."""

    seconds: np.ndarray  #: float64 per node, inf where no seed is reachable
    seed: np.ndarray  #: int64 seed index per node, -1 where unreachable
    #: predecessor per node in the seeded graph: the next node *towards* the seed;
    #: values >= n_nodes are seed nodes, < 0 none
    pred: np.ndarray


def multi_source(graph_t: csr_matrix, nodes: np.ndarray, seconds: np.ndarray,
                 limit: float = np.inf) -> Field:
    """Time from every node to its nearest seed: one Dijkstra with ``min_only=True``.

    Parameters
    ----------
    graph_t
        The **transposed** travel-time graph (:func:`transpose`), seconds.
    nodes, seconds
        Seed node indices and their access seconds (see :func:`with_seeds`).
    limit
        Stop at this time (seconds); nodes beyond are inf.

    Returns
    -------
    Field
        Seconds, nearest seed and predecessors per node.
    """
    n = graph_t.shape[0]
    if len(nodes) == 0:
        return Field(np.full(n, np.inf), np.full(n, -1, np.int64), np.full(n, -9999, np.int32))
    seeded = with_seeds(graph_t, nodes, seconds)
    dist, pred, source = dijkstra(seeded, indices=n + np.arange(len(nodes)), min_only=True,
                                  limit=limit, return_predecessors=True)
    seed = np.where(source[:n] >= 0, source[:n] - n, -1).astype(np.int64)
    return Field(dist[:n], seed, pred[:n])


def per_source(graph_t: csr_matrix, nodes: np.ndarray, seconds: np.ndarray,
               limit: float) -> Iterator[tuple[slice, np.ndarray]]:
    """Times from every node to each seed separately, ``CHUNK`` seeds per Dijkstra call.

    Yields
    ------
    (slice, numpy.ndarray)
        The seeds of the chunk and their times (chunk × nodes, seconds incl. the seed's
        access leg; inf beyond ``limit``).
    """
    for start in range(0, len(nodes), CHUNK):
        part = slice(start, min(start + CHUNK, len(nodes)))
        dist = dijkstra(graph_t, indices=nodes[part], limit=limit)
        dist += np.asarray(seconds[part], float)[:, None]
        dist[dist > limit] = np.inf
        yield part, dist


def top_k(graph_t: csr_matrix, nodes: np.ndarray, seconds: np.ndarray, k: int,
          limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest seeds of every node within ``limit`` seconds.

    Per-source bounded Dijkstra runs (chunked). After each chunk, the nodes where it beats
    the current k-th time merge their k best and the chunk's times by k rounds of
    row-wise ``argmin`` (k is small: cheaper than a partition per row).

    Returns
    -------
    seconds, seed
        n × k arrays sorted by time: seconds (inf where fewer than k seeds are in reach)
        and seed index (-1 there).
    """
    n = graph_t.shape[0]
    best_t = np.full((n, k), np.inf)
    best_s = np.full((n, k), -1, dtype=np.int64)
    for part, dist in per_source(graph_t, nodes, seconds, limit):
        cols = np.flatnonzero(dist.min(axis=0) < best_t[:, -1])
        cand_t = np.hstack([best_t[cols], dist[:, cols].T])
        ids = np.arange(part.start, part.stop)
        cand_s = np.hstack([best_s[cols], np.broadcast_to(ids, (len(cols), len(ids)))])
        rows = np.arange(len(cols))
        for j in range(k):
            pick = cand_t.argmin(axis=1)
            best_t[cols, j] = cand_t[rows, pick]
            best_s[cols, j] = cand_s[rows, pick]
            cand_t[rows, pick] = np.inf
    best_s[np.isinf(best_t)] = -1
    return best_t, best_s


def walk_back(pred: np.ndarray, node: int, n_nodes: int) -> np.ndarray:
    """Nodes from ``node`` following ``pred`` until a seed (>= n_nodes) or a root (< 0).

    Sequential by nature; a route has at most a few thousand nodes.
    """
    path = [node]
    nxt = int(pred[node])
    while 0 <= nxt < n_nodes:
        path.append(nxt)
        nxt = int(pred[nxt])
    return np.asarray(path, dtype=np.int64)


class EdgeLookup:
    """Find the fastest edge ``u → v`` of a network (the one its CSR keeps), vectorised."""

    def __init__(self, net: Network) -> None:
        self.net = net
        order = np.lexsort((net.travel_time, net.v, net.u))
        key = net.u[order].astype(np.int64) * net.n_nodes + net.v[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        self.key, self.edge = key[first], order[first]

    def edges(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Edge index of the fastest edge for each pair (pairs must be edges)."""
        pos = np.searchsorted(self.key, np.asarray(u, np.int64) * self.net.n_nodes + v)
        return self.edge[pos]

    def path_coords(self, nodes: np.ndarray) -> np.ndarray:
        """Lon/lat vertices (k × 2, WGS84) along a node path, edge geometries joined."""
        net = self.net
        if len(nodes) < 2:
            return np.column_stack([net.lon[nodes], net.lat[nodes]])
        edges = self.edges(nodes[:-1], nodes[1:])
        lo, hi = net.geom_offsets[edges], net.geom_offsets[edges + 1]
        # every edge's vertices except its last (the next edge's first), then the end node
        sizes = hi - lo - 1
        start = np.repeat(lo - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        idx = np.concatenate([start + np.arange(sizes.sum()), [hi[-1] - 1]])
        return np.column_stack([net.geom_lon[idx], net.geom_lat[idx]])
