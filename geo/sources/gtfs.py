"""GTFS timetables: read (file or URL, cached), validate, clip to a region, store, service days.

A :class:`Feed` is a validated GTFS feed: the raw tables (read with gtfs-kit) plus stop
times in seconds since midnight of the service day (may exceed 86,400 for trips running
past midnight) and stop coordinates in EPSG:3035 metres. ``geo.transit`` routes on it.

Errors name the file, the line (line 1 is the header), the field and the value, e.g.
``stop_times.txt line 119: arrival_time '25:61' is not HH:MM:SS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gtfs_kit as gk
import httpx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo._io import (
    BuildManifest,
    atomic_path,
    clean_stray_tmp,
    files_digest,
    guard_zip,
    is_http_url,
    redact_http_logs,
    redact_url,
    scrub,
)
from geo.errors import DataError, DownloadError, LimitError, RegionError
from geo.settings import Region, Settings, get_region
from geo.sources.download import make_client
from geo.sources.gtfs_flex import Flex, flex_rows, read_flex
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)
redact_http_logs()  # httpx logs every request URL at INFO: never with its secrets

#: Files every feed needs (plus calendar.txt or calendar_dates.txt) and their needed columns.
REQUIRED: dict[str, tuple[str, ...]] = {
    "stops": ("stop_id", "stop_lat", "stop_lon"),
    "routes": ("route_id", "route_type"),
    "trips": ("route_id", "service_id", "trip_id"),
    "stop_times": ("trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time"),
}
CALENDAR_COLUMNS: dict[str, tuple[str, ...]] = {
    "calendar": ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                 "saturday", "sunday", "start_date", "end_date"),
    "calendar_dates": ("service_id", "date", "exception_type"),
}
#: CRS of stop coordinates ``x``/``y`` (the Zensus grid's, metres).
_TO_3035 = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TIME = r"^\s*(\d{1,3}):([0-5]\d):([0-5]\d)\s*$"


@dataclass(eq=False)
class Feed:
    """A validated GTFS feed.

    Attributes
    ----------
    source : str
        Path or URL it was read from.
    tables : gtfs_kit.Feed
        The GTFS tables as read (times as text); clipped when a region was given.
    stops : pandas.DataFrame
        One row per stop or station: ``stop_id``, ``stop_name``, ``lat``, ``lon`` (WGS84),
        ``x``, ``y`` (EPSG:3035 metres), ``location_type`` (0 stop/platform, 1 station, …),
        ``parent_station`` ('' if none).
    stop_times : pandas.DataFrame
        ``trip_id``, ``stop_id``, ``stop_sequence``, ``arrival_s``, ``departure_s``
        (int seconds since midnight of the service day), ``pickup_type``,
        ``drop_off_type`` (0 regular, 1 none), sorted by trip and sequence.
    first_day, last_day : datetime.date
        First and last date named by calendar / calendar_dates.
    """

    source: str
    tables: Any
    stops: pd.DataFrame
    stop_times: pd.DataFrame
    first_day: dt.date
    last_day: dt.date
    #: compiled per-date timetables (``geo.transit.timetable``), filled lazily
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    #: GTFS-Flex zone services and booking rules (:mod:`geo.sources.gtfs_flex`), if any
    flex: Flex | None = None

    def summary(self) -> dict[str, Any]:
        """Return counts and service period: the JSON that ``erreichbar gtfs load`` prints.

        A feed with GTFS-Flex adds ``flex_zone_trips`` and ``booking_rules``.
        """
        out: dict[str, Any] = {
            "stops": len(self.stops),
            "routes": len(self.tables.routes),
            "trips": len(self.tables.trips),
            "stop_times": len(self.stop_times),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }
        if self.flex is not None:
            out |= {"flex_zone_trips": len(self.flex.services),
                    "booking_rules": len(self.flex.rules)}
        return out

    def active_services(self, day: dt.date) -> set[str]:
        """Service ids running on ``day`` from calendar.txt and calendar_dates.txt."""
        return set(self.tables.get_active_services(day.strftime("%Y%m%d")))

    def trips_on(self, day: dt.date) -> pd.Series:
        """Boolean per row of ``tables.trips``: the trip runs on service day ``day``."""
        return self.tables.trips["service_id"].isin(self.active_services(day))

    def station_of(self) -> pd.Series:
        """``stop_id`` → its parent station id, or itself when it has none."""
        parent = self.stops["parent_station"].where(self.stops["parent_station"] != "",
                                                    self.stops["stop_id"])
        return pd.Series(parent.to_numpy(), index=self.stops["stop_id"].to_numpy())


# --------------------------------------------------------------------------- reading


def load_feed(path_or_url: str | Path, settings: Settings,
              region: str | Region | None = None, *,
              client: httpx.Client | None = None) -> Feed:
    """Read, validate and (optionally) clip a GTFS feed.

    Parameters
    ----------
    path_or_url : str or Path
        A GTFS .zip or folder, or an http(s) URL (any case of the scheme; downloaded once
        into ``settings.raw_dir / "gtfs"`` and revalidated with ETag / Last-Modified).
        Credentials in a URL (``user:pw@``, ``?apikey=``) are never logged or stored:
        ``Feed.source`` and every message hold :func:`geo._io.redact_url` of it.
    settings : Settings
        Paths and ``settings.transit.clip_margin_m``.
    region : str or Region, optional
        Keep the trips calling inside the region's county polygon plus the clip margin
        (metres; :func:`region_area`), whole, and the stops, routes and services they use.
    client : httpx.Client, optional
        HTTP client for URLs (tests pass one with a recorded response).

    Returns
    -------
    Feed

    Raises
    ------
    DataError
        Missing files or columns, unreadable times, unknown ids.
    LimitError
        The zip, its unpacked size or the download exceeds ``settings.limits``.
    RegionError
        No stop, or no trip serving two stops, inside the region.
    DownloadError
        The URL could not be fetched or is not a zip file.
    """
    raw = str(path_or_url)
    url = is_http_url(raw)
    source = redact_url(raw) if url else raw
    path = download(raw, settings, client=client) if url else Path(raw)
    if not path.exists():
        raise DataError(f"GTFS feed {path} not found")
    _check_size(path, settings, source)
    try:
        tables = gk.read_feed(path, dist_units="km")
    except (ValueError, KeyError, TypeError, OSError, EOFError, UnicodeDecodeError,
            NotImplementedError, zlib.error, zipfile.BadZipFile, pd.errors.ParserError) as exc:
        raise DataError(f"{source}: not a readable GTFS feed ({scrub(str(exc), raw)})") \
            from None
    flex = (read_flex(path, tables.stop_times, tables.trips, tables.routes, source)
            if all(getattr(tables, n) is not None for n in ("stop_times", "trips", "routes"))
            else None)  # missing files: _check_tables says which
    if flex is not None:  # zone rows have no stop: set aside, routed by their windows
        tables.stop_times = tables.stop_times[~flex_rows(tables.stop_times)]
        log.info("%s: %d GTFS-Flex zone trips, %d booking rules (not in the connection "
                 "scan, not stored with the clipped feed)", source, len(flex.services),
                 len(flex.rules))
    _check_tables(tables, source)
    if region is not None:
        reg = get_region(region) if isinstance(region, str) else region
        tables = _clip(tables, reg, region_area(settings, reg), source)
    feed = replace(_build(tables, source), flex=flex)
    log.info("GTFS %s: %d stops, %d routes, %d trips, %d stop_times, service %s..%s",
             source, len(feed.stops), len(tables.routes), len(tables.trips),
             len(feed.stop_times), feed.first_day, feed.last_day)
    return feed


def _check_size(path: Path, settings: Settings, source: str) -> None:
    """Refuse a feed larger than ``settings.limits`` before gtfs-kit unpacks it.

    A zip: its size and (:func:`geo._io.guard_zip`) its members' unpacked sizes and
    compression ratios; a folder: the summed size of its ``.txt`` files.
    """
    limits = settings.limits
    if path.is_dir():
        total = sum(p.stat().st_size for p in path.iterdir() if p.suffix == ".txt")
        if total > limits.gtfs_max_unpacked_bytes:
            raise LimitError(f"{source}: the feed's files hold {total:,} bytes, more than the "
                             f"{limits.gtfs_max_unpacked_bytes:,} allowed "
                             "(limits.gtfs_max_unpacked_bytes)")
        return
    size = path.stat().st_size
    if size > limits.gtfs_max_bytes:
        raise LimitError(f"{source}: {size:,} bytes, more than the {limits.gtfs_max_bytes:,} "
                         "allowed for a GTFS zip (limits.gtfs_max_bytes)")
    guard_zip(path, max_members=limits.zip_max_members,
              max_unpacked_bytes=limits.gtfs_max_unpacked_bytes,
              max_ratio=limits.zip_max_ratio, what="GTFS zip")


def download(url: str, settings: Settings, *, client: httpx.Client | None = None,
             name: str | None = None) -> Path:
    """Download a GTFS zip into ``settings.raw_dir / "gtfs"``, reusing the cached copy.

    The file is ``<name>.zip`` (a region's feed, :class:`geo.settings.FeedSource`), else
    named by the URL's sha256; its :class:`geo._io.BuildManifest`
    (``<key>.json``: redacted URL, ETag / Last-Modified, size and hash of the zip) lets the
    next call send a conditional request and keep the cached copy on 304 Not Modified.
    The body is streamed and cut off beyond ``settings.limits.gtfs_max_bytes``.

    Returns
    -------
    Path
        The cached zip file.

    Raises
    ------
    DownloadError
        HTTP error, transfer failure, or not a zip file.
    LimitError
        The body is larger than ``settings.limits.gtfs_max_bytes``.
    """
    folder = settings.raw_dir / "gtfs"
    safe = redact_url(url)
    key = hashlib.sha256(url.encode()).hexdigest()[:16]  # a changed URL is a new download
    target = folder / f"{name or key}.zip"
    manifest = BuildManifest(folder / f"{name or key}.json")
    clean_stray_tmp(folder)
    cached = manifest.is_current(key) if target.exists() else None
    headers: dict[str, str] = {}
    if cached and cached.get("etag"):
        headers["If-None-Match"] = cached["etag"]
    if cached and cached.get("last_modified"):
        headers["If-Modified-Since"] = cached["last_modified"]
    own = client is None
    http = client or make_client(settings)
    log.info("GTFS: requesting %s", safe)
    try:
        with http.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304 and cached:
                log.info("GTFS: %s not modified, using cached %s", safe, target)
                return target
            if resp.status_code != 200:
                raise DownloadError(f"GTFS download {safe} failed: HTTP {resp.status_code}")
            size = _stream_zip(resp, target, safe, settings.limits.gtfs_max_bytes, manifest)
    except httpx.HTTPError as exc:
        raise DownloadError(f"GTFS download {safe} failed: {scrub(str(exc), url)}") from None
    finally:
        if own:
            http.close()
    manifest.record(key, [target], {"url": safe, "etag": resp.headers.get("etag"),
                                    "last_modified": resp.headers.get("last-modified"),
                                    "bytes": size})
    log.info("GTFS: stored %s (%d bytes) as %s", safe, size, target)
    return target


def _stream_zip(resp: httpx.Response, target: Path, safe_url: str, max_bytes: int,
                manifest: BuildManifest) -> int:
    """Write a streamed response atomically to ``target``.

    It must be a zip of at most ``max_bytes`` bytes. The old cache entry stays valid until
    the new file is complete.

    Returns
    -------
    int
        Bytes written.
    """
    declared = int(resp.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise LimitError(f"GTFS download {safe_url}: the server announces {declared:,} bytes, "
                         f"more than the {max_bytes:,} allowed (limits.gtfs_max_bytes)")
    size = 0
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        for chunk in resp.iter_bytes(1 << 20):
            if size == 0 and not chunk.startswith(b"PK"):
                raise DownloadError(f"GTFS download {safe_url} is not a zip file (content-type "
                                    f"{resp.headers.get('content-type', '?')})")
            size += len(chunk)
            if size > max_bytes:
                raise LimitError(f"GTFS download {safe_url}: more than {max_bytes:,} bytes, "
                                 "stopped (limits.gtfs_max_bytes)")
            out.write(chunk)
        if size == 0:
            raise DownloadError(f"GTFS download {safe_url} is empty")
        out.flush()
        manifest.invalidate()  # the old entry is about to be replaced
    return size


# --------------------------------------------------------------------------- storing


def stored_feed_path(settings: Settings, region: str | None) -> Path:
    """Where ``erreichbar gtfs load [--region R]`` keeps the feed.

    ``processed/<region>/gtfs/feed.zip`` for a region (clipped), ``processed/gtfs/feed.zip``
    for a feed loaded without one.
    """
    base = settings.processed_dir / region if region else settings.processed_dir
    return base / "gtfs" / "feed.zip"


def store_feed(feed: Feed, settings: Settings, region: str | None,
               extra: dict[str, Any] | None = None) -> Path:
    """Write the (clipped) feed as a GTFS zip to :func:`stored_feed_path`, crash-safely.

    The manifest ``feed.json`` (:class:`geo._io.BuildManifest`: source, counts, ``extra``
    such as what each merged feed contributed, size and sha256 of ``feed.zip``) is deleted
    first and written last, so a ``gtfs load`` killed half-way leaves no feed that
    :func:`load_region_feed` would trust.
    """
    target = stored_feed_path(settings, region)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stray_tmp(target.parent)
    target.with_name(f".{target.stem}.partial.zip").unlink(missing_ok=True)  # older layout
    manifest = BuildManifest(target.with_suffix(".json"))
    manifest.invalidate()
    with atomic_path(target, suffix=".zip") as tmp:  # gtfs-kit wants a .zip name
        feed.tables.to_file(tmp)
    digest = files_digest([], extra=json.dumps([feed.source, region,
                                                settings.transit.clip_margin_m]))
    manifest.record(digest, [target], {"source": feed.source, "region": region,
                                       **feed.summary(), **(extra or {})})
    log.info("GTFS: stored feed (region %s) in %s", region or "none", target)
    return target


def load_region_feed(settings: Settings, region: str | None = None) -> Feed:
    """Load the feed stored for ``region`` (default ``settings.region``).

    Raises
    ------
    DataError
        No timetable was loaded for the region; the message says how to load one.
    """
    name = region or settings.region
    reg = get_region(name)
    path = stored_feed_path(settings, name)
    if not path.exists():
        raise DataError(
            f"no public-transport timetable is loaded for region {name} ({reg.title}): the "
            f"data directory has stops but no GTFS timetable, and travel times are never "
            f"guessed. Load the region's official feeds with `erreichbar gtfs load --region "
            f"{name}` (downloaded when online) or a feed of your own with `erreichbar gtfs "
            f"load PATH|URL --region {name}`"
        )
    if BuildManifest(path.with_suffix(".json")).is_current(None) is None:
        raise DataError(
            f"the timetable stored for region {name} ({path}) is incomplete or was changed "
            f"after it was loaded (an interrupted `erreichbar gtfs load`?); load it again "
            f"with `erreichbar gtfs load PATH|URL --region {name}`")
    return load_feed(path, settings)


# --------------------------------------------------------------------------- validation


def _line(frame: pd.DataFrame, mask: np.ndarray | pd.Series) -> int:
    """File line of the first row where ``mask`` holds (line 1 is the header)."""
    return int(frame.index[np.flatnonzero(np.asarray(mask, dtype=bool))[0]]) + 2


def _fail(frame: pd.DataFrame, mask: Any, name: str, column: str, what: str,
          source: str) -> None:
    """Raise a DataError naming the first row where ``mask`` holds."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        i = np.flatnonzero(mask)[0]
        value = frame[column].iloc[i]
        raise DataError(f"{source}: {name}.txt line {_line(frame, mask)}: {column} "
                        f"'{'' if pd.isna(value) else value}' {what} "
                        f"({int(mask.sum())} such rows)")


def _check_tables(t: Any, source: str) -> None:
    """Presence of files and columns, ids that reference each other, calendar dates."""
    for name, cols in REQUIRED.items():
        frame = getattr(t, name)
        if frame is None or len(frame) == 0:
            raise DataError(f"{source}: {name}.txt is missing or empty (a GTFS feed needs "
                            "stops.txt, routes.txt, trips.txt, stop_times.txt and "
                            "calendar.txt or calendar_dates.txt)")
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: {name}.txt has no column {', '.join(missing)}")
        for c in cols:
            if c not in ("arrival_time", "departure_time", "stop_lat", "stop_lon"):
                _fail(frame, frame[c].isna(), name, c, "is empty", source)
    if t.calendar is None and t.calendar_dates is None:
        raise DataError(f"{source}: neither calendar.txt nor calendar_dates.txt: no service "
                        "days")
    for name, cols in CALENDAR_COLUMNS.items():
        frame = getattr(t, name)
        if frame is None:
            continue
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: {name}.txt has no column {', '.join(missing)}")
        for c in cols[-2:] if name == "calendar" else ("date",):
            bad = pd.to_datetime(frame[c], format="%Y%m%d", errors="coerce").isna()
            _fail(frame, bad, name, c, "is not a date YYYYMMDD", source)
    stops, st, trips = t.stops, t.stop_times, t.trips
    # coordinates are required for stops, stations and entrances (location_type 0–2)
    located = (pd.to_numeric(stops["location_type"], errors="coerce").fillna(0) <= 2
               if "location_type" in stops.columns else pd.Series(True, index=stops.index))
    _fail(stops, located & ~stops["stop_lat"].between(-90, 90), "stops", "stop_lat",
          "is not a latitude", source)
    _fail(stops, located & ~stops["stop_lon"].between(-180, 180), "stops", "stop_lon",
          "is not a longitude", source)
    if "parent_station" in stops.columns:
        ps = stops["parent_station"]
        _fail(stops, ps.notna() & ~ps.isin(stops["stop_id"]), "stops", "parent_station",
              "is not a stop_id in stops.txt", source)
    _fail(st, ~st["stop_id"].isin(stops["stop_id"]), "stop_times", "stop_id",
          "is not in stops.txt", source)
    _fail(st, ~st["trip_id"].isin(trips["trip_id"]), "stop_times", "trip_id",
          "is not in trips.txt", source)
    _fail(trips, ~trips["route_id"].isin(t.routes["route_id"]), "trips", "route_id",
          "is not in routes.txt", source)
    known = set()
    for name in CALENDAR_COLUMNS:
        if getattr(t, name) is not None:
            known |= set(getattr(t, name)["service_id"])
    unknown = ~trips["service_id"].isin(known)
    if unknown.any():
        log.warning("%s: %d trips have a service_id in neither calendar file (never run), "
                    "first trips.txt line %d", source, int(unknown.sum()),
                    _line(trips, unknown))


def _seconds(st: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Parse GTFS times H:MM:SS (hours may exceed 24) into float seconds, NaN if empty."""
    text = st[column].astype("string")
    parts = text.str.extract(_TIME)
    _fail(st, text.notna() & parts[0].isna(), "stop_times", column, "is not HH:MM:SS",
          source)
    p = parts.astype("float64")
    return p[0] * 3600 + p[1] * 60 + p[2]


def _stop_times(t: Any, source: str) -> pd.DataFrame:
    """Stop times with integer seconds, sorted by trip and sequence; checked for order."""
    st = t.stop_times
    arr = _seconds(st, "arrival_time", source)
    dep = _seconds(st, "departure_time", source)
    arr, dep = arr.fillna(dep), dep.fillna(arr)
    out = pd.DataFrame({
        "trip_id": st["trip_id"].astype(str).to_numpy(),
        "stop_id": st["stop_id"].astype(str).to_numpy(),
        "stop_sequence": st["stop_sequence"].astype("int64").to_numpy(),
        "arrival_s": arr.to_numpy(), "departure_s": dep.to_numpy(),
        "pickup_type": _flag(st, "pickup_type"), "drop_off_type": _flag(st, "drop_off_type"),
        "line": st.index.to_numpy() + 2,
    }).sort_values(["trip_id", "stop_sequence"], kind="stable", ignore_index=True)
    first = np.r_[True, out["trip_id"].to_numpy()[1:] != out["trip_id"].to_numpy()[:-1]]
    last = np.r_[first[1:], True]
    ends = out["arrival_s"].isna().to_numpy() & (first | last)
    if ends.any():
        raise DataError(f"{source}: stop_times.txt line {out['line'][ends.argmax()]}: first "
                        f"and last stop of trip {out['trip_id'][ends.argmax()]} need times")
    if out["arrival_s"].isna().any():
        # non-timepoint stops: linear in row order between the trip's timed stops (GTFS)
        n = int(out["arrival_s"].isna().sum())
        log.info("%s: interpolating %d stop times without times", source, n)
        out["arrival_s"] = out["arrival_s"].interpolate()
        out["departure_s"] = out["departure_s"].interpolate()
    if (first & last).any():
        i = int((first & last).argmax())
        raise DataError(f"{source}: stop_times.txt line {out['line'][i]}: trip "
                        f"{out['trip_id'][i]} has a single stop")
    a, d = out["arrival_s"].to_numpy(), out["departure_s"].to_numpy()
    bad = d < a
    back = np.r_[False, (a[1:] < d[:-1]) & ~first[1:]]
    for mask, what in ((bad, "departure_time is before arrival_time"),
                       (back, "arrival_time is before the previous stop's departure_time")):
        if mask.any():
            i = int(mask.argmax())
            raise DataError(f"{source}: stop_times.txt line {out['line'][i]}: {what} "
                            f"(trip {out['trip_id'][i]})")
    out["arrival_s"] = np.round(a).astype(np.int64)
    out["departure_s"] = np.round(d).astype(np.int64)
    return out.drop(columns="line")


def _flag(st: pd.DataFrame, column: str) -> np.ndarray:
    """Return an optional 0/1 pickup/drop-off column as int8 (empty = 0, regular)."""
    if column not in st.columns:
        return np.zeros(len(st), np.int8)
    return pd.to_numeric(st[column], errors="coerce").fillna(0).astype(np.int8).to_numpy()


def from_tables(t: Any, source: str) -> Feed:
    """Check gtfs-kit tables (e.g. several feeds merged) and build a :class:`Feed` of them.

    Raises
    ------
    DataError
        As :func:`load_feed` for a file.
    """
    _check_tables(t, source)
    return _build(t, source)


def _build(t: Any, source: str) -> Feed:
    """Assemble a :class:`Feed` from checked tables."""
    s = t.stops
    lt = (pd.to_numeric(s["location_type"], errors="coerce").fillna(0).astype(int)
          if "location_type" in s.columns else pd.Series(0, index=s.index))
    parent = (s["parent_station"].astype("string").fillna("")
              if "parent_station" in s.columns else pd.Series("", index=s.index))
    name = (s["stop_name"].astype("string").fillna("")
            if "stop_name" in s.columns else pd.Series("", index=s.index))
    lon, lat = s["stop_lon"].to_numpy(float), s["stop_lat"].to_numpy(float)
    x, y = _TO_3035.transform(lon, lat)
    stops = pd.DataFrame({
        "stop_id": s["stop_id"].astype(str).to_numpy(), "stop_name": name.to_numpy(str),
        "lat": lat, "lon": lon, "x": x, "y": y, "location_type": lt.to_numpy(),
        "parent_station": parent.to_numpy(str),
    })
    days = t.get_dates()
    if not days:
        raise DataError(f"{source}: calendar files name no service day")
    first, last = (dt.datetime.strptime(d, "%Y%m%d").date() for d in (days[0], days[-1]))
    return Feed(source=source, tables=t, stops=stops, stop_times=_stop_times(t, source),
                first_day=first, last_day=last)


# --------------------------------------------------------------------------- clipping


def region_area(settings: Settings, region: Region) -> shapely.Geometry:
    """Return the area feeds are clipped to: the county polygon + ``transit.clip_margin_m`` m.

    The county is the region's VG5000 polygon (key ``region.ags``), EPSG:3035. Clipping goes
    by coordinates, never by stop-id prefixes: DELFI and the national stop register key
    Landkreis Göttingen's stops by the old district codes ``de:03152`` (Göttingen) and
    ``de:03156`` (Osterode) as well as ``de:03159``.
    """
    from geo.sources.boundaries import read_vg5000

    county = read_vg5000(settings.data_dir, region.ags, "county")
    return shapely.buffer(shapely.union_all(county.geometry.to_numpy()),
                          settings.transit.clip_margin_m)


def _clip(t: Any, region: Region, area: shapely.Geometry, source: str) -> Any:
    """Keep the trips calling at a stop inside ``area`` (EPSG:3035), each with all its stops.

    Whole trips are kept, so a line that leaves the region and comes back stays one trip
    and a journey may change trains just outside; stops no kept trip serves are dropped
    (their stations stay when a platform is kept).
    """
    s = t.stops
    x, y = _TO_3035.transform(s["stop_lon"].to_numpy(float), s["stop_lat"].to_numpy(float))
    inside = pd.Series(shapely.contains_xy(area, x, y), index=s.index)
    if not inside.any():
        raise RegionError(
            f"{source}: none of its {len(s)} stops lies in region {region.name} "
            f"({region.title}, county {region.ags} + the clip margin); is it the right feed?")
    calling = set(t.stop_times.loc[t.stop_times["stop_id"].isin(set(s.loc[inside, "stop_id"])),
                                   "trip_id"])
    trips = t.trips[t.trips["trip_id"].isin(calling)]
    st = t.stop_times[t.stop_times["trip_id"].isin(calling)]
    used = set(st["stop_id"])
    if "parent_station" in s.columns:
        used |= set(s.loc[s["stop_id"].isin(used), "parent_station"].dropna())
    out = t.copy()
    out.stops = s[s["stop_id"].isin(used)]
    out.stop_times = st
    out.trips = trips
    out.routes = t.routes[t.routes["route_id"].isin(trips["route_id"])]
    services = set(trips["service_id"])
    for name in CALENDAR_COLUMNS:
        frame = getattr(t, name)
        if frame is not None:
            setattr(out, name, frame[frame["service_id"].isin(services)])
    log.info("GTFS %s clipped to %s: %d of %d stops inside, %d stops kept, %d of %d trips",
             source, region.name, int(inside.sum()), len(s), len(out.stops), len(trips),
             len(t.trips))
    if len(trips) == 0:
        raise RegionError(f"{source}: no trip calls at a stop in region {region.name}")
    return out
