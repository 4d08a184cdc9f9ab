"""Shortest paths on a :class:`~geo.networks.network.Network` CSR with scipy's Dijkstra.

Direction: a family travels *from* home *to* an offer. Times to a set of offers for every
node are therefore one run on the **transposed** graph from the offers (that matters for
car one-ways). Each offer's own access leg (offer point → its node) enters as a *seed*: a
virtual node with one edge of that many seconds to the offer's node, appended to the
graph, so a multi-source run (``min_only=True``) starts every offer at its access time and
reports which offer is nearest (``sources``). All times are seconds.

:func:`times_to` is the one search not run by scipy: from one node to a few targets, it
stops as soon as the last target is settled (compiled with numba), where scipy's Dijkstra
would search the whole ``limit``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.networks.network import Network

#: Sources per per-source Dijkstra call: bounds memory to chunk × nodes × 8 bytes.
CHUNK = 64


def transpose(graph: csr_matrix) -> csr_matrix:
    """Return the graph with every edge reversed, as CSR (edge u→v becomes v→u)."""
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
    """Yield times from every node to each seed separately, ``CHUNK`` seeds per Dijkstra call.

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
    """Find the ``k`` nearest seeds of every node within ``limit`` seconds (exact).

    It takes ``k`` multi-source Dijkstra runs however many seeds there are.

    Level 1 is :func:`multi_source`. For level ``j`` > 1: the ``j``-th nearest seed of node
    ``v`` is the best, over ``v``'s forward edges ``v → w`` of ``c`` seconds (seeds are
    nodes too, reached from their node by their access leg), of ``c`` + the nearest seed of
    ``w`` that is not among ``v``'s ``j - 1`` nearest. Where ``w``'s ``j - 1`` nearest
    are ``v``'s, that is ``c`` + ``w``'s own ``j``-th (an edge of a shortest-path
    problem); otherwise it is one of ``w``'s known times (a start value of ``v``). So each
    level is one multi-source Dijkstra over those edges from every node's best start value.

    Parameters
    ----------
    graph_t
        The **transposed** travel-time graph, seconds.
    nodes, seconds
        Seed node indices and their access seconds (see :func:`with_seeds`).
    k
        Seeds per node.
    limit
        Only seeds within this many seconds (access leg included) are listed.

    Returns
    -------
    seconds, seed
        n × k arrays sorted by time: seconds (inf where fewer than k seeds are in reach)
        and seed index (-1 there). Among seeds at exactly equal times the order is arbitrary.
    """
    n, m = graph_t.shape[0], len(nodes)
    best_t = np.full((n + m, k), np.inf)
    best_s = np.full((n + m, k), -1, dtype=np.int64)
    if m == 0:
        return best_t[:n], best_s[:n]
    seeded = with_seeds(graph_t, nodes, seconds)
    total = n + m
    best_t[:, 0], best_s[:, 0] = _labelled_run(seeded, np.arange(n, total), np.zeros(m),
                                               np.arange(m), limit)
    # forward edges v → w (transposed CSR: row w, column v), c seconds
    w = np.repeat(np.arange(total), np.diff(seeded.indptr))
    v, c = seeded.indices.astype(np.int64), seeded.data
    for j in range(1, k):
        # only nodes listing j seeds so far can list a (j + 1)-th within limit
        live = best_s[v, j - 1] >= 0
        v, w, c = v[live], w[live], c[live]
        s_v, s_w = best_s[v, :j], best_s[w, :j]
        fresh = (s_w >= 0) & ~(s_w[:, :, None] == s_v[:, None, :]).any(axis=2)
        has = fresh.any(axis=1)
        pick = fresh.argmax(axis=1)
        # start values: c + the nearest seed of w that v does not list yet
        edge = np.flatnonzero(has)
        value = c[edge] + best_t[w[edge], pick[edge]]
        edge, value = edge[value <= limit], value[value <= limit]
        order = np.lexsort((value, v[edge]))
        first = np.ones(len(order), dtype=bool)
        first[1:] = v[edge[order[1:]]] != v[edge[order[:-1]]]
        top = order[first]
        # relaxing edges: w lists exactly v's seeds (all valid, none fresh)
        keep = ~has & (s_w[:, -1] >= 0)
        relax = csr_matrix((c[keep], v[keep], np.concatenate(
            [[0], np.cumsum(np.bincount(w[keep], minlength=total))])), shape=(total, total))
        best_t[:, j], best_s[:, j] = _labelled_run(
            relax, v[edge[top]], value[top], best_s[w[edge[top]], pick[edge[top]]], limit)
    return best_t[:n], best_s[:n]


def _labelled_run(graph: csr_matrix, nodes: np.ndarray, seconds: np.ndarray,
                  labels: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Run a multi-source Dijkstra on ``graph`` (seconds) from ``nodes`` at ``seconds``.

    Return the time per node and the ``labels`` entry of the start it came from (-1: none
    within ``limit``).
    """
    n = graph.shape[0]
    if len(nodes) == 0:
        return np.full(n, np.inf), np.full(n, -1, np.int64)
    dist, _, source = dijkstra(with_seeds(graph, nodes, seconds),
                               indices=n + np.arange(len(nodes)), min_only=True,
                               limit=limit, return_predecessors=True)
    found = source[:n] >= 0
    return dist[:n], np.where(found, np.asarray(labels)[np.maximum(source[:n] - n, 0)], -1)


def times_to(graph: csr_matrix, source: int, targets: np.ndarray, limit: float) -> np.ndarray:
    """Return the shortest seconds from ``source`` to each target node (a forward run).

    The same times as ``scipy.sparse.csgraph.dijkstra(graph, indices=source, limit=limit)``
    at the targets (inf beyond ``limit`` seconds, unreachable, or target -1), but the search
    ends once every target is settled: its cost grows with the farthest target's time, not
    with ``limit``.
    """
    return _times_to(graph.indptr, graph.indices, np.asarray(graph.data, np.float64),
                     np.int64(source), np.asarray(targets, np.int64), float(limit))


def load_times_to() -> None:
    """Compile :func:`times_to` or load it from numba's cache (≈0.3 s once per process).

    Server warm-up and benchmarks call it, so that no request waits for it.
    """
    times_to(csr_matrix((1, 1)), 0, np.zeros(1, np.int64), 0.0)


@numba.njit(cache=True, nogil=True)
def _times_to(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, source: np.int64,
              targets: np.ndarray, limit: float) -> np.ndarray:  # pragma: no cover - compiled
    """Dijkstra with a binary heap and lazy deletion on CSR arrays; see :func:`times_to`."""
    dist = np.full(len(indptr) - 1, np.inf)
    wanted = np.zeros(len(indptr) - 1, np.bool_)
    left = 0
    for t in targets:
        if t >= 0 and not wanted[t]:
            wanted[t] = True
            left += 1
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap and left > 0:
        d, u = heapq.heappop(heap)
        if d > dist[u]:  # a stale entry: u was settled at a shorter time
            continue
        if wanted[u]:
            left -= 1
        for e in range(indptr[u], indptr[u + 1]):
            nd = d + data[e]
            v = np.int64(indices[e])
            if nd < dist[v] and nd <= limit:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    out = np.full(len(targets), np.inf)
    for i, t in enumerate(targets):
        if t >= 0:
            out[i] = dist[t]
    return out


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
