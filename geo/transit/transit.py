"""Public transport routing on a GTFS :class:`~geo.sources.gtfs.Feed`: earliest arrival, time windows,
service levels and ÖV-Güteklassen.

Model
-----
* Times are integer seconds since midnight of the chosen date; trips of the previous
  service day that run past midnight (times ≥ 24:00) are shifted by −86,400 s and used.
* Routing is a Connection Scan (Dibbelt et al. 2013) with a bound on vehicle legs, compiled
  with numba: one pass over the day's connections sorted by departure. Labels ``T[k, s]`` are
  the earliest arrival at stop ``s`` using at most ``k`` vehicles. Boarding needs
  ``board_slack_s`` seconds at the stop before departure (r5: 60 s).
* Walks (access from the origin, transfers after leaving a vehicle) are single hops given
  by a *walk model*: any callable ``walk(from_xy, to_xy) -> (i, j, seconds)`` on EPSG:3035
  metres. :class:`CrowFlyWalk` is the default (crow-fly metres × detour factor at walking
  speed, up to ``max_walk_m``); :class:`NetworkWalk` walks on the street walk network where
  we hold one. Walks are not chained: one walk after each vehicle, as in r5's transfer
  search.
* Time windows follow R5: one departure each ``step_s`` (60 s) in ``[start_s, end_s)``; per
  destination the median and the best travel time over those departures, waiting at the
  origin included. Longer than ``max_travel_s`` counts as unreachable (``inf``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import geopandas as gpd
import networkx as nx
import numba
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.errors import DataError, EmptyResultError
from geo.networks.network import Network
from geo.networks.snap import NodeIndex
from geo.settings import Settings, TransitSettings
from geo.sources.gtfs import Feed
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

DAY_S = 86_400
#: internal "not reached" time (int32 seconds), ``inf`` at the public surface
_NEVER = np.int32(2**31 - 1)

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
        """The walk model the settings describe."""
        return cls(s.walk_speed_kmh / 3.6, s.detour_factor, s.max_walk_m)

    def __call__(self, from_xy: np.ndarray, to_xy: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pairs within ``max_m``: indices into ``from_xy``, ``to_xy`` and seconds."""
        a, b = cKDTree(np.asarray(from_xy, float)), cKDTree(np.asarray(to_xy, float))
        pairs = a.sparse_distance_matrix(b, self.max_m, output_type="coo_matrix")
        i, j, d = pairs.row, pairs.col, pairs.data
        # sparse_distance_matrix drops zero distances: add coincident points back
        same_i, same_j = _coincident(a, b)
        i, j = np.r_[i, same_i], np.r_[j, same_j]
        d = np.r_[d, np.zeros(len(same_i))]
        return (i.astype(np.int64), j.astype(np.int64),
                np.ceil(d * self.detour / self.speed_mps).astype(np.int32))


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
        """The walk model for ``net`` with the transit and access settings."""
        t = settings.transit
        return cls(net, NodeIndex(net, settings), t.max_walk_m,
                   t.max_walk_m * t.detour_factor / (t.walk_speed_kmh / 3.6))

    def __call__(self, from_xy: np.ndarray, to_xy: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pairs with a network walk within the limits: indices and whole seconds."""
        from_xy, to_xy = np.asarray(from_xy, float), np.asarray(to_xy, float)
        pairs = cKDTree(from_xy).sparse_distance_matrix(cKDTree(to_xy), self.max_m,
                                                        output_type="coo_matrix")
        same_i, same_j = _coincident(cKDTree(from_xy), cKDTree(to_xy))
        i, j = np.r_[pairs.row, same_i].astype(np.int64), np.r_[pairs.col, same_j]
        a = self.index.snap_xy(from_xy[:, 0], from_xy[:, 1])
        b = self.index.snap_xy(to_xy[:, 0], to_xy[:, 1])
        ok = a.connected[i] & b.connected[j]
        i, j = i[ok], j[ok].astype(np.int64)
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


def _coincident(a: cKDTree, b: cKDTree) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of points at identical coordinates."""
    lists = a.query_ball_tree(b, 0.0)
    i = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    j = np.fromiter((k for x in lists for k in x), np.int64, count=len(i))
    return i, j


# --------------------------------------------------------------------------- timetable


@dataclass(frozen=True, eq=False)
class Timetable:
    """A feed compiled for one date: connections sorted by departure and walk transfers.

    Attributes
    ----------
    date : datetime.date
    stop_ids : numpy.ndarray of str
        Routable stops (GTFS location_type 0), index = internal stop number.
    stop_xy : numpy.ndarray, shape (n, 2)
        EPSG:3035 metres.
    dep, arr : numpy.ndarray of int32
        Per connection: departure and arrival, seconds since midnight of ``date``.
    frm, to, trip : numpy.ndarray of int32
        Per connection: stop numbers and trip number.
    board, alight : numpy.ndarray of bool
        Boarding at ``frm`` / leaving at ``to`` allowed (pickup/drop_off_type ≠ 1).
    trip_ids, trip_routes : numpy.ndarray of str
        Per trip: GTFS trip_id and route short (or long) name.
    fp_ptr, fp_to, fp_s : numpy.ndarray
        Walk transfers in CSR form: from stop ``s`` to ``fp_to[fp_ptr[s]:fp_ptr[s+1]]``
        taking ``fp_s`` seconds (the stop itself excluded).
    children : dict of str to numpy.ndarray
        Station id → internal numbers of its platforms.
    stop_pos : dict of str to int
        Stop id → internal number.
    """

    date: dt.date
    stop_ids: np.ndarray
    stop_xy: np.ndarray
    dep: np.ndarray
    arr: np.ndarray
    frm: np.ndarray
    to: np.ndarray
    trip: np.ndarray
    board: np.ndarray
    alight: np.ndarray
    trip_ids: np.ndarray
    trip_routes: np.ndarray
    fp_ptr: np.ndarray
    fp_to: np.ndarray
    fp_s: np.ndarray
    children: dict[str, np.ndarray]
    stop_pos: dict[str, int]

    def stop_index(self, stop_or_station_ids: Sequence[str]) -> np.ndarray:
        """Internal stop numbers of stop ids; a station id stands for all its platforms.

        Raises
        ------
        DataError
            An id is neither a routable stop nor a station with stops.
        """
        out: list[int] = []
        for sid in stop_or_station_ids:
            if sid in self.stop_pos:
                out.append(self.stop_pos[sid])
            elif sid in self.children:
                out.extend(self.children[sid].tolist())
            else:
                raise DataError(f"stop {sid!r} is not a stop or station of the feed")
        return np.asarray(out, np.int64)


def compile_timetable(feed: Feed, date: dt.date, settings: TransitSettings,
                      walk: WalkModel | None = None) -> Timetable:
    """Compile the connections running on ``date`` (cached on the feed per date and walk).

    Parameters
    ----------
    feed : Feed
    date : datetime.date
        Must lie in the feed's service period.
    settings : TransitSettings
    walk : WalkModel, optional
        Transfer walks between stops; default :class:`CrowFlyWalk` from ``settings``.

    Raises
    ------
    DataError
        ``date`` is outside the feed's service period.
    """
    walk = walk or CrowFlyWalk.from_settings(settings)
    key = ("timetable", date, walk)
    if key in feed.cache:
        return feed.cache[key]
    if not feed.first_day <= date <= feed.last_day:
        raise DataError(f"{date} is outside the service period of {feed.source} "
                        f"({feed.first_day}..{feed.last_day})")
    stops = feed.stops[feed.stops["location_type"] == 0].reset_index(drop=True)
    stop_ids = stops["stop_id"].to_numpy(str)
    stop_no = pd.Series(np.arange(len(stops)), index=stop_ids)
    trips = feed.tables.trips
    routes = feed.tables.routes.set_index("route_id")
    route_name = pd.Series(routes.get("route_short_name", routes.index),
                           index=routes.index).astype("string").fillna("")
    if "route_long_name" in routes:
        route_name = route_name.where(route_name != "", routes["route_long_name"]).fillna("")
    parts, offsets = [], []
    for day, offset in ((date - dt.timedelta(days=1), -DAY_S), (date, 0)):
        ids = trips.loc[feed.trips_on(day), "trip_id"].astype(str)
        parts.append(ids.to_numpy())
        offsets.append(np.full(len(ids), offset, np.int64))
    run_ids, run_offset = np.concatenate(parts), np.concatenate(offsets)
    st = feed.stop_times
    st = st[st["trip_id"].isin(run_ids)]
    # a trip running on both days appears twice: join every stop_time with each run
    runs = pd.DataFrame({"trip_id": run_ids, "offset": run_offset,
                         "run": np.arange(len(run_ids))})
    st = st.merge(runs, on="trip_id").sort_values(["run", "stop_sequence"], kind="stable")
    if not st["stop_id"].isin(stop_no.index).all():
        bad = st.loc[~st["stop_id"].isin(stop_no.index), "stop_id"].iloc[0]
        raise DataError(f"{feed.source}: stop_times use {bad!r}, which is a station, not a "
                        "stop (location_type must be 0)")
    run = st["run"].to_numpy()
    same = run[1:] == run[:-1]
    off = st["offset"].to_numpy()
    s_no = stop_no[st["stop_id"].to_numpy()].to_numpy()
    dep = (st["departure_s"].to_numpy() + off)[:-1][same]
    arr = (st["arrival_s"].to_numpy() + off)[1:][same]
    keep = arr >= 0
    order = np.lexsort((np.arange(keep.sum()), arr[keep], dep[keep]))

    def pick(values: np.ndarray) -> np.ndarray:
        return values[keep][order]

    trip_names = route_name.reindex(
        trips.set_index("trip_id").loc[run_ids, "route_id"]).to_numpy(str)
    xy = stops[["x", "y"]].to_numpy(float)
    fi, fj, fs = walk(xy, xy)
    other = fi != fj
    fi, fj, fs = fi[other], fj[other], fs[other]
    o = np.lexsort((fs, fi))
    fp_ptr = np.searchsorted(fi[o], np.arange(len(stops) + 1)).astype(np.int64)
    children = pd.Series(stops["parent_station"].to_numpy(str)).groupby(
        stops["parent_station"].to_numpy(str)).indices
    children.pop("", None)
    tt = Timetable(
        date=date, stop_ids=stop_ids, stop_xy=xy,
        dep=pick(dep).astype(np.int32), arr=pick(arr).astype(np.int32),
        frm=pick(s_no[:-1][same]).astype(np.int32), to=pick(s_no[1:][same]).astype(np.int32),
        trip=pick(run[:-1][same]).astype(np.int32),
        board=pick(st["pickup_type"].to_numpy()[:-1][same] != 1),
        alight=pick(st["drop_off_type"].to_numpy()[1:][same] != 1),
        trip_ids=run_ids, trip_routes=trip_names,
        fp_ptr=fp_ptr, fp_to=fj[o].astype(np.int32), fp_s=fs[o].astype(np.int32),
        children=children, stop_pos={sid: i for i, sid in enumerate(stop_ids)},
    )
    log.info("timetable %s: %d trips, %d connections, %d stops, %d walk transfers",
             date, len(run_ids), len(tt.dep), len(stop_ids), len(tt.fp_to))
    feed.cache[key] = tt
    return tt


# --------------------------------------------------------------------------- the scan


@numba.njit(cache=True, nogil=True)
def _scan(dep, arr, frm, to, trip, board, alight, fp_ptr, fp_to, fp_s,
          src, src_t, start, horizon, legs, slack, n_trips, record,
          T, Tv, lab_exit, lab_enter):  # pragma: no cover - compiled
    """Connection Scan with at most ``legs`` vehicles; fills ``T`` (legs+1, n_stops).

    ``T[k, s]``: earliest arrival at ``s`` with at most ``k`` vehicles (walks included);
    ``Tv[k, s]``: the same but arriving by vehicle (walk transfers start only from those).
    With ``record``, ``lab_exit``/``lab_enter`` keep, per label, the connection left and the
    connection where that trip was boarded (−1: reached from the origin by walking).
    """
    T[:, :] = _NEVER
    Tv[:, :] = _NEVER
    trip_k = np.full(n_trips, legs + 1, np.int32)
    trip_enter = np.full(n_trips, -1, np.int32)
    for i in range(src.shape[0]):
        s = src[i]
        for k in range(legs + 1):
            if src_t[i] < T[k, s]:
                T[k, s] = src_t[i]
                if record:
                    lab_exit[k, s] = -1
                    lab_enter[k, s] = -1
    for c in range(start, dep.shape[0]):
        d = dep[c]
        if d > horizon:
            break
        t = trip[c]
        kk = trip_k[t]
        if board[c]:
            u = frm[c]
            for j in range(min(kk - 1, legs)):
                if T[j, u] <= d - slack:
                    kk = j + 1
                    trip_k[t] = kk
                    trip_enter[t] = c
                    break
        if kk > legs or not alight[c]:
            continue
        a = arr[c]
        v = to[c]
        if a >= Tv[kk, v]:
            continue
        for k in range(kk, legs + 1):
            if a >= Tv[k, v]:
                break
            Tv[k, v] = a
            if a < T[k, v]:
                T[k, v] = a
                if record:
                    lab_exit[k, v] = c
                    lab_enter[k, v] = trip_enter[t]
        for p in range(fp_ptr[v], fp_ptr[v + 1]):
            w = fp_to[p]
            aw = a + fp_s[p]
            for k in range(kk, legs + 1):
                if aw >= T[k, w]:
                    break
                T[k, w] = aw
                if record:
                    lab_exit[k, w] = c
                    lab_enter[k, w] = trip_enter[t]


@numba.njit(cache=True, parallel=True)
def _profile(dep, arr, frm, to, trip, board, alight, fp_ptr, fp_to, fp_s,
             src_ptr, src, src_t, minutes, starts, max_travel, legs, slack, n_trips,
             record, out):  # pragma: no cover - compiled
    """Travel times ``out[o, m, s]`` (float seconds, inf unreachable) for every origin ``o``
    (sources ``src[src_ptr[o]:src_ptr[o+1]]`` at offsets ``src_t``) and departure
    ``minutes[m]``, one independent scan per (origin, minute) in parallel. ``record`` is
    False; passed in so that ``_scan`` is compiled once for both callers."""
    n_orig, n_min, n_stops = out.shape
    dummy = np.empty((1, 1), np.int32)
    for job in numba.prange(n_orig * n_min):
        o = job // n_min
        m = job % n_min
        T = np.empty((legs + 1, n_stops), np.int32)
        Tv = np.empty((legs + 1, n_stops), np.int32)
        t0 = minutes[m]
        _scan(dep, arr, frm, to, trip, board, alight, fp_ptr, fp_to, fp_s,
              src[src_ptr[o]:src_ptr[o + 1]].copy(), src_t[src_ptr[o]:src_ptr[o + 1]] + t0,
              starts[m], t0 + max_travel, legs, slack, n_trips, record, T, Tv, dummy, dummy)
        for s in range(n_stops):
            tt = T[legs, s] - t0
            out[o, m, s] = tt if T[legs, s] != _NEVER and tt <= max_travel else np.inf


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Arrivals:
    """Result of :func:`earliest_arrival`.

    Attributes
    ----------
    stop_ids : numpy.ndarray of str
        Routable stops (location_type 0).
    arrival_s : numpy.ndarray of float
        Earliest arrival per stop, seconds since midnight of the date; ``inf`` unreachable.
    depart_s : int
        The departure asked for, seconds since midnight.
    timetable : Timetable
    """

    stop_ids: np.ndarray
    arrival_s: np.ndarray
    depart_s: int
    timetable: Timetable
    #: scan labels (T, exit connection, boarding connection), shape (legs + 1, n_stops)
    labels: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False)
    #: stop reached at the start → (origin stop number or −1 for a point, walk seconds)
    access: dict[int, tuple[int, int]] = field(repr=False)

    def arrival(self, stop_or_station_id: str) -> float:
        """Earliest arrival (seconds) at a stop, or at any platform of a station."""
        return float(self.arrival_s[self.timetable.stop_index([stop_or_station_id])].min())

    def journey(self, stop_or_station_id: str) -> list[dict[str, object]]:
        """Legs of an earliest journey to a stop or station.

        Returns
        -------
        list of dict
            In travel order: vehicle legs ``{"mode": "transit", "route", "trip", "from",
            "departure", "to", "arrival"}`` and walk legs ``{"mode": "walk", "from",
            "departure", "to", "arrival"}`` (``from`` is ``"origin"`` for the access walk
            from a point); stop ids, times in seconds since midnight.

        Raises
        ------
        EmptyResultError
            The stop is not reachable.
        """
        tt, (T, lab_exit, lab_enter) = self.timetable, self.labels
        legs = T.shape[0] - 1
        targets = tt.stop_index([stop_or_station_id])
        v = int(targets[np.argmin(T[legs, targets])])
        if T[legs, v] == _NEVER:
            raise EmptyResultError(
                f"stop {stop_or_station_id} is not reachable on {tt.date} leaving at "
                f"{hhmm(self.depart_s)} with at most {legs - 1} transfers (walks of at most "
                f"the configured max_walk_m, travel time within max_travel_s)")
        out: list[dict[str, object]] = []
        k = legs
        while (c_exit := int(lab_exit[k, v])) >= 0:
            c_in = int(lab_enter[k, v])
            alight = int(tt.to[c_exit])
            if alight != v:
                out.append({"mode": "walk", "from": str(tt.stop_ids[alight]),
                            "departure": int(tt.arr[c_exit]), "to": str(tt.stop_ids[v]),
                            "arrival": int(T[k, v])})
            t = int(tt.trip[c_exit])
            out.append({"mode": "transit", "route": str(tt.trip_routes[t]),
                        "trip": str(tt.trip_ids[t]), "from": str(tt.stop_ids[tt.frm[c_in]]),
                        "departure": int(tt.dep[c_in]), "to": str(tt.stop_ids[alight]),
                        "arrival": int(tt.arr[c_exit])})
            # boarding needed T[k-1, u] <= dep - slack: that label still holds (labels only fall)
            v, k = int(tt.frm[c_in]), k - 1
        origin, walk_s = self.access[v]
        if origin != v:
            out.append({"mode": "walk",
                        "from": "origin" if origin < 0 else str(tt.stop_ids[origin]),
                        "departure": self.depart_s, "to": str(tt.stop_ids[v]),
                        "arrival": self.depart_s + walk_s})
        return out[::-1]


