"""There and back within opening hours.

Can one reach an offer by walking and public transport before it opens and get home after
it closes, the same day?

The outbound journey is the **latest** departure from home (every ``window_step_s``,
60 s) that still arrives at the offer by the start time; the return journey is the
**earliest** arrival home leaving the offer at the end time, before midnight. Walks follow
the walk model (:mod:`geo.transit.walk`); walking the whole way counts when it takes at most
``max_travel_s`` (3 h). Start and end come from the caller or from the offer's OSM
``opening_hours`` on that date (its first opening interval), read with opening-hours-py,
the library that checks them on import (:mod:`geo.sources.offers`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from opening_hours import (  # type: ignore[attr-defined]  # the stub lacks ParserError
    OpeningHours,
    ParserError,
    State,
)

from geo.errors import DataError
from geo.settings import TransitSettings
from geo.sources.gtfs import Feed
from geo.transit.query import departure_profiles, describe_legs, earliest_arrival, journey_to_point
from geo.transit.timetable import DAY_S, hhmm
from geo.transit.walk import CrowFlyWalk, WalkModel, walk_whole_way_s


class HoursUnknownError(DataError):
    """No start and end given, and the offer has no opening hours to take them from."""


class ClosedThatDayError(DataError):
    """The offer's opening hours say it is closed all day on the date asked."""


def opening_interval(opening_hours: str, date: dt.date) -> tuple[int, int]:
    """Find the first opening interval of an OSM ``opening_hours`` value on ``date``.

    Returns
    -------
    tuple of int
        Opening and closing time, seconds since midnight (closing at most 86,400).

    Raises
    ------
    DataError
        The value is not valid ``opening_hours`` syntax.
    ClosedThatDayError
        The offer is closed all day.
    """
    try:
        hours = OpeningHours(opening_hours)
    except ParserError as exc:
        raise DataError(f"opening_hours {opening_hours!r} is not valid OSM syntax: {exc}") \
            from None
    midnight = dt.datetime.combine(date, dt.time())
    for start, end, state, _ in hours.intervals(midnight, midnight + dt.timedelta(days=1)):
        if state == State.OPEN:
            return (int((start - midnight).total_seconds()),
                    int((end - midnight).total_seconds()))
    raise ClosedThatDayError(f"closed all day on {date} ({date:%A}) by opening_hours "
                             f"{opening_hours!r}")


@dataclass(frozen=True)
class ThereAndBack:
    """Answer of :func:`there_and_back`.

    Attributes
    ----------
    possible : bool
        Both journeys exist.
    date : datetime.date
    arrive_by_s, leave_after_s : int
        Start and end of the visit, seconds since midnight.
    outbound, back : list of dict or None
        Legs (:func:`geo.transit.query.describe_legs`), None when there is no such journey.
    reason : str
        Why not (empty when possible).
    """

    possible: bool
    date: dt.date
    arrive_by_s: int
    leave_after_s: int
    outbound: list[dict[str, object]] | None
    back: list[dict[str, object]] | None
    reason: str

    def summary(self) -> dict[str, Any]:
        """Summarise as JSON-ready values.

        ``possible``, ``date``, ``arrive_by``, ``leave_after`` (HH:MM), ``outbound`` and
        ``back`` (``departure``, ``arrival``, ``minutes``, ``legs``) and ``reason``.
        """
        def journey(legs: list[dict[str, object]] | None) -> dict[str, Any] | None:
            if legs is None:
                return None
            dep = dt.datetime.fromisoformat(str(legs[0]["departure"]))
            arr = dt.datetime.fromisoformat(str(legs[-1]["arrival"]))
            return {"departure": legs[0]["departure"], "arrival": legs[-1]["arrival"],
                    "minutes": round((arr - dep).total_seconds() / 60, 1), "legs": legs}

        return {"possible": self.possible, "date": self.date.isoformat(),
                "arrive_by": hhmm(self.arrive_by_s),
                "leave_after": hhmm(self.leave_after_s),
                "outbound": journey(self.outbound), "back": journey(self.back),
                "reason": self.reason}


