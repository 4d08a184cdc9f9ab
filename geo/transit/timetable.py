"""Timetable compilation: a GTFS :class:`~geo.sources.gtfs.Feed` for one date as arrays.

Times are integer seconds since midnight of the chosen date; trips of the previous service
day that run past midnight (times ≥ 24:00) are shifted by −86,400 s and used. The
connections (one per pair of consecutive stops of a trip run) are sorted by departure, as
the connection scan (:mod:`geo.transit.scan`) reads them; walk transfers between stops come
from a walk model (:mod:`geo.transit.walk`) in CSR form.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import DataError, EmptyResultError
from geo.settings import TransitSettings
from geo.sources.gtfs import Feed
from geo.transit.walk import CrowFlyWalk, WalkModel

log = logging.getLogger(__name__)

#: seconds of a day
DAY_S = 86_400


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
        """Give the internal stop numbers of stop ids; a station id stands for its platforms.

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
        Transfer walks between stops; default :class:`~geo.transit.walk.CrowFlyWalk` from
        ``settings``.

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
    run_ids, run_offset = _runs(feed, date)
    trip_names = _route_names(feed).reindex(
        feed.tables.trips.set_index("trip_id").loc[run_ids, "route_id"]).to_numpy(str)
    xy = stops[["x", "y"]].to_numpy(float)
    children = pd.Series(stops["parent_station"].to_numpy(str)).groupby(
        stops["parent_station"].to_numpy(str)).indices
    children.pop("", None)
    tt = Timetable(
        date=date, stop_ids=stop_ids, stop_xy=xy,
        **_connections(feed, run_ids, run_offset, pd.Series(np.arange(len(stops)),
                                                            index=stop_ids)),
        trip_ids=run_ids, trip_routes=trip_names, **_transfers(walk, xy),
        children=children, stop_pos={sid: i for i, sid in enumerate(stop_ids)},
    )
    log.info("timetable %s: %d trips, %d connections, %d stops, %d walk transfers",
             date, len(run_ids), len(tt.dep), len(stop_ids), len(tt.fp_to))
    feed.cache[key] = tt
    return tt


def _route_names(feed: Feed) -> pd.Series:
    """Route short name (long name where the short one is empty) per route_id."""
    routes = feed.tables.routes.set_index("route_id")
    name = pd.Series(routes.get("route_short_name", routes.index),
                     index=routes.index).astype("string").fillna("")
    if "route_long_name" in routes:
        name = name.where(name != "", routes["route_long_name"]).fillna("")
    return name


def _runs(feed: Feed, date: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """List the trip runs touching ``date``.

    Trip ids of the previous day and of the day itself, and their time offsets (seconds:
    −86,400 for the previous day, 0).
    """
    trips = feed.tables.trips
    parts, offsets = [], []
    for day, offset in ((date - dt.timedelta(days=1), -DAY_S), (date, 0)):
        ids = trips.loc[feed.trips_on(day), "trip_id"].astype(str)
        parts.append(ids.to_numpy())
        offsets.append(np.full(len(ids), offset, np.int64))
    return np.concatenate(parts), np.concatenate(offsets)


def _connections(feed: Feed, run_ids: np.ndarray, run_offset: np.ndarray,
                 stop_no: pd.Series) -> dict[str, np.ndarray]:
    """Build the connections of the trip runs, sorted by departure.

    The ``dep``, ``arr``, ``frm``, ``to``, ``trip``, ``board`` and ``alight`` fields of
    :class:`Timetable` (connections arriving before midnight of the previous day are left
    out).
    """
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

    return {"dep": pick(dep).astype(np.int32), "arr": pick(arr).astype(np.int32),
            "frm": pick(s_no[:-1][same]).astype(np.int32),
            "to": pick(s_no[1:][same]).astype(np.int32),
            "trip": pick(run[:-1][same]).astype(np.int32),
            "board": pick(st["pickup_type"].to_numpy()[:-1][same] != 1),
            "alight": pick(st["drop_off_type"].to_numpy()[1:][same] != 1)}


def _transfers(walk: WalkModel, xy: np.ndarray) -> dict[str, np.ndarray]:
    """Walk transfers between distinct stops at ``xy`` (EPSG:3035 metres), CSR form.

    The ``fp_ptr``, ``fp_to`` and ``fp_s`` (seconds) fields of :class:`Timetable`.
    """
    fi, fj, fs = walk(xy, xy)
    other = fi != fj
    fi, fj, fs = fi[other], fj[other], fs[other]
    o = np.lexsort((fs, fi))
    return {"fp_ptr": np.searchsorted(fi[o], np.arange(len(xy) + 1)).astype(np.int64),
            "fp_to": fj[o].astype(np.int32), "fp_s": fs[o].astype(np.int32)}


def default_date(feed: Feed, weekday: int = 1) -> dt.date:
    """Pick a regular service day of the feed.

    The first ``weekday`` (0 = Monday, 1 = Tuesday) of the service period on which as many
    trips run as on the busiest such weekday (a school-day timetable, not a holiday).

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



def hhmm(seconds: int) -> str:
    """Seconds since midnight → ``HH:MM`` (hours past 24 kept, e.g. ``24:07``)."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def parse_clock(text: str, what: str) -> int:
    """Parse ``HH:MM`` into seconds since midnight; the inverse of :func:`hhmm`.

    Hours go up to 47 for times past midnight, as in GTFS.

    Raises
    ------
    DataError
        ``text`` is not ``HH:MM``; the message names ``what`` (an option or field).
    """
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 48 and int(minutes) < 60):
        raise DataError(f"{what} {text!r} is not HH:MM")
    return int(hours) * 3600 + int(minutes) * 60