def _is_points(origins: Sequence[str] | np.ndarray) -> bool:
    return isinstance(origins, np.ndarray) and origins.dtype.kind == "f"


def _sources(tt: Timetable, origins: Sequence[str] | np.ndarray, walk: WalkModel
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per origin, the stops reached at the start and the seconds to reach them (CSR).

    ``origins`` are stop/station ids (the stops themselves at 0 s plus their walk
    transfers) or points, an array (n, 2) of EPSG:3035 metres (walks to stops by ``walk``).

    Returns
    -------
    ptr, stops, seconds, via
        Origin ``o`` reaches ``stops[ptr[o]:ptr[o+1]]`` after ``seconds``; ``via`` is the
        origin stop walked from (−1 for points).
    """
    if _is_points(origins):
        pts = np.asarray(origins, float).reshape(-1, 2)
        i, j, s = walk(pts, tt.stop_xy)
        o = np.lexsort((j, i))
        ptr = np.searchsorted(i[o], np.arange(len(pts) + 1))
        return (ptr.astype(np.int64), j[o].astype(np.int32), s[o].astype(np.int64),
                np.full(len(o), -1, np.int64))
    stops_l, secs_l, via_l, sizes = [], [], [], []
    for sid in origins:
        own = tt.stop_index([sid])
        for u in own:
            lo, hi = tt.fp_ptr[u], tt.fp_ptr[u + 1]
            stops_l.append(np.r_[u, tt.fp_to[lo:hi]])
            secs_l.append(np.r_[0, tt.fp_s[lo:hi]])
            via_l.append(np.full(hi - lo + 1, u))
        sizes.append(sum(len(x) for x in stops_l[len(stops_l) - len(own):]))
    ptr = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    return (ptr, np.concatenate(stops_l).astype(np.int32),
            np.concatenate(secs_l).astype(np.int64), np.concatenate(via_l).astype(np.int64))


def earliest_arrival(feed: Feed, from_stops: Sequence[str] | np.ndarray, depart_s: int,
                     date: dt.date, max_transfers: int | None = None, *,
                     settings: TransitSettings | None = None,
                     walk: WalkModel | None = None) -> Arrivals:
    """Earliest arrival at every stop, leaving ``from_stops`` at ``depart_s`` on ``date``.

    Parameters
    ----------
    feed : Feed
    from_stops : sequence of str or numpy.ndarray
        Stop or station ids (a station = all its platforms), or origin points as an array
        (n, 2) of EPSG:3035 metres reaching stops by ``walk``; the earliest over all.
    depart_s : int
        Departure, seconds since midnight of ``date``.
    date : datetime.date
    max_transfers : int, optional
        Changes of vehicle allowed (default ``settings.max_transfers``); journeys use at
        most ``max_transfers + 1`` vehicles.
    settings : TransitSettings, optional
    walk : WalkModel, optional
        Access and transfer walks (default :class:`CrowFlyWalk` from ``settings``).

    Returns
    -------
    Arrivals
        Arrival per stop in seconds since midnight (``inf`` where unreachable or later than
        ``max_travel_s`` after departure) and the journeys behind them.
    """
    s = settings or TransitSettings()
    walk = walk or CrowFlyWalk.from_settings(s)
    legs = (s.max_transfers if max_transfers is None else max_transfers) + 1
    tt = compile_timetable(feed, date, s, walk)
    _, src, src_s, via = _sources(tt, from_stops if _is_points(from_stops)
                                  else list(from_stops), walk)
    n = len(tt.stop_ids)
    T = np.empty((legs + 1, n), np.int32)
    Tv = np.empty_like(T)
    lab_exit, lab_enter = np.full_like(T, -1), np.full_like(T, -1)
    horizon = depart_s + s.max_travel_s
    _scan(tt.dep, tt.arr, tt.frm, tt.to, tt.trip, tt.board, tt.alight, tt.fp_ptr, tt.fp_to,
          tt.fp_s, src, src_s + depart_s, int(np.searchsorted(tt.dep, depart_s)), horizon,
          legs, s.board_slack_s, len(tt.trip_ids), True, T, Tv, lab_exit, lab_enter)
    best = T[legs].astype(float)
    best[(T[legs] == _NEVER) | (T[legs] > horizon)] = np.inf
    access: dict[int, tuple[int, int]] = {}
    for stop, secs, origin in zip(src.tolist(), src_s.tolist(), via.tolist(), strict=True):
        if stop not in access or secs < access[stop][1]:
            access[stop] = (origin, secs)
    return Arrivals(tt.stop_ids, best, depart_s, tt, (T, lab_exit, lab_enter), access)


@dataclass(frozen=True)
class WindowResult:
    """Result of :func:`window_travel_times`.

    Attributes
    ----------
    stop_ids : numpy.ndarray of str or None
        Destination stops (columns); None when the destinations are points.
    median_s, best_s : numpy.ndarray of float, shape (n_origins, n_destinations)
        Median and shortest travel time (seconds) over the window's departures; ``inf``
        unreachable (for the median: unreachable for at least half of the departures).
    departures_s : numpy.ndarray of int
        The departure times tried, seconds since midnight.
    """

    stop_ids: np.ndarray | None
    median_s: np.ndarray
    best_s: np.ndarray
    departures_s: np.ndarray


def egress(values_s: np.ndarray, tt: Timetable, points: np.ndarray,
           walk: WalkModel) -> np.ndarray:
    """From stops on to points: per point the minimum over stops within walking distance
    of (value at the stop + walk seconds).

    Parameters
    ----------
    values_s : numpy.ndarray, shape (..., n_stops)
        Arrival or travel times in seconds per stop of ``tt`` (last axis); ``inf`` allowed.
    tt : Timetable
    points : numpy.ndarray, shape (n_points, 2)
        EPSG:3035 metres.
    walk : WalkModel

    Returns
    -------
    numpy.ndarray, shape (..., n_points)
        ``inf`` for points without a stop in walking distance.
    """
    pts = np.asarray(points, float).reshape(-1, 2)
    i, j, w = walk(tt.stop_xy, pts)
    out = np.full((*values_s.shape[:-1], len(pts)), np.inf)
    if len(i) == 0:
        return out
    o = np.lexsort((i, j))
    i, j, w = i[o], j[o], w[o]
    first = np.flatnonzero(np.r_[True, j[1:] != j[:-1]])
    out[..., j[first]] = np.minimum.reduceat(values_s[..., i] + w, first, axis=-1)
    return out


def window_travel_times(feed: Feed, origins: Sequence[str] | np.ndarray, date: dt.date,
                        start_s: int | None = None, end_s: int | None = None, *,
                        max_transfers: int | None = None,
                        settings: TransitSettings | None = None,
                        walk: WalkModel | None = None, destinations: np.ndarray | None = None,
                        chunk: int = 64) -> WindowResult:
    """Median and best travel time from each origin to every stop over a departure window.

    One departure every ``settings.window_step_s`` seconds in ``[start_s, end_s)``, each
    routed independently (R5's time-window method, waiting at the origin included). With
    ``destinations`` the walk from the stops on to those points is added per departure,
    before the median is taken (journeys that walk the whole way are not included: combine
    with the walk mode).

    Parameters
    ----------
    feed : Feed
    origins : sequence of str or numpy.ndarray
        Stop/station ids (each one origin) or points, array (n, 2) of EPSG:3035 metres.
    date : datetime.date
    start_s, end_s : int, optional
        Window in seconds since midnight (default from settings: 07:00–09:00).
    max_transfers : int, optional
    settings : TransitSettings, optional
    walk : WalkModel, optional
    destinations : numpy.ndarray, optional
        Points (n, 2) in EPSG:3035 metres instead of stops as destinations.
    chunk : int
        Origins per parallel batch (bounds memory: chunk × departures × stops floats).

    Returns
    -------
    WindowResult
    """
    s = settings or TransitSettings()
    median_parts, best_parts = [], []
    for tt, minutes, out in _profile_chunks(feed, origins, date, start_s, end_s, s,
                                            max_transfers, walk, destinations, chunk):
        median_parts.append(np.median(out, axis=1))
        best_parts.append(out.min(axis=1))
    median, best = np.concatenate(median_parts), np.concatenate(best_parts)
    log.info("window %s from %s: %d origins × %d departures → %d destinations", date,
             hhmm(int(minutes[0])), len(median), len(minutes), median.shape[1])
    return WindowResult(tt.stop_ids if destinations is None else None, median, best,
                        minutes)


def departure_profiles(feed: Feed, origins: Sequence[str] | np.ndarray, date: dt.date,
                       start_s: int | None = None, end_s: int | None = None, *,
                       max_transfers: int | None = None,
                       settings: TransitSettings | None = None,
                       walk: WalkModel | None = None, destinations: np.ndarray | None = None,
                       chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Travel time for every departure of the window, before any median is taken.

    Same parameters as :func:`window_travel_times`; for "there and back" questions and for
    combining stop profiles into grid cells.

    Returns
    -------
    departures_s : numpy.ndarray of int, shape (n_departures,)
        Seconds since midnight.
    travel_s : numpy.ndarray of float, shape (n_origins, n_departures, n_destinations)
        Seconds, ``inf`` unreachable; destinations = stops of the timetable (order of
        ``compile_timetable(...).stop_ids``) or the ``destinations`` points.
    """
    s = settings or TransitSettings()
    parts = [(minutes, out) for _, minutes, out in _profile_chunks(
        feed, origins, date, start_s, end_s, s, max_transfers, walk, destinations, chunk)]
    return parts[0][0], np.concatenate([out for _, out in parts])


def _profile_chunks(feed: Feed, origins: Sequence[str] | np.ndarray, date: dt.date,
                    start_s: int | None, end_s: int | None, s: TransitSettings,
                    max_transfers: int | None, walk: WalkModel | None,
                    destinations: np.ndarray | None, chunk: int
                    ) -> Iterator[tuple[Timetable, np.ndarray, np.ndarray]]:
    """Per batch of ``chunk`` origins: (timetable, departures, travel seconds (o, m, d))."""
    walk = walk or CrowFlyWalk.from_settings(s)
    start_s = s.window_start_s if start_s is None else start_s
    end_s = s.window_end_s if end_s is None else end_s
    if end_s <= start_s:
        raise DataError(f"time window {start_s}..{end_s} s is empty")
    legs = (s.max_transfers if max_transfers is None else max_transfers) + 1
    tt = compile_timetable(feed, date, s, walk)
    ptr, src, src_s, _ = _sources(tt, origins if _is_points(origins) else list(origins),
                                  walk)
    minutes = np.arange(start_s, end_s, s.window_step_s, dtype=np.int64)
    starts = np.searchsorted(tt.dep, minutes).astype(np.int64)
    n_orig, n_stops = len(ptr) - 1, len(tt.stop_ids)
    for lo in range(0, max(n_orig, 1), chunk):
        hi = min(lo + chunk, n_orig)
        out = np.empty((hi - lo, len(minutes), n_stops))
        sub = ptr[lo:hi + 1]
        _profile(tt.dep, tt.arr, tt.frm, tt.to, tt.trip, tt.board, tt.alight, tt.fp_ptr,
                 tt.fp_to, tt.fp_s, sub - sub[0], src[sub[0]:sub[-1]],
                 src_s[sub[0]:sub[-1]], minutes, starts,
                 s.max_travel_s, legs, s.board_slack_s, len(tt.trip_ids), False, out)
        if destinations is not None:
            out = egress(out, tt, destinations, walk)
            out[out > s.max_travel_s] = np.inf
        yield tt, minutes, out


def hhmm(seconds: int) -> str:
    """Seconds since midnight → ``HH:MM`` (hours past 24 kept, e.g. ``24:07``)."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


# --------------------------------------------------------------------------- service level


def _departures(feed: Feed, date: dt.date, start_s: int, end_s: int) -> pd.DataFrame:
    """Stop times where a vehicle leaves a stop in ``[start_s, end_s)`` on ``date``.

    Trips of ``date`` and, shifted by −24 h, of the previous service day; a trip's last
    stop and stops without boarding (pickup_type 1) are not departures.
    """
    st = feed.stop_times
    last = np.r_[st["trip_id"].to_numpy()[1:] != st["trip_id"].to_numpy()[:-1], True]
    st = st[~last & (st["pickup_type"].to_numpy() != 1)]
    trips = feed.tables.trips.set_index("trip_id")
    route_type = feed.tables.routes.set_index("route_id")["route_type"].astype(int)
    parts = []
    for day, offset in ((date - dt.timedelta(days=1), -DAY_S), (date, 0)):
        ids = trips.index[feed.trips_on(day).to_numpy()]
        part = st[st["trip_id"].isin(ids)].assign(time_s=lambda x, o=offset: x.departure_s + o)
        parts.append(part[(part["time_s"] >= start_s) & (part["time_s"] < end_s)])
    out = pd.concat(parts, ignore_index=True)
    out["route_id"] = trips.loc[out["trip_id"], "route_id"].to_numpy()
    out["route_type"] = route_type.reindex(out["route_id"]).to_numpy()
    return out


def _stops_gdf(feed: Feed, frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Attach names and EPSG:3035 points to a frame indexed by stop_id."""
    stops = feed.stops.set_index("stop_id")
    frame = frame.rename_axis("stop_id").join(stops[["stop_name", "x", "y"]], how="left")
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]).reset_index(),
                            geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=METRIC_CRS)


