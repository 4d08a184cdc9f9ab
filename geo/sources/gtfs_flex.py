"""GTFS-Flex (GTFS Schedule since 2024): on-demand zones (Rufbus, AST) and booking rules.

A Flex trip serves a **zone** (``locations.geojson``, a polygon) instead of stops: its
stop_times rows name a ``location_id`` and a time window
(``start_pickup_drop_off_window`` … ``end_pickup_drop_off_window``) instead of a stop and
times, and a booking rule (``booking_rules.txt``, via ``pickup_booking_rule_id``) says
how the ride must be booked: in real time (``booking_type`` 0), on the same day at least
``prior_notice_duration_min`` minutes before (1), or up to ``prior_notice_last_day`` days
before at ``prior_notice_last_time`` (2).

:func:`read_flex` reads these parts of a feed; :meth:`Flex.options` models a booked trip by
its window and lead time: for a ride from A to B at a given time, the zones' services that
contain both points, run that day and have the time in their window, each with the latest
moment to book and the German note "Anmeldung nötig". The ride's duration is not in the
feed (GTFS-Flex has no travel time), so no minutes are invented for it; the connection scan
routes the fixed-schedule trips only (:func:`geo.sources.gtfs.load_feed` sets the zone rows
aside and counts them).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.errors import DataError
from geo.messages import text
from geo.vocabulary import METRIC_CRS

_TO_3035 = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TIME = r"^\s*(\d{1,3}):([0-5]\d):([0-5]\d)\s*$"


@dataclass(frozen=True)
class BookingRule:
    """One row of booking_rules.txt (times in minutes / days, as GTFS gives them)."""

    rule_id: str
    booking_type: int  #: 0 real time, 1 same day with notice, 2 prior day(s)
    notice_min: int | None  #: prior_notice_duration_min (type 1), minutes
    last_day: int | None  #: prior_notice_last_day (type 2), days before travel
    last_time: str | None  #: prior_notice_last_time (type 2), HH:MM:SS
    phone: str
    url: str
    message: str

    def book_by(self, travel: dt.datetime) -> dt.datetime:
        """Return the latest moment to book a ride starting at ``travel`` (local time)."""
        if self.booking_type == 1:
            return travel - dt.timedelta(minutes=self.notice_min or 0)
        if self.booking_type == 2:
            h, m, s = (int(v) for v in (self.last_time or "00:00:00").split(":"))
            return (dt.datetime.combine(travel.date(), dt.time())
                    - dt.timedelta(days=self.last_day or 0)
                    + dt.timedelta(hours=h, minutes=m, seconds=s))
        return travel


@dataclass(frozen=True)
class ZoneService:
    """A Flex trip serving one zone: pick-up and drop-off anywhere in it within a window."""

    trip_id: str
    service_id: str
    route: str  #: route short (or long) name
    zone_id: str
    zone: shapely.Geometry  #: EPSG:3035
    start_s: int  #: window start, seconds since midnight
    end_s: int  #: window end, seconds since midnight
    rule: BookingRule | None


@dataclass(frozen=True)
class Flex:
    """The Flex parts of a feed: zone services and their booking rules."""

    services: list[ZoneService]
    rules: dict[str, BookingRule]

    def options(self, active_services: set[str], a_xy: tuple[float, float],
                b_xy: tuple[float, float], day: dt.date, at_s: int,
                lang: str = "de") -> list[dict[str, Any]]:
        """Booked rides from A to B leaving at ``at_s`` (seconds since midnight of ``day``).

        Parameters
        ----------
        active_services : set of str
            Service ids running on ``day`` (:meth:`geo.sources.gtfs.Feed.active_services`).
        a_xy, b_xy : tuple of float
            Origin and destination, EPSG:3035 metres.

        Returns
        -------
        list of dict
            Per zone service containing both points, running that day, with ``at_s`` in
            its window: ``route``, ``trip``, ``zone``, ``window`` (HH:MM–HH:MM),
            ``booking_required``, ``book_by`` (ISO local time), ``phone``, ``url`` and
            ``note`` ("Anmeldung nötig …").
        """
        travel = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=at_s)
        out = []
        for sv in self.services:
            if (sv.service_id not in active_services or not sv.start_s <= at_s <= sv.end_s
                    or not shapely.contains_xy(sv.zone, *a_xy)
                    or not shapely.contains_xy(sv.zone, *b_xy)):
                continue
            by = sv.rule.book_by(travel) if sv.rule else travel
            out.append({
                "route": sv.route, "trip": sv.trip_id, "zone": sv.zone_id,
                "window": f"{_hhmm(sv.start_s)}–{_hhmm(sv.end_s)}",
                "booking_required": sv.rule is not None, "book_by": by.isoformat(),
                "phone": sv.rule.phone if sv.rule else "", "url": sv.rule.url if sv.rule else "",
                "note": text("transit.booking", lang, book_by=by.strftime("%d.%m.%Y %H:%M"),
                             contact=(sv.rule.phone or sv.rule.url) if sv.rule else "–")})
        return out


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _read(path: Path, name: str) -> pd.DataFrame | None:
    """Read a feed file as text columns (None when absent), from a zip or a folder."""
    if path.is_dir():
        f = path / name
        return pd.read_csv(f, dtype=str, keep_default_na=False) if f.exists() else None
    with zipfile.ZipFile(path) as z:
        if name not in z.namelist():
            return None
        return pd.read_csv(io.BytesIO(z.read(name)), dtype=str, keep_default_na=False)


def _read_zones(path: Path, source: str) -> dict[str, shapely.Geometry]:
    """``locations.geojson``: zone id → polygon in EPSG:3035."""
    if path.is_dir():
        raw = (path / "locations.geojson").read_text("utf-8")
    else:
        with zipfile.ZipFile(path) as z:
            raw = z.read("locations.geojson").decode("utf-8")
    zones = {}
    for i, feature in enumerate(json.loads(raw).get("features", [])):
        if "id" not in feature:
            raise DataError(f"{source}: locations.geojson feature {i + 1} has no id")
        geom = shapely.from_geojson(json.dumps(feature["geometry"]))
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise DataError(f"{source}: locations.geojson feature {feature['id']!r} is a "
                            f"{geom.geom_type}, not a Polygon or MultiPolygon")
        zones[str(feature["id"])] = shapely.transform(
            geom, lambda xy: np.column_stack(_TO_3035.transform(xy[:, 0], xy[:, 1])))
    return zones


def _int(frame: pd.DataFrame, i: int, column: str, source: str) -> int | None:
    """Return an optional whole number of a booking_rules.txt row (line = i + 2)."""
    value = frame[column].iloc[i].strip() if column in frame else ""
    if value == "":
        return None
    if not value.isdigit():
        raise DataError(f"{source}: booking_rules.txt line {i + 2}: {column} '{value}' is "
                        "not a whole number")
    return int(value)


def _rules(frame: pd.DataFrame, source: str) -> dict[str, BookingRule]:
    """Parse booking_rules.txt, checking the fields each booking type needs."""
    rules = {}
    for i in range(len(frame)):
        kind = _int(frame, i, "booking_type", source)
        if kind not in (0, 1, 2):
            raise DataError(f"{source}: booking_rules.txt line {i + 2}: booking_type "
                            f"'{frame['booking_type'].iloc[i]}' is not 0, 1 or 2")
        notice, last_day = (_int(frame, i, c, source) for c in
                            ("prior_notice_duration_min", "prior_notice_last_day"))
        last_time = frame["prior_notice_last_time"].iloc[i].strip() \
            if "prior_notice_last_time" in frame else ""
        if kind == 1 and notice is None:
            raise DataError(f"{source}: booking_rules.txt line {i + 2}: booking_type 1 needs "
                            "prior_notice_duration_min")
        if kind == 2 and (last_day is None or not pd.Series([last_time]).str.match(
                _TIME).iloc[0]):
            raise DataError(f"{source}: booking_rules.txt line {i + 2}: booking_type 2 needs "
                            "prior_notice_last_day and prior_notice_last_time HH:MM:SS")
        row = frame.iloc[i]
        rules[row["booking_rule_id"]] = BookingRule(
            row["booking_rule_id"], kind, notice, last_day, last_time or None,
            row.get("phone_number", ""), row.get("booking_url", "") or row.get("info_url", ""),
            row.get("message", ""))
    return rules


def _window(st: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Window times of Flex stop_times rows as seconds since midnight."""
    parts = st[column].astype("string").str.extract(_TIME)
    bad = parts[0].isna()
    if bad.any():
        line = int(st.index[bad.to_numpy()][0]) + 2
        raise DataError(f"{source}: stop_times.txt line {line}: {column} "
                        f"'{st[column][bad].iloc[0]}' is not HH:MM:SS")
    p = parts.astype(int)
    return p[0] * 3600 + p[1] * 60 + p[2]


