"""A region's timetable from one or several GTFS feeds: fetch, clip, namespace, merge.

``erreichbar gtfs load --region R`` without a path takes the region's official feeds
(:attr:`geo.settings.Region.feeds`, e.g. gtfs.de's local, regional-rail and long-distance
feeds). Each is fetched (:func:`fetch`): downloaded when online into
``<work_dir>/raw/gtfs/<name>.zip`` (cached, ETag / Last-Modified, size cap, credentials
redacted: :func:`geo.sources.gtfs.download`); offline the file there (an earlier download,
or one a user placed there) or the feed's ``offline_copy`` in the data directory; else the
feed is reported as missing with the file to place where.

Each feed is clipped to the region's county polygon plus the clip margin
(:func:`geo.sources.gtfs.region_area`, by coordinates) and, when there are several, its ids
are namespaced ``<name>:<id>`` (stops, stations, routes, trips, services, agencies, shapes,
…) and the tables are concatenated into one feed with one calendar (the union of the
feeds' calendar.txt and calendar_dates.txt). Changing between feeds needs no table: the
timetable's walk transfers join stops of any feeds within walking distance
(:func:`geo.transit.timetable.compile_timetable`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gtfs_kit as gk
import httpx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo._io import is_http_url, redact_url
from geo.errors import DataError, DownloadError, LimitError
from geo.settings import FeedSource, Region, Settings, get_region
from geo.sources import gtfs

log = logging.getLogger(__name__)

#: id columns per GTFS table that are namespaced when feeds are merged
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": ("agency_id",),
    "stops": ("stop_id", "parent_station", "zone_id", "level_id"),
    "routes": ("route_id", "agency_id"),
    "trips": ("trip_id", "route_id", "service_id", "shape_id", "block_id"),
    "stop_times": ("trip_id", "stop_id"),
    "calendar": ("service_id",),
    "calendar_dates": ("service_id",),
    "frequencies": ("trip_id",),
    "shapes": ("shape_id",),
    "transfers": ("from_stop_id", "to_stop_id", "from_route_id", "to_route_id",
                  "from_trip_id", "to_trip_id"),
    "fare_attributes": ("fare_id", "agency_id"),
    "fare_rules": ("fare_id", "route_id", "origin_id", "destination_id", "contains_id"),
    "attributions": ("attribution_id", "agency_id", "route_id", "trip_id"),
}
#: tables merged by concatenation (feed_info describes one publisher: not merged)
TABLES = tuple(ID_COLUMNS)
#: station names listed per feed in the summary (the count is always given)
NAMES_LISTED = 50
#: route names of long-distance trains (DB Fernverkehr, gtfs.de fv): ICE, IC, EC, ECE, NJ, …
_LONG_DISTANCE = re.compile(r"^\s*(ICE|IC|EC|ECE|EN|NJ|RJ|RJX|TGV|FLX)\b")


@dataclass(frozen=True)
class FeedPart:
    """One feed of a region, clipped (ids not yet namespaced)."""

    name: str  #: short id (namespace of its ids when merged)
    title: str
    source: str  #: path or redacted URL
    origin: str  #: ``download`` | ``cache (offline)`` | ``offline copy`` | ``file``
    attribution: str
    feed: gtfs.Feed
    note: str = ""  #: why a download was not used ('' when it was)

    def summary(self, area: shapely.Geometry) -> dict[str, Any]:
        """Say what the feed contributes: counts, service days, its stations in the region."""
        stops = self.feed.stops
        inside = shapely.contains_xy(area, stops["x"].to_numpy(), stops["y"].to_numpy())
        station = stops["location_type"].isin([0, 1]) & (stops["parent_station"] == "")
        names = sorted(set(stops.loc[inside & station.to_numpy(), "stop_name"]))
        return {"name": self.name, "title": self.title, "source": self.source,
                "origin": self.origin, "note": self.note, "attribution": self.attribution,
                **self.feed.summary(), "stops_in_region": int(inside.sum()),
                "stations_in_region": len(names), "station_names": names[:NAMES_LISTED]}


def fetch(src: FeedSource, settings: Settings, client: httpx.Client | None = None
          ) -> tuple[Path, str, str]:
    """Get a region feed's zip: download, else the cached/placed file, else the offline copy.

    Returns
    -------
    path, origin, note
        The zip, where it came from (``download``, ``cache (offline)``, ``offline copy``)
        and why the download was not used ('' when it was).

    Raises
    ------
    DataError
        Neither a download nor a local file; the message names the file to place where.
    """
    placed = settings.raw_dir / "gtfs" / f"{src.name}.zip"
    try:
        return gtfs.download(src.url, settings, client=client, name=src.name), "download", ""
    except (DownloadError, LimitError) as exc:
        reason = str(exc)
    if placed.exists():
        log.warning("%s; using %s", reason, placed)
        return placed, "cache (offline)", reason
    copy = settings.data_dir / src.offline_copy if src.offline_copy else None
    if copy is not None and copy.exists():
        log.warning("%s; using the data directory's offline copy %s (%s)", reason, copy,
                    src.offline_note or "same feed")
        return copy, "offline copy", f"{reason}; {src.offline_note}".rstrip("; ")
    raise DataError(f"{src.title}: {reason}. Offline, download {redact_url(src.url)} "
                    f"elsewhere and place the zip at {placed}")


def region_parts(settings: Settings, region: Region, client: httpx.Client | None = None
                 ) -> tuple[list[FeedPart], list[dict[str, str]]]:
    """Fetch and clip every official feed of ``region``.

    Returns
    -------
    parts, missing
        The feeds loaded, and per feed that could not be had ``name``, ``url``
        (redacted), ``place_at`` (path) and ``reason``.

    Raises
    ------
    DataError
        The region names no feed, or none could be had (the message lists where to put
        each file).
    """
    if not region.feeds:
        raise DataError(f"region {region.name} ({region.title}) names no GTFS feed in its "
                        "settings: load one with `erreichbar gtfs load PATH|URL "
                        f"--region {region.name}`")
    parts, missing = [], []
    for src in region.feeds:
        try:
            path, origin, note = fetch(src, settings, client)
        except DataError as exc:
            log.warning("%s", exc)
            missing.append({"name": src.name, "url": redact_url(src.url),
                            "place_at": str(settings.raw_dir / "gtfs" / f"{src.name}.zip"),
                            "reason": str(exc)})
            continue
        feed = gtfs.load_feed(path, settings, region=region)
        parts.append(FeedPart(src.name, src.title, redact_url(src.url) if origin == "download"
                              else str(path), origin, src.attribution, feed, note))
    if not parts:
        raise DataError("no timetable of region " + region.name + " could be had: "
                        + "; ".join(m["reason"] for m in missing))
    return parts, missing


def source_parts(sources: Sequence[str], settings: Settings, region: Region | None,
                 client: httpx.Client | None = None) -> list[FeedPart]:
    """Load feeds given as paths or URLs, named by their file name (made unique)."""
    parts: list[FeedPart] = []
    for raw in sources:
        url = is_http_url(raw)
        stem = re.sub(r"(\.zip)?$", "", str(raw).rstrip("/").rsplit("/", 1)[-1].split("?")[0])
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "feed"
        taken = {p.name for p in parts}
        name = next(f"{name}{i or ''}" for i in range(len(parts) + 1)
                    if f"{name}{i or ''}" not in taken)
        feed = gtfs.load_feed(raw, settings, region=region, client=client)
        parts.append(FeedPart(name, name, feed.source, "download" if url else "file", "",
                              feed))
    return parts


def namespaced(tables: Any, prefix: str) -> Any:
    """Copy gtfs-kit tables with every id prefixed ``<prefix>:`` (empty ids stay empty).

    A feed without ``agency_id`` (allowed with one agency) gets ``<prefix>:`` as its
    agency's id and its routes'.
    """
    out = tables.copy()
    for name, columns in ID_COLUMNS.items():
        frame = getattr(out, name, None)
        if frame is None:
            continue
        frame = frame.copy()
        for col in columns:
            if col in frame.columns:
                text = frame[col].astype("string")
                frame[col] = text.where(text.isna() | (text == ""), f"{prefix}:" + text)
        if name in ("agency", "routes"):
            if "agency_id" not in frame.columns:
                frame["agency_id"] = f"{prefix}:"
            frame["agency_id"] = frame["agency_id"].astype("string").fillna(f"{prefix}:")
        setattr(out, name, frame)
    return out


def merge(parts: Sequence[FeedPart]) -> gtfs.Feed:
    """One feed of several: ids namespaced by part name, tables concatenated, one calendar.

    A single part is returned as it is (ids unchanged).
    """
    if len(parts) == 1:
        return parts[0].feed
    spaced = [namespaced(p.feed.tables, p.name) for p in parts]
    frames: dict[str, pd.DataFrame | None] = {}
    for name in TABLES:
        present = [getattr(t, name) for t in spaced if getattr(t, name, None) is not None]
        frames[name] = pd.concat(present, ignore_index=True) if present else None
    tables = gk.Feed(dist_units=spaced[0].dist_units, **frames)
    source = " + ".join(f"{p.name}={p.source}" for p in parts)
    return gtfs.from_tables(tables, source)


def transfers_between(feed: gtfs.Feed, parts: Sequence[FeedPart], settings: Settings
                      ) -> int:
    """Count directed walk transfers between stops of different feeds of a merged feed.

    Pairs of routable stops (location_type 0) within ``transit.max_walk_m`` crow-fly
    metres, as the timetable's walk transfers (:class:`geo.transit.walk.CrowFlyWalk`).
    """
    if len(parts) < 2:
        return 0
    stops = feed.stops[feed.stops["location_type"] == 0]
    owner = stops["stop_id"].str.split(":", n=1).str[0].to_numpy()
    pairs = cKDTree(stops[["x", "y"]].to_numpy(float)).query_pairs(
        settings.transit.max_walk_m, output_type="ndarray")
    return 2 * int(np.count_nonzero(owner[pairs[:, 0]] != owner[pairs[:, 1]]))


def load(settings: Settings, region: str | None, sources: Sequence[str] = (),
         client: httpx.Client | None = None) -> tuple[gtfs.Feed, dict[str, Any]]:
    """Load a region's timetable: the given sources, else the region's official feeds.

    Parameters
    ----------
    settings : Settings
    region : str, optional
        Clip to this region (required when no sources are given: then its feeds are used).
    sources : sequence of str
        GTFS paths or URLs; several are merged.
    client : httpx.Client, optional
        For downloads (tests pass recorded answers).

    Returns
    -------
    feed, summary
        The merged feed and the JSON ``gtfs load`` prints: totals, ``feeds`` (what each
        contributes, with the stations it has inside the region), ``missing`` (feeds that
        could not be had and where to place them), ``transfers_between_feeds``.
    """
    reg = get_region(region) if region else None
    missing: list[dict[str, str]] = []
    if sources:
        parts = source_parts(sources, settings, reg, client)
    elif reg is None:
        raise DataError("give a GTFS path or URL, or --region to load the region's feeds")
    else:
        parts, missing = region_parts(settings, reg, client)
    feed = merge(parts)
    area = (gtfs.region_area(settings, reg) if reg is not None
            else shapely.box(*np.r_[feed.stops[["x", "y"]].min(), feed.stops[["x", "y"]].max()]))
    summary = {**feed.summary(), "region": reg.name if reg else None,
               "feeds": [p.summary(area) for p in parts], "missing": missing,
               "transfers_between_feeds": transfers_between(feed, parts, settings)}
    if len(parts) > 1 and max(p.feed.first_day for p in parts) > min(
            p.feed.last_day for p in parts):
        log.warning("the feeds' service periods do not overlap: no day has all of them")
    return feed, summary


def long_distance_only(feed: gtfs.Feed) -> bool:
    """Whether every route of the feed is a long-distance train (ICE, IC, EC, NJ, …).

    Such a timetable (e.g. gtfs.de's fv feed alone) serves a county's main station only:
    products say so ("nur Fernverkehr geladen") instead of presenting it as local transit.
    """
    routes = feed.tables.routes
    names = (routes["route_short_name"].astype("string").fillna("")
             if "route_short_name" in routes.columns else pd.Series("", index=routes.index))
    types = pd.to_numeric(routes["route_type"], errors="coerce")
    rail = types.isin([2]) | types.between(100, 102)
    return bool(len(routes)) and bool((rail & names.str.match(_LONG_DISTANCE)).all())
