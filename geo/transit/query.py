"""Transit queries on a compiled timetable.

Earliest arrival with journeys, time-window profiles (median and best), egress to points
and journeys described for people.

Origins are stop/station ids (a station = all its platforms) or points, arrays (n, 2) of
EPSG:3035 metres that reach stops by a walk model (:mod:`geo.transit.walk`). Time windows
follow R5: one departure each ``window_step_s`` (60 s) in ``[start_s, end_s)``; per
destination the median and the best travel time over those departures, waiting at the
origin included. Longer than ``max_travel_s`` counts as unreachable (``inf``). All times
are seconds (since midnight of the date where they are clock times).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from geo.errors import DataError, EmptyResultError
from geo.settings import TransitSettings
from geo.sources.gtfs import Feed
from geo.transit.scan import NEVER, scan, scan_window
from geo.transit.timetable import Timetable, compile_timetable, hhmm
from geo.transit.walk import CrowFlyWalk, WalkModel

log = logging.getLogger(__name__)


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

    def arrival(self, stop_or_station_id: str | Sequence[str]) -> float:
        """Earliest arrival (seconds) at a stop, or at any platform of a station.

        A sequence of ids: the earliest at any of them.
        """
        return float(self.arrival_s[self.timetable.stop_index(_ids(stop_or_station_id))].min())

    def journey(self, stop_or_station_id: str | Sequence[str]) -> list[dict[str, object]]:
        """Legs of an earliest journey to a stop or station (any platform), or to any of ids.

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
        targets = tt.stop_index(_ids(stop_or_station_id))
        v = int(targets[np.argmin(T[legs, targets])])
        if T[legs, v] == NEVER:
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


def _ids(ids: str | Sequence[str]) -> list[str]:
    """One id or several as a list."""
    return [ids] if isinstance(ids, str) else list(ids)


def resolve_stops(feed: Feed, text: str) -> list[str]:
    """Stop or station ids meant by ``text``: an id, else a station or stop name.

    A name (case and surrounding spaces ignored) stands for the stations of that name
    (each = all its platforms), else for the stops of that name without a station; so a
    journey "to Pforzheim ZOB" arrives at whichever platform is reached first.

    Raises
    ------
    DataError
        Neither an id nor a name of the feed; the message lists similar names.
    """
    stops = feed.stops
    if text in set(stops["stop_id"]):
        return [text]
    key = text.strip().casefold()
    named = stops[stops["stop_name"].str.strip().str.casefold() == key]
    stations = named[named["location_type"] == 1]
    loose = named[(named["location_type"] == 0) & (named["parent_station"] == "")]
    found = [*stations["stop_id"], *loose["stop_id"]]
    if found:
        return found
    similar = difflib.get_close_matches(text, sorted(set(stops["stop_name"])), n=5)
    raise DataError(f"{text!r} is neither a stop id nor a stop or station name of "
                    f"{feed.source}" + (f"; similar names: {', '.join(similar)}"
                                        if similar else ""))


def _is_points(origins: Sequence[str] | np.ndarray) -> bool:
    """Whether ``origins`` are points (a float array) rather than stop ids."""
    return isinstance(origins, np.ndarray) and origins.dtype.kind == "f"


def origin_stops(tt: Timetable, origins: Sequence[str] | np.ndarray, walk: WalkModel
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
    _, src, src_s, via = origin_stops(tt, from_stops, walk)
    n = len(tt.stop_ids)
    T = np.empty((legs + 1, n), np.int32)
    Tv = np.empty_like(T)
    lab_exit, lab_enter = np.full_like(T, -1), np.full_like(T, -1)
    horizon = depart_s + s.max_travel_s
    scan(tt.dep, tt.arr, tt.frm, tt.to, tt.trip, tt.board, tt.alight, tt.fp_ptr, tt.fp_to,
         tt.fp_s, src, src_s + depart_s, int(np.searchsorted(tt.dep, depart_s)), horizon,
         legs, s.board_slack_s, len(tt.trip_ids), True, T, Tv, lab_exit, lab_enter)
    best = T[legs].astype(float)
    best[(T[legs] == NEVER) | (T[legs] > horizon)] = np.inf
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
    """Carry values at stops on to points by the egress walk.

    Per point the minimum over stops within walking distance of (value at the stop + walk
    seconds).

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
    tt, minutes, chunks = _profile_chunks(feed, origins, date, start_s, end_s, s,
                                          max_transfers, walk, destinations, chunk)
    median_parts, best_parts = [], []
    for out in chunks:
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
    _, minutes, chunks = _profile_chunks(feed, origins, date, start_s, end_s, s,
                                         max_transfers, walk, destinations, chunk)
    return minutes, np.concatenate(list(chunks))


def _profile_chunks(feed: Feed, origins: Sequence[str] | np.ndarray, date: dt.date,
                    start_s: int | None, end_s: int | None, s: TransitSettings,
                    max_transfers: int | None, walk: WalkModel | None,
                    destinations: np.ndarray | None, chunk: int
                    ) -> tuple[Timetable, np.ndarray, Iterator[np.ndarray]]:
    """Compile the timetable and scan the window, ``chunk`` origins at a time.

    Returns
    -------
    timetable, departures, chunks
        The compiled timetable, the departures (seconds since midnight) and, lazily per
        batch of origins, travel seconds (origins × departures × destinations).
    """
    walk = walk or CrowFlyWalk.from_settings(s)
    start_s = s.window_start_s if start_s is None else start_s
    end_s = s.window_end_s if end_s is None else end_s
    if end_s <= start_s:
        raise DataError(f"time window {start_s}..{end_s} s is empty")
    legs = (s.max_transfers if max_transfers is None else max_transfers) + 1
    tt = compile_timetable(feed, date, s, walk)
    ptr, src, src_s, _ = origin_stops(tt, origins, walk)
    minutes = np.arange(start_s, end_s, s.window_step_s, dtype=np.int64)
    starts = np.searchsorted(tt.dep, minutes).astype(np.int64)
    n_orig, n_stops = len(ptr) - 1, len(tt.stop_ids)

    def batches() -> Iterator[np.ndarray]:
        for lo in range(0, max(n_orig, 1), chunk):
            hi = min(lo + chunk, n_orig)
            out = np.empty((hi - lo, len(minutes), n_stops))
            sub = ptr[lo:hi + 1]
            scan_window(tt.dep, tt.arr, tt.frm, tt.to, tt.trip, tt.board, tt.alight,
                        tt.fp_ptr, tt.fp_to, tt.fp_s, sub - sub[0], src[sub[0]:sub[-1]],
                        src_s[sub[0]:sub[-1]], minutes, starts, s.max_travel_s, legs,
                        s.board_slack_s, len(tt.trip_ids), False, out)
            if destinations is not None:
                out = egress(out, tt, destinations, walk)
                out[out > s.max_travel_s] = np.inf
            yield out

    return tt, minutes, batches()


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
    """Describe legs for people and JSON.

    Each leg: ``route`` (``walk`` for walks), ``trip``, ``from``/``to`` (stop ids,
    ``origin``/``destination``) with ``from_name``/``to_name``, ``departure`` and
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