def flex_rows(stop_times: pd.DataFrame) -> pd.Series:
    """Flag the stop_times rows that serve a Flex zone (``location_id``), not a stop."""
    if "location_id" not in stop_times.columns:
        return pd.Series(False, index=stop_times.index)
    ids = stop_times["location_id"].astype("string")
    return ids.notna() & (ids != "")


def read_flex(path: Path, stop_times: pd.DataFrame, trips: pd.DataFrame,
              routes: pd.DataFrame, source: str) -> Flex | None:
    """Read a feed's Flex zone services and booking rules (None: the feed has no Flex).

    ``stop_times`` are the rows gtfs-kit read (with ``location_id``); a zone trip is the
    rows of a trip that name a location of ``locations.geojson`` instead of a stop.

    Raises
    ------
    DataError
        A booking rule, window or location that breaks the spec; the message names the
        file, line and field.
    """
    rows = stop_times[flex_rows(stop_times)].drop_duplicates(["trip_id", "location_id"])
    if rows.empty:
        return None
    zones = _read_zones(path, source)
    rule_table = _read(path, "booking_rules.txt")
    rules = _rules(rule_table, source) if rule_table is not None else {}
    unknown = ~rows["location_id"].isin(list(zones))
    if unknown.any():
        raise DataError(f"{source}: stop_times.txt line {int(rows.index[unknown][0]) + 2}: "
                        f"location_id '{rows['location_id'][unknown].iloc[0]}' is not in "
                        "locations.geojson")
    start = _window(rows, "start_pickup_drop_off_window", source)
    end = _window(rows, "end_pickup_drop_off_window", source)
    trip = trips.set_index("trip_id")
    names = routes.set_index("route_id")
    short = names.get("route_short_name", pd.Series("", index=names.index)).fillna("")
    services = []
    for i, (_, r) in enumerate(rows.iterrows()):
        rule_id = r.get("pickup_booking_rule_id")
        if isinstance(rule_id, str) and rule_id and rule_id not in rules:
            raise DataError(f"{source}: stop_times.txt line {int(rows.index[i]) + 2}: "
                            f"pickup_booking_rule_id '{rule_id}' is not in booking_rules.txt")
        route_id = trip.loc[r["trip_id"], "route_id"]
        services.append(ZoneService(
            str(r["trip_id"]), str(trip.loc[r["trip_id"], "service_id"]),
            str(short.get(route_id, route_id)), str(r["location_id"]), zones[r["location_id"]],
            int(start.iloc[i]), int(end.iloc[i]),
            rules.get(rule_id) if isinstance(rule_id, str) else None))
    return Flex(services, rules)