def service_level(feed: Feed, date: dt.date, start_s: int, end_s: int, *,
                  by_station: bool = False) -> gpd.GeoDataFrame:
    """Departures per hour at each stop (or station) in a time window.

    Parameters
    ----------
    feed : Feed
    date : datetime.date
    start_s, end_s : int
        Window, seconds since midnight of ``date``.
    by_station : bool
        Count all platforms of a station together (GTFS parent_station).

    Returns
    -------
    geopandas.GeoDataFrame
        ``stop_id``, ``stop_name``, ``departures``, ``per_hour`` (departures / window hours),
        ``routes`` (distinct routes leaving), point geometry in EPSG:3035; stops without a
        departure in the window are listed with 0.
    """
    if end_s <= start_s:
        raise DataError(f"time window {start_s}..{end_s} s is empty")
    dep = _departures(feed, date, start_s, end_s)
    station = feed.station_of()
    key = station if by_station else pd.Series(station.index, index=station.index)
    dep["stop"] = key.reindex(dep["stop_id"]).to_numpy()
    universe = pd.Index(key[feed.stops.set_index("stop_id")["location_type"]
                            .reindex(key.index).to_numpy() == 0].unique(), name="stop_id")
    counts = dep.groupby("stop").agg(departures=("trip_id", "size"),
                                      routes=("route_id", "nunique"))
    counts = counts.reindex(universe, fill_value=0)
    counts["per_hour"] = counts["departures"] / ((end_s - start_s) / 3600)
    return _stops_gdf(feed, counts[["departures", "per_hour", "routes"]])