def there_and_back(feed: Feed, home_xy: np.ndarray, offer_xy: np.ndarray, date: dt.date,
                   arrive_by_s: int | None = None, leave_after_s: int | None = None, *,
                   opening_hours: str | None = None,
                   settings: TransitSettings | None = None,
                   walk: WalkModel | None = None) -> ThereAndBack:
    """Arrive at an offer by a start time and get home after an end time, the same day.

    Parameters
    ----------
    feed : Feed
    home_xy, offer_xy : numpy.ndarray, shape (2,)
        EPSG:3035 metres.
    date : datetime.date
    arrive_by_s, leave_after_s : int, optional
        Seconds since midnight; default: the first opening interval of ``opening_hours``.
    opening_hours : str, optional
        The offer's OSM ``opening_hours``.
    settings : TransitSettings, optional
    walk : WalkModel, optional
        Access, egress and transfer walks (default :class:`~geo.transit.walk.CrowFlyWalk`).

    Returns
    -------
    ThereAndBack

    Raises
    ------
    HoursUnknownError
        Neither times nor ``opening_hours`` given.
    ClosedThatDayError
        The offer is closed all day on ``date``.
    DataError
        The end lies before the start.
    """
    s = settings or TransitSettings()
    walk = walk or CrowFlyWalk.from_settings(s)
    if arrive_by_s is None or leave_after_s is None:
        if opening_hours is None:
            raise HoursUnknownError("give the arrival and departure times or the offer's "
                                    "opening_hours")
        opens, closes = opening_interval(opening_hours, date)
        arrive_by_s = opens if arrive_by_s is None else arrive_by_s
        leave_after_s = closes if leave_after_s is None else leave_after_s
    if leave_after_s < arrive_by_s:
        raise DataError(f"leave after {hhmm(leave_after_s)} lies before arriving by "
                        f"{hhmm(arrive_by_s)}")
    home, offer = (np.asarray(p, float).reshape(1, 2) for p in (home_xy, offer_xy))
    direct = float(walk_whole_way_s(walk, home, offer, s)[0, 0])
    direct = direct if direct <= s.max_travel_s else np.inf
    outbound = _latest_arriving_by(feed, home, offer, date, arrive_by_s, direct, s, walk)
    arrivals = earliest_arrival(feed, offer, leave_after_s, date, settings=s, walk=walk)
    home_at, back_legs = journey_to_point(arrivals, home[0], walk, direct)
    back = back_legs if home_at < DAY_S else None
    reasons = [text for legs, text in (
        (outbound, f"no journey arrives by {hhmm(arrive_by_s)}"),
        (back, f"no journey home after {hhmm(leave_after_s)} arrives before 24:00"),
    ) if legs is None]
    return ThereAndBack(
        not reasons, date, arrive_by_s, leave_after_s,
        None if outbound is None else describe_legs(outbound, feed, date),
        None if back is None else describe_legs(back, feed, date), "; ".join(reasons))


def _latest_arriving_by(feed: Feed, home: np.ndarray, offer: np.ndarray, date: dt.date,
                        arrive_by_s: int, direct_s: float, s: TransitSettings,
                        walk: WalkModel) -> list[dict[str, object]] | None:
    """Legs of the latest departure (whole steps) arriving at ``offer`` by ``arrive_by_s``."""
    start = max(arrive_by_s - s.max_travel_s, 0)
    if arrive_by_s <= start:
        return None
    deps, prof = departure_profiles(feed, home, date, start, arrive_by_s,
                                    settings=s, walk=walk, destinations=offer)
    arrival = deps + np.minimum(prof[0, :, 0], direct_s)
    ok = np.flatnonzero(arrival <= arrive_by_s)
    if not len(ok):
        return None
    depart = int(deps[ok[-1]])
    if direct_s <= prof[0, ok[-1], 0]:  # walking is as fast: leave as late as possible
        leave = int(arrive_by_s - direct_s)
        return [{"mode": "walk", "from": "origin", "departure": leave, "to": "destination",
                 "arrival": int(leave + direct_s)}]
    arrivals = earliest_arrival(feed, home, depart, date, settings=s, walk=walk)
    return journey_to_point(arrivals, offer[0], walk)[1]
