"""What the loaded timetable can answer, in one sentence for reports, maps and pages.

``timetable_status`` reads the region's stored feed (``erreichbar gtfs load``): none
loaded, long-distance trains only (e.g. gtfs.de's fv feed alone: Göttingen station is the
county's one stop, so transit times are walks almost everywhere and the products must say
"nur Fernverkehr geladen"), or loaded. ``templates/transit_section.html`` shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo._io import BuildManifest
from geo.errors import DataError
from geo.messages import text
from geo.settings import Settings, get_region
from geo.sources import gtfs, gtfs_region
from geo.transit.timetable import default_date, hhmm
from geo.vocabulary import DataSource


def timetable_status(settings: Settings, region: str | None = None,
                     lang: str = "de") -> dict[str, Any]:
    """State and sentence of the region's timetable.

    Returns
    -------
    dict
        ``state`` (``none``, ``long_distance_only``, ``loaded``), ``column`` (the transit
        column's heading), ``text`` (one sentence in ``lang``), ``feeds`` (name, title,
        source, attribution, service days of each merged feed, as ``gtfs load`` stored
        them), ``stations`` (names of the stations inside the region) and ``days`` (the
        loaded timetable's first and last service day, ``datetime.date``; absent for none).
    """
    name = region or settings.region
    out: dict[str, Any] = {"column": text("transit.column", lang), "feeds": [], "stations": []}
    try:
        feed = gtfs.load_region_feed(settings, name)
    except DataError:
        return {**out, "state": "none", "text": text("transit.status.none", lang, region=name)}
    path = gtfs.stored_feed_path(settings, name)
    meta = BuildManifest(path.with_suffix(".json")).is_current(None) or {}
    feeds = meta.get("feeds", [])
    area = gtfs.region_area(settings, get_region(name))
    stations = gtfs_region.FeedPart(name, name, feed.source, "stored", "", feed).summary(
        area)["station_names"]
    out = {**out, "feeds": feeds, "stations": stations,
           "days": (feed.first_day, feed.last_day)}
    if gtfs_region.long_distance_only(feed):
        return {**out, "state": "long_distance_only",
                "text": text("transit.status.long_distance_only", lang,
                             stations=", ".join(stations) or "–", region=name)}
    titles = ", ".join(f.get("title", f.get("name", "")) for f in feeds) or feed.source
    return {**out, "state": "loaded",
            "text": text("transit.status.loaded", lang, feeds=titles,
                         first_day=feed.first_day.strftime("%d.%m.%Y"),
                         last_day=feed.last_day.strftime("%d.%m.%Y"))}


def timetable_source(settings: Settings, lang: str = "de") -> DataSource:
    """Return the region's loaded timetable as a data source of outputs (key ``timetable``).

    Source: the titles of the merged feeds as ``gtfs load`` stored them (else the stored
    file's name); vintage: its service days; layer: the day and departure window the
    transit times use; attribution: each feed's. DataError when no timetable is loaded.
    """
    feed = gtfs.load_region_feed(settings)
    path = gtfs.stored_feed_path(settings, settings.region)
    meta = BuildManifest(path.with_suffix(".json")).is_current(None) or {}
    feeds = meta.get("feeds", [])
    t = settings.transit
    return DataSource(
        "timetable", text("transit.source.layer", lang,
                          date=f"{t.date or default_date(feed):%d.%m.%Y}",
                          start=hhmm(t.window_start_s), end=hhmm(t.window_end_s)),
        ", ".join(f.get("title", f.get("name", "")) for f in feeds)
        or text("transit.source.unnamed", lang, file=Path(feed.source).name),
        f"{feed.first_day:%d.%m.%Y}–{feed.last_day:%d.%m.%Y}",
        "; ".join(f["attribution"] for f in feeds if f.get("attribution"))
        or text("transit.source.attribution_unknown", lang))