#: ÖV-Güteklassen after ARE (Bundesamt für Raumentwicklung, 2022: "ÖV-Güteklassen.
#: Berechnungsmethodik ARE", Grundlagenbericht), in the German adaptation used by
#: Plan4Better/GOAT: transport groups A rail and metro, B tram/light rail and funiculars,
#: C bus, coach, ferry and aerial lifts (by GTFS route_type, basic and extended).
GROUP_OF_ROUTE_TYPE: dict[range, str] = {
    range(1, 3): "A", range(100, 200): "A", range(400, 500): "A",
    range(1): "B", range(5, 6): "B", range(7, 8): "B", range(900, 1000): "B",
    range(1400, 1500): "B",
}
#: upper bounds (minutes, exclusive) of the mean interval classes; longer: no category
INTERVAL_BOUNDS_MIN: tuple[int, ...] = (5, 10, 20, 40, 60, 120)
#: station category (1 = I … 7 = VII) per interval class and group
CATEGORY: dict[str, tuple[int, ...]] = {
    "A": (1, 1, 2, 3, 4, 5), "B": (1, 2, 3, 4, 5, 6), "C": (2, 3, 4, 5, 6, 7),
}
#: Güteklasse per station category by distance band (≤300, ≤500, ≤750, ≤1000 m)
CLASS_BANDS_M: tuple[int, ...] = (300, 500, 750, 1000)
CLASS_OF_CATEGORY: dict[int, tuple[str, ...]] = {
    1: ("A", "A", "B", "C"), 2: ("A", "B", "C", "D"), 3: ("B", "C", "D", "E"),
    4: ("C", "D", "E", "F"), 5: ("D", "E", "F"), 6: ("E", "F"), 7: ("F",),
}


