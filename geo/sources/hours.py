"""Opening hours of offers (OSM ``opening_hours`` syntax) at a local time, Europe/Berlin.

An offer without hours, or with hours that say ``unknown`` at that time, is *unknown*
(``None``): never counted as open, never as closed. Times are naive local times of
:data:`TZ` (what a family means by "Tuesday 15:00").
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

# opening_hours' __init__.pyi omits ParserError and State, which the extension module exports
from opening_hours import OpeningHours, ParserError, State  # type: ignore[attr-defined]

#: Time zone of the offers' opening hours.
TZ: Final = ZoneInfo("Europe/Berlin")
#: Weekday keys, Monday first (``mo`` … ``so``, as the family page asks them).
WEEKDAYS: Final = ("mo", "di", "mi", "do", "fr", "sa", "so")


def local_now() -> dt.datetime:
    """Return the current naive local time in :data:`TZ` (minutes precision)."""
    return dt.datetime.now(TZ).replace(tzinfo=None, second=0, microsecond=0)


def _parsed(hours: object) -> OpeningHours | None:
    """Parse ``hours``; None when missing, blank or not OSM syntax (the hours are unknown)."""
    if not isinstance(hours, str) or not hours.strip():
        return None
    try:
        return OpeningHours(hours)
    except ParserError:
        return None


def is_open(hours: object, when: dt.datetime) -> bool | None:
    """Whether an offer with ``hours`` is open at the local time ``when``.

    Returns
    -------
    bool or None
        True open, False closed, None unknown (no hours, unparsable, or ``unknown`` then).
    """
    parsed = _parsed(hours)
    if parsed is None:
        return None
    state = parsed.state(when.replace(tzinfo=None))[0]
    return None if state == State.UNKNOWN else state == State.OPEN


def day_text(hours: object, day: dt.date, closed: str) -> str | None:
    """Return the opening times of one local day, e.g. ``"08:00–12:00, 14:00–16:00"``.

    ``closed`` is returned when the hours say closed all day; None when they are unknown
    (no hours, unparsable). Times of ``unknown`` state are followed by "?".
    """
    parsed = _parsed(hours)
    if parsed is None:
        return None
    start = dt.datetime.combine(day, dt.time())
    parts = []
    for begin, end, state, _ in parsed.intervals(start, start + dt.timedelta(days=1)):
        if state in (State.OPEN, State.UNKNOWN):
            until = "24:00" if end - start >= dt.timedelta(days=1) else f"{end:%H:%M}"
            parts.append(f"{begin:%H:%M}–{until}" + ("?" if state == State.UNKNOWN else ""))
    return ", ".join(parts) if parts else closed


def weekday_time(weekday: str, clock: dt.time, today: dt.date) -> dt.datetime:
    """Return the local moment of ``weekday`` (``mo`` … ``so``) at ``clock``.

    The day is today or the next such weekday (public holidays in the hours apply to it).
    """
    ahead = (WEEKDAYS.index(weekday) - today.weekday()) % 7
    return dt.datetime.combine(today + dt.timedelta(days=ahead), clock)
