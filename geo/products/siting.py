"""Best new sites: greedy maximal covering location for one category and mode.

Which ``k`` new sites would bring the most children under 10 within ``minutes`` of an offer
of a category? Demand = the 100 m Zensus cells whose time to the nearest existing active
offer (the engine's, :meth:`geo.engine.access.Accessibility.cells`) is above ``minutes`` and that
are connected to the network. Candidates = given points (e.g. the existing schools) or
network nodes that some uncovered cell reaches within ``minutes``, thinned to one per
``ReportSettings.site_candidate_spacing_m`` square.

A sparse coverage matrix (candidates × uncovered cells) comes from bounded Dijkstra runs
from the candidates on the transposed graph (:func:`geo.networks.routing.per_source`): cell → its
node (access leg) → streets → candidate node → candidate (its access leg; 0 for a node).
The greedy algorithm (Church & ReVelle 1974) then picks the candidate covering the most
still-uncovered children, k times: at least (1 − 1/e) ≈ 63 % of the optimum (Nemhauser,
Wolsey & Fisher 1978), usually equal to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from geo.engine.access import Accessibility, AccessInputError
from geo.networks import routing
from geo.networks.snap import to_lonlat, to_metric
from geo.products.transition import offer_gemeinden
from geo.sources import offer_quality, population
from geo.vocabulary import Weight


def weight_prefix(weight: str) -> str:
    """Prefix of the result columns of ``weight``: ``children`` for the under-10s."""
    return "children" if weight == Weight.children_under_10 else str(weight)


@dataclass(frozen=True)
class Demand:
    """The uncovered cells of a category and mode with their weight, joined to the network."""

    cells: pd.DataFrame  #: rows of :meth:`Accessibility.cells` (uncovered, connected)
    node: np.ndarray  #: int64 network node per cell
    seconds: np.ndarray  #: float64 access-leg seconds per cell
    covered: float  #: weight already within the time of an existing offer
    total: float  #: weight in the demand area
    weight: np.ndarray  #: float64 weight per uncovered cell (suppressed counts = 0)


@dataclass(frozen=True)
class Sites:
    """Result of :func:`best_sites`."""

    sites: gpd.GeoDataFrame  #: rank, lon, lat, node, candidate, children_gained, ... (EPSG:4326)
    category: str
    mode: str
    minutes: float
    covered_before: float  #: weight within ``minutes`` of an existing offer
    total_children: float  #: weight in the demand area (children by default)
    candidates: int  #: candidates considered
    seconds: float  #: wall time, seconds
    weight: str = Weight.children_under_10.value  #: what the sites are chosen for

    def summary(self) -> dict[str, Any]:
        """JSON-ready result (for the CLI and the API's scenarios endpoint)."""
        prefix = weight_prefix(self.weight)
        return {
            "category": self.category, "mode": self.mode, "minutes": self.minutes,
            "weight": self.weight, "total": self.total_children,
            "covered_before": self.covered_before, f"{prefix}_total": self.total_children,
            f"{prefix}_covered_before": self.covered_before,
            "candidates": self.candidates, "seconds": round(self.seconds, 3),
            "sites": [{k: (v.item() if isinstance(v, np.generic) else v)
                       for k, v in row.items() if k != "geometry"}
                      for row in self.sites.to_dict("records")],
        }


def demand(acc: Accessibility, category: str, mode: str, minutes: float,
           unit_ags: str | None = None,
           weight: str = Weight.children_under_10.value) -> Demand:
    """Find the weighted cells beyond ``minutes`` of the nearest active offer.

    Only connected cells count as demand; they are joined to the network by the engine's
    :meth:`~geo.engine.access.Accessibility.snap`.

    Parameters
    ----------
    unit_ags
        Restrict demand to the cells of this municipal unit (default: the whole region).
    weight
        A :class:`~geo.vocabulary.Weight`: children under 10 (default) or a need layer
        (suppressed counts weigh 0).
    """
    cells = acc.cells(category, mode, weight=weight)
    if unit_ags is not None:
        cells = cells[cells["unit_ags"] == unit_ags]
    w = np.nan_to_num(cells[str(weight)].to_numpy(float), nan=0.0)
    within = cells["minutes"].to_numpy() <= minutes
    todo_mask = ~within & cells["connected"].to_numpy()
    todo = cells[todo_mask].reset_index(drop=True)
    snap = acc.snap(*to_lonlat(todo["x"].to_numpy(), todo["y"].to_numpy()), mode)
    return Demand(todo, snap.node, snap.seconds, float(w[within].sum()), float(w.sum()),
                  w[todo_mask])


def node_candidates(acc: Accessibility, mode: str, need: Demand, minutes: float,
                    spacing_m: float) -> np.ndarray:
    """Pick network nodes some uncovered cell reaches within ``minutes``.

    One per square of ``spacing_m`` metres (EPSG:3035; the node listed first in each
    square).
    """
    net = acc.network(mode)
    field = routing.multi_source(net.csr(), need.node, need.seconds, limit=minutes * 60.0)
    nodes = np.flatnonzero(np.isfinite(field.seconds))
    x, y = to_metric(net.lon[nodes], net.lat[nodes])
    square = np.floor(x / spacing_m).astype(np.int64) * 1_000_003 + np.floor(y / spacing_m)
    _, first = np.unique(square, return_index=True)
    return nodes[np.sort(first)]


def coverage_matrix(acc: Accessibility, mode: str, need: Demand, nodes: np.ndarray,
                    access_s: np.ndarray, minutes: float) -> csr_matrix:
    """Boolean candidates × uncovered cells: the cell reaches the candidate within ``minutes``.

    Bounded Dijkstra runs from whichever side has fewer distinct nodes: from the candidates
    on the transposed graph, or from the cells' nodes on the graph itself (same times).

    Parameters
    ----------
    nodes, access_s
        Candidate network nodes and their access legs (seconds; 0 for nodes).
    """
    limit = minutes * 60.0
    graph = acc.network(mode).csr()
    cell_nodes, inv = np.unique(need.node, return_inverse=True)
    rows, cols = [], []
    if len(nodes) <= len(cell_nodes):
        for part, dist in routing.per_source(routing.transpose(graph), nodes, access_s, limit):
            r, c = np.nonzero(dist[:, need.node] + need.seconds <= limit)
            rows.append(r + part.start)
            cols.append(c)
    else:
        for part, dist in routing.per_source(graph, cell_nodes, np.zeros(len(cell_nodes)),
                                             limit):
            cells = np.flatnonzero((inv >= part.start) & (inv < part.stop))
            block = dist[inv[cells] - part.start][:, nodes] + access_s
            c, r = np.nonzero(block + need.seconds[cells, None] <= limit)
            rows.append(r)
            cols.append(cells[c])
    r, c = (np.concatenate(a) if a else np.empty(0, np.int64) for a in (rows, cols))
    return csr_matrix((np.ones(len(r), bool), (r, c)), shape=(len(nodes), len(need.cells)))


def greedy(matrix: csr_matrix, weight: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximal covering: ``k`` rows of ``matrix`` covering the most weight.

    Parameters
    ----------
    matrix
        Boolean candidates × demand points.
    weight
        Weight per demand point (children).
    k
        Sites to pick (fewer when nothing more can be gained).

    Returns
    -------
    picks, gains
        Row indices in pick order and the weight each adds (ties: the lowest row).
    """
    left = np.asarray(weight, float).copy()
    m = matrix.astype(float).tocsr()
    picks, gains = [], []
    for _ in range(min(k, m.shape[0])):
        gain = m @ left
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        picks.append(best)
        gains.append(float(gain[best]))
        left[m.indices[m.indptr[best]:m.indptr[best + 1]]] = 0.0
    return np.asarray(picks, np.int64), np.asarray(gains)


def best_sites(acc: Accessibility, category: str, mode: str, minutes: float, k: int,
               candidates: tuple[np.ndarray, np.ndarray] | None = None,
               unit_ags: str | None = None,
               weight: str = Weight.children_under_10.value) -> Sites:
    """Find the ``k`` new sites adding the most weight within ``minutes`` (greedy MCLP).

    Parameters
    ----------
    acc
        The engine (its networks, offers and cells).
    category, mode
        Offer category and mode (``walk``, ``bike``, ``car``).
    minutes
        Time budget, minutes (> 0).
    k
        Number of sites (>= 1).
    candidates
        ``(lon, lat)`` arrays of candidate points (WGS84), e.g. existing schools (points
        outside the region raise RegionError; points beyond the snap cut-off are skipped);
        default: network nodes (see :func:`node_candidates`).
    unit_ags
        Count only the cells of this municipal unit (default: the whole region).
    weight
        What to bring within reach (:class:`~geo.vocabulary.Weight`; default children
        under 10, e.g. ``single_parent_families``).

    Returns
    -------
    Sites
        One row per proposed site: ``rank``, ``lon``, ``lat``, ``candidate`` (index into
        the given candidates, or the node), ``gained``, ``covered`` (cumulative incl. the
        existing offers), the same as ``<w>_gained``, ``<w>_covered`` (``<w>`` =
        ``children`` or the weight), ``share_covered``.
    """
    if minutes <= 0 or k < 1:
        raise AccessInputError(f"minutes must be > 0 and k >= 1, got {minutes} and {k}")
    t0 = time.perf_counter()
    net = acc.network(mode)
    need = demand(acc, category, mode, minutes, unit_ags, weight)
    if candidates is None:
        nodes = node_candidates(acc, mode, need, minutes,
                                acc.settings.report.site_candidate_spacing_m)
        access_s = np.zeros(len(nodes))
        lon, lat = net.lon[nodes], net.lat[nodes]
    else:
        lon, lat = (np.atleast_1d(np.asarray(a, float)) for a in candidates)
        snap = acc.snap(lon, lat, mode)
        keep = snap.connected
        nodes, access_s, lon, lat = snap.node[keep], snap.seconds[keep], lon[keep], lat[keep]
        given = np.flatnonzero(keep)
    matrix = coverage_matrix(acc, mode, need, nodes, access_s, minutes)
    picks, gains = greedy(matrix, need.weight, k)
    covered = need.covered + np.cumsum(gains)
    prefix = weight_prefix(weight)
    frame = pd.DataFrame({
        "rank": np.arange(1, len(picks) + 1), "lon": lon[picks], "lat": lat[picks],
        "candidate": nodes[picks] if candidates is None else given[picks],
        "node": nodes[picks], "gained": gains, "covered": covered,
        f"{prefix}_gained": gains, f"{prefix}_covered": covered,
        "share_covered": covered / need.total if need.total else np.nan,
    })
    sites = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                             crs="EPSG:4326")
    return Sites(sites, category, mode, float(minutes), need.covered, need.total, len(nodes),
                 time.perf_counter() - t0, str(weight))



def completeness(acc: Accessibility) -> pd.DataFrame:
    """Whether the Kita data of each Gemeinde looks complete (before proposing Kita sites).

    Active Kitas per 100 children under 10 per Gemeinde against the county median
    (:func:`geo.sources.offer_quality.completeness`; the census has no under-6 group). A
    Gemeinde far below the median more likely lacks mapped Kitas than Kitas: its white
    spots and proposed sites are then doubtful. For the reports and the planner page.

    Returns
    -------
    pandas.DataFrame
        Per Gemeinde: ``ags``, ``name``, ``unit_ags``, ``children_under_10``, ``kitas``,
        ``kitas_per_100_children_under_10``, ``county_median``, ``flagged``, ``message``.
    """
    offers = acc.offers
    kitas = offers[(offers["category"] == "kita") & (offers["status"] == "active")]
    per_gemeinde = offer_gemeinden(acc).loc[kitas["id"]].value_counts()
    gemeinden = acc.units("gemeinde").set_index("ags")
    children = population.aggregate(acc.cell_frame("children"), "children_under_10",
                                    "gemeinde_ags").reindex(gemeinden.index).fillna(0)
    table = offer_quality.completeness(per_gemeinde, children, gemeinden["name"], acc.settings)
    table.insert(2, "unit_ags", gemeinden["unit_ags"].to_numpy())
    return table