def _group(route_type: int) -> str:
    return next((g for r, g in GROUP_OF_ROUTE_TYPE.items() if route_type in r), "C")


def station_categories(feed: Feed, date: dt.date, start_s: int = 6 * 3600,
                       end_s: int = 20 * 3600) -> gpd.GeoDataFrame:
    """ARE station category per station (platforms of a parent station counted together).

    The mean interval is the window length divided by half the departures (both
    directions counted, as ARE does); the best transport group serving the station decides
    the row of the category table. ARE's reference window is a weekday 06:00–20:00.

    Returns
    -------
    geopandas.GeoDataFrame
        ``stop_id`` (station), ``stop_name``, ``departures``, ``interval_min``, ``group``
        (A/B/C), ``category`` (1–7 for I–VII, 0 = none: interval ≥ 120 min), points in
        EPSG:3035.
    """
    dep = _departures(feed, date, start_s, end_s)
    dep["stop"] = feed.station_of().reindex(dep["stop_id"]).to_numpy()
    dep["group"] = [_group(int(t)) for t in dep["route_type"]]
    per = dep.groupby("stop").agg(departures=("trip_id", "size"), group=("group", "min"))
    per["interval_min"] = (end_s - start_s) / 60 / (per["departures"] / 2)
    band = np.searchsorted(np.asarray(INTERVAL_BOUNDS_MIN), per["interval_min"], side="right")
    per["category"] = [CATEGORY[g][b] if b < len(INTERVAL_BOUNDS_MIN) else 0
                       for g, b in zip(per["group"], band, strict=True)]
    return _stops_gdf(feed, per[["departures", "interval_min", "group", "category"]])


