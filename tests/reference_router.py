"""A slow, obviously correct transit router for the tests and the benchmark: networkx
Dijkstra on the time-expanded graph of a compiled timetable."""

from __future__ import annotations

from itertools import pairwise

import networkx as nx
import numpy as np

from geo.transit.timetable import DAY_S, Timetable


def reference_graph(tt: Timetable, max_transfers: int, slack_s: int, start_s: int = 0,
                    end_s: int = 3 * DAY_S) -> nx.DiGraph:
    """Time-expanded graph of a timetable: a slow, obviously-correct reference router.

    Nodes ``("ride", c, k)``: on board at connection ``c`` as the ``k``-th vehicle;
    ``("ev", s, t, k)``: at stop ``s`` at time ``t`` after ``k`` vehicles. Edges: riding on,
    alighting (with one walk transfer), waiting at a stop, boarding ``slack_s`` before
    departure. Edge weights are the seconds that pass. Only connections departing in
    ``[start_s, end_s]`` (seconds) are included: enough for queries leaving at or after
    ``start_s`` and arriving by ``end_s``. For tests and benchmarks only.
    """
    legs = max_transfers + 1
    span = (tt.dep >= start_s) & (tt.dep <= end_s)
    g = nx.DiGraph()
    events: dict[tuple[int, int], set[int]] = {}

    def ev(s: int, t: int, k: int) -> tuple[str, int, int, int]:
        events.setdefault((s, k), set()).add(t)
        return ("ev", s, t, k)

    order = np.flatnonzero(span)[np.lexsort((tt.dep[span], tt.trip[span]))]
    for a, b in pairwise(order):
        if tt.trip[a] == tt.trip[b]:
            for k in range(1, legs + 1):
                g.add_edge(("ride", a, k), ("ride", b, k), weight=int(tt.dep[b] - tt.dep[a]))
    for c in np.flatnonzero(span).tolist():
        d, a, v = int(tt.dep[c]), int(tt.arr[c]), int(tt.to[c])
        for k in range(1, legs + 1):
            if tt.board[c]:
                g.add_edge(ev(int(tt.frm[c]), d - slack_s, k - 1), ("ride", c, k),
                           weight=slack_s)
            if tt.alight[c]:
                g.add_edge(("ride", c, k), ev(v, a, k), weight=a - d)
                for p in range(tt.fp_ptr[v], tt.fp_ptr[v + 1]):
                    w, ws = int(tt.fp_to[p]), int(tt.fp_s[p])
                    g.add_edge(("ride", c, k), ev(w, a + ws, k), weight=a + ws - d)
    for (s, k), times in events.items():
        ts = sorted(times)
        for t0, t1 in pairwise(ts):
            g.add_edge(("ev", s, t0, k), ("ev", s, t1, k), weight=t1 - t0)
    g.graph["events"] = {key: np.array(sorted(v)) for key, v in events.items()}
    return g


def reference_arrivals(g: nx.DiGraph, tt: Timetable, src: np.ndarray, src_s: np.ndarray,
                       depart_s: int, max_travel_s: int) -> np.ndarray:
    """Earliest arrival per stop by Dijkstra on :func:`reference_graph` (``inf`` if none).

    ``src``/``src_s``: stops reached at the start and the seconds to reach them.
    """
    events = g.graph["events"]
    g.add_node("origin")
    for s, secs in zip(src.tolist(), src_s.tolist(), strict=True):
        times = events.get((s, 0))
        t = depart_s + secs
        if times is not None and (i := np.searchsorted(times, t)) < len(times):
            g.add_edge("origin", ("ev", s, int(times[i]), 0), weight=int(times[i]) - depart_s)
    dist = nx.single_source_dijkstra_path_length(g, "origin", cutoff=max_travel_s)
    g.remove_node("origin")
    best = np.full(len(tt.stop_ids), np.inf)
    for s, secs in zip(src.tolist(), src_s.tolist(), strict=True):
        best[s] = min(best[s], depart_s + secs)
    for node in dist:
        if node[0] == "ev" and node[2] < best[node[1]]:
            best[node[1]] = node[2]
    best[best > depart_s + max_travel_s] = np.inf
    return best