def gueteklassen(feed: Feed, date: dt.date, start_s: int = 6 * 3600,
                 end_s: int = 20 * 3600) -> gpd.GeoDataFrame:
    """ÖV-Güteklassen A–F as areas: rings of 300/500/750/1000 m around each station.

    Each area gets the best class any station gives it (crow-fly rings, as ARE).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per class present: ``klasse`` (A–F) and its (multi)polygon in EPSG:3035,
        non-overlapping, best class first.
    """
    st = station_categories(feed, date, start_s, end_s)
    st = st[st["category"] > 0]
    if st.empty:
        raise EmptyResultError(f"no station on {date} has a departure interval under "
                               f"{INTERVAL_BOUNDS_MIN[-1]} min between {hhmm(start_s)} "
                               f"and {hhmm(end_s)}: no ÖV-Güteklasse anywhere")
    pieces: dict[str, list[shapely.Geometry]] = {}
    for geom, cat in zip(st.geometry, st["category"], strict=True):
        for radius, klasse in zip(CLASS_BANDS_M, CLASS_OF_CATEGORY[int(cat)], strict=False):
            pieces.setdefault(klasse, []).append(geom.buffer(radius, 32))
    rows, taken = [], shapely.Polygon()
    for klasse in sorted(pieces):
        area = shapely.union_all(pieces[klasse])
        rows.append({"klasse": klasse, "geometry": area.difference(taken)})
        taken = taken.union(area)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)


# --------------------------------------------------------------------------- reference


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


# --------------------------------------------------------------------------- journeys to points


def default_date(feed: Feed, weekday: int = 1) -> dt.date:
    """A regular service day of the feed: the first ``weekday`` (0 = Monday, 1 = Tuesday)
    of the service period on which as many trips run as on the busiest such weekday
    (a school-day timetable, not a holiday).

    Raises
    ------
    EmptyResultError
        No trip runs on that weekday in the whole service period.
    """
    first = feed.first_day + dt.timedelta(days=(weekday - feed.first_day.weekday()) % 7)
    days = [first + dt.timedelta(weeks=w) for w in range((feed.last_day - first).days // 7 + 1)]
    counts = np.array([int(feed.trips_on(d).sum()) for d in days])
    if not counts.size or counts.max() == 0:
        raise EmptyResultError(f"{feed.source}: no trip runs on any "
                               f"{dt.date(2024, 1, 1 + weekday):%A} of the service period")
    return days[int(np.argmax(counts))]


def direct_walk_s(from_xy: np.ndarray, to_xy: np.ndarray, settings: TransitSettings
                  ) -> np.ndarray:
    """Walking the whole way: crow-fly metres × detour factor at walking speed, no limit.

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


def journey_to_point(arrivals: Arrivals, point_xy: np.ndarray, walk: WalkModel,
                     direct_s: float = np.inf) -> tuple[float, list[dict[str, object]]]:
    """Earliest arrival at a point after :func:`earliest_arrival`, with its legs.

    The point is reached from the stop with the earliest (arrival + walk), or by walking
    the whole way when ``direct_s`` (seconds from the origin) is at least as early.

    Parameters
    ----------
    arrivals : Arrivals
        From :func:`earliest_arrival` (origin = one point or stop).
    point_xy : numpy.ndarray, shape (2,)
        Destination, EPSG:3035 metres.
    walk : WalkModel
        Egress walk from stops to the point.
    direct_s : float
        Seconds of walking the whole way (``inf``: not an option).

    Returns
    -------
    arrival_s : float
        Seconds since midnight (``inf``: not reachable).
    legs : list of dict
        As :meth:`Arrivals.journey`, ending with a walk leg to ``"destination"``; a single
        walk leg ``"origin"`` → ``"destination"`` when walking is at least as fast. Walks
        of 0 s (a point at a stop) are left out.
    """
    tt = arrivals.timetable
    i, _, w = walk(tt.stop_xy, np.asarray(point_xy, float).reshape(1, 2))
    at = arrivals.arrival_s[i] + w if len(i) else np.array([np.inf])
    best = int(np.argmin(at))
    walk_only = arrivals.depart_s + direct_s
    if walk_only <= at[best]:
        if not np.isfinite(walk_only):
            return np.inf, []
        return float(walk_only), [{"mode": "walk", "from": "origin", "departure":
                                   arrivals.depart_s, "to": "destination",
                                   "arrival": int(walk_only)}]
    stop = str(tt.stop_ids[i[best]])
    legs = [*arrivals.journey(stop),
            {"mode": "walk", "from": stop, "departure": int(arrivals.arrival_s[i[best]]),
             "to": "destination", "arrival": int(at[best])}]
    # a point lying at a stop walks 0 s: no leg
    return float(at[best]), [leg for leg in legs
                             if leg["mode"] != "walk" or leg["departure"] != leg["arrival"]]


def describe_legs(legs: Sequence[dict[str, object]], feed: Feed, date: dt.date
                  ) -> list[dict[str, object]]:
    """Legs for people and JSON: ``route`` (``walk`` for walks), ``trip``, ``from``/``to``
    (stop ids, ``origin``/``destination``) with ``from_name``/``to_name``, ``departure`` and
    ``arrival`` as ISO local date-times (``YYYY-MM-DDTHH:MM:SS``; past midnight = next day).
    """
    names = feed.stops.set_index("stop_id")["stop_name"]
    midnight = dt.datetime.combine(date, dt.time())

    def stamp(seconds: object) -> str:
        return (midnight + dt.timedelta(seconds=int(str(seconds)))).isoformat()

    return [{"route": leg.get("route", "walk"), "trip": leg.get("trip"),
             "from": leg["from"], "from_name": names.get(str(leg["from"]), str(leg["from"])),
             "departure": stamp(leg["departure"]),
             "to": leg["to"], "to_name": names.get(str(leg["to"]), str(leg["to"])),
             "arrival": stamp(leg["arrival"])} for leg in legs]


# --------------------------------------------------------------------------- quality per area


def gueteklassen_shares(klassen: gpd.GeoDataFrame, cells: pd.DataFrame,
                        gemeinden: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share of children under 10 per ÖV-Güteklasse in each Gemeinde.

    A Zensus cell belongs to the class area containing its centre (as cells belong to
    Gemeinden, see :mod:`geo.sources.population`); cells outside every class area count as
    ``none``.

    Parameters
    ----------
    klassen : geopandas.GeoDataFrame
        :func:`gueteklassen` (``klasse``, polygons in EPSG:3035).
    cells : pandas.DataFrame
        100 m cells with ``x``, ``y`` (EPSG:3035 centre), ``children_under_10`` and
        ``gemeinde_ags`` (:func:`geo.sources.population.read_children_100m`).
    gemeinden : geopandas.GeoDataFrame
        ``ags`` and ``name`` of the region's Gemeinden.

    Returns
    -------
    pandas.DataFrame
        One row per Gemeinde: ``ags``, ``name``, ``children_under_10`` and
        ``share_A`` … ``share_F``, ``share_none`` (fractions summing to 1; NaN for a
        Gemeinde without children cells).
    """
    classes = [*"ABCDEF", "none"]
    x, y = cells["x"].to_numpy(float), cells["y"].to_numpy(float)
    klasse = np.full(len(cells), "none", dtype=object)
    for name, area in zip(klassen["klasse"], klassen.geometry, strict=True):
        klasse[shapely.contains_xy(area, x, y) & (klasse == "none")] = name
    counts = (pd.DataFrame({"ags": cells["gemeinde_ags"].to_numpy(), "klasse": klasse,
                            "children": cells["children_under_10"].to_numpy(float)})
              .pivot_table(index="ags", columns="klasse", values="children", aggfunc="sum",
                           fill_value=0.0)
              .reindex(index=gemeinden["ags"], columns=classes, fill_value=0.0))
    total = counts.sum(axis=1)
    out = pd.DataFrame({"ags": gemeinden["ags"].to_numpy(),
                        "name": gemeinden["name"].to_numpy(),
                        "children_under_10": total.to_numpy()})
    for c in classes:
        out[f"share_{c}"] = (counts[c] / total.where(total > 0)).to_numpy()
    return out
