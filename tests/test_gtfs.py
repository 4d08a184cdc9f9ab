"""GTFS ingest on the real VPE Enzkreis feed: counts, service days, clipping, downloads, errors.

Broken feeds are made in tmp_path from the real feed with one deliberate defect each.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
import shapely

from geo.cli import main
from geo.errors import DataError, DownloadError, RegionError
from geo.settings import REGIONS, Region, Settings
from geo.sources import gtfs
from geo.sources.boundaries import read_vg5000

FEED = Path("germany/gtfs/vpe_enzkreis_2025.zip")


@pytest.fixture(scope="module")
def feed_path(data_dir: Path) -> Path:
    """The real Enzkreis feed."""
    return data_dir / FEED


@pytest.fixture(scope="module")
def feed(feed_path: Path, settings: Settings) -> gtfs.Feed:
    """The real feed, loaded once."""
    return gtfs.load_feed(feed_path, settings)


def test_counts_and_service_period(feed: gtfs.Feed) -> None:
    # the numbers of the data README
    assert feed.summary() == {"stops": 490, "routes": 14, "trips": 454, "stop_times": 10957,
                              "first_day": "2024-12-15", "last_day": "2025-12-12"}
    assert feed.tables.calendar is None  # only calendar_dates.txt in this feed


def test_service_days_weekday_sunday_holiday(feed: gtfs.Feed) -> None:
    # calendar_dates.txt lines 57, 341, 626, 799, 1076: Tue 2025-03-11 runs services
    # 0, 16, 28, 29, 6; line 497: Sunday 2025-03-16 only service 2 (Sunday timetable)
    tuesday = feed.active_services(dt.date(2025, 3, 11))
    assert tuesday == {f"de:vpe:service:{i}" for i in (0, 16, 28, 29, 6)}
    assert feed.active_services(dt.date(2025, 3, 16)) == {"de:vpe:service:2"}
    # Thursday 1 May 2025 (Tag der Arbeit) runs the Sunday timetable (line 506) ...
    assert feed.active_services(dt.date(2025, 5, 1)) == {"de:vpe:service:2"}
    # ... while the Thursday after runs the weekday service 0
    assert "de:vpe:service:0" in feed.active_services(dt.date(2025, 5, 8))
    assert feed.trips_on(dt.date(2025, 3, 11)).sum() > feed.trips_on(dt.date(2025, 3, 16)).sum()


def test_times_past_midnight_and_parent_stations(feed: gtfs.Feed) -> None:
    st = feed.stop_times
    # stop_times.txt line 3944: trip 2432 reaches Ittersbach Becker-Göring-Str. at 26:05:00
    row = st[(st.trip_id == "de:vpe:04720_:2432") & (st.stop_sequence == 38)]
    assert row.arrival_s.item() == 26 * 3600 + 5 * 60
    station = feed.station_of()
    assert station["de:08231:11:0:5"] == "de:08231:11_Parent"
    assert station["de:08231:11_Parent"] == "de:08231:11_Parent"
    assert set(feed.stops.location_type) == {0, 1}
    assert feed.stops[["x", "y"]].notna().all().all()


def test_clip_to_region_polygon_keeps_whole_trips(feed_path: Path, feed: gtfs.Feed,
                                                  settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Clip by a county polygon (VG5000, no margin), here Stadtkreis Pforzheim (08231), the
    enclave inside the Enzkreis: trips calling in it stay whole, the others go."""
    pforzheim = Region(name="pforzheim", title="Stadt Pforzheim", ags="08231",
                       bbox=(8.6, 48.8, 8.8, 48.95))
    monkeypatch.setitem(REGIONS, "pforzheim", pforzheim)
    tight = settings.model_copy(
        update={"transit": settings.transit.model_copy(update={"clip_margin_m": 0.0})})
    clipped = gtfs.load_feed(feed_path, tight, region="pforzheim")
    county = read_vg5000(settings.data_dir, "08231", "county").to_crs("EPSG:4326")
    stops = feed.tables.stops
    inside = shapely.contains_xy(county.geometry.iloc[0], stops.stop_lon, stops.stop_lat)
    st = feed.tables.stop_times
    calling = set(st.trip_id[st.stop_id.isin(stops.stop_id[inside])])
    assert set(clipped.tables.trips.trip_id) == calling
    assert 0 < len(calling) < 454
    # whole trips: every stop time of a kept trip, also those outside Pforzheim
    assert len(clipped.stop_times) == int(st.trip_id.isin(calling).sum())
    assert (~clipped.stops.stop_id.str.startswith("de:08231")).any()
    # every VPE trip serves the Enzkreis: its clip keeps all of them
    assert len(gtfs.load_feed(feed_path, tight, region="enzkreis").tables.trips) == 454
    with pytest.raises(RegionError, match="none of its 490 stops lies in region goettingen"):
        gtfs.load_feed(feed_path, settings, region="goettingen")


def _broken(feed_path: Path, tmp_path: Path, name: str, edit) -> Path:
    """A copy of the real feed with ``name`` changed by ``edit(text) -> text | None``."""
    out = tmp_path / f"broken_{name}.zip"
    with zipfile.ZipFile(feed_path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            text = src.read(info).decode("utf-8")
            if info.filename == name:
                text = edit(text)
            if text is not None:
                dst.writestr(info.filename, text)
    return out


def _replace_line(line_no: int, old: str, new: str):
    def edit(text: str) -> str:
        lines = text.splitlines()
        assert old in lines[line_no - 1]
        lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
        return "\n".join(lines) + "\n"
    return edit


@pytest.mark.parametrize(("name", "edit", "message"), [
    ("stop_times.txt", lambda t: None, r"stop_times.txt is missing"),
    ("stop_times.txt", _replace_line(119, "05:34:00,05:34:00", "25:61,05:34:00"),
     r"stop_times.txt line 119: arrival_time '25:61' is not HH:MM:SS"),
    ("stop_times.txt", _replace_line(118, "de:08236:1106:0:2", "de:nowhere:1"),
     r"stop_times.txt line 118: stop_id 'de:nowhere:1' is not in stops.txt"),
    ("stop_times.txt", _replace_line(5, "06:16:00,06:16:00", "06:10:00,06:10:00"),
     r"stop_times.txt line 5: arrival_time is before the previous stop's departure_time"),
    ("trips.txt", _replace_line(2, "de:vpe:04720_:,", "de:vpe:nonsense:,"),
     r"trips.txt line 2: route_id 'de:vpe:nonsense:' is not in routes.txt"),
    ("stops.txt", _replace_line(2, "48.915616", "148.915616"),
     r"stops.txt line 2: stop_lat '148.915616' is not a latitude"),
    ("calendar_dates.txt", lambda t: None, r"neither calendar.txt nor calendar_dates.txt"),
    ("calendar_dates.txt", _replace_line(2, "20241216", "2024-12-16"),
     r"calendar_dates.txt line 2: date '2024-12-16' is not a date YYYYMMDD"),
])
def test_broken_feeds_name_file_line_field_value(feed_path: Path, tmp_path: Path,
                                                 settings: Settings, name: str, edit,
                                                 message: str) -> None:
    with pytest.raises(DataError, match=message):
        gtfs.load_feed(_broken(feed_path, tmp_path, name, edit), settings)


def test_download_is_cached_and_revalidated(feed_path: Path, tmp_path: Path) -> None:
    """A recorded response (the real feed's bytes, ETag) served by httpx.MockTransport."""
    body = feed_path.read_bytes()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"vpe-2024-12-17"':
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={
            "content-type": "application/zip", "etag": '"vpe-2024-12-17"',
            "last-modified": "Tue, 17 Dec 2024 07:41:00 GMT"})

    settings = Settings(work_dir=tmp_path)
    url = "https://gtfs.example.org/vpe.zip"
    client = httpx.Client(transport=httpx.MockTransport(handler))
    first = gtfs.load_feed(url, settings, client=client)
    second = gtfs.load_feed(url, settings, client=client)
    assert first.summary() == second.summary()
    assert [r.headers.get("if-none-match") for r in seen] == [None, '"vpe-2024-12-17"']
    assert len(list((tmp_path / "raw" / "gtfs").glob("*.zip"))) == 1

    html = httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(200, content=b"<html>portal</html>",
                                 headers={"content-type": "text/html"})))
    with pytest.raises(DownloadError, match="is not a zip file"):
        gtfs.download("https://gtfs.example.org/other.zip", settings, client=html)
    gone = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    with pytest.raises(DownloadError, match="HTTP 404"):
        gtfs.download("https://gtfs.example.org/gone.zip", settings, client=gone)
    # failed downloads leave nothing behind: still one zip and its ETag side file
    assert sorted(p.suffix for p in (tmp_path / "raw" / "gtfs").iterdir()) == [".json", ".zip"]


def test_region_feed_stored_by_cli_is_used_by_transit(
        feed_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(tmp_path))

    def cli(*args: str) -> dict[str, object]:
        monkeypatch.setattr(sys, "argv", ["erreichbar", *args])
        with pytest.raises(SystemExit) as stop:
            main()
        out, err = capsys.readouterr()
        assert not stop.value.code, err
        return json.loads(out.strip().splitlines()[-1])

    summary = cli("gtfs", "load", str(feed_path), "--region", "enzkreis")
    assert summary["stops"] <= 490 and summary["trips"] <= 454
    assert summary["path"] == str(tmp_path / "processed" / "enzkreis" / "gtfs" / "feed.zip")
    trip = cli("transit", "earliest", "--region", "enzkreis", "--from", "de:08231:11_Parent",
               "--to", "de:08215:34875:1:1", "--depart", "2025-03-11T08:20")
    assert trip["arrival"] == "2025-03-11T09:17:00"


def test_store_and_region_without_timetable(feed: gtfs.Feed, tmp_path: Path) -> None:
    settings = Settings(work_dir=tmp_path)
    with pytest.raises(DataError, match=r"no public-transport timetable is loaded for region "
                       r"goettingen.*erreichbar gtfs load PATH\|URL --region goettingen"):
        gtfs.load_region_feed(settings, "goettingen")
    path = gtfs.store_feed(feed, settings, None)
    assert gtfs.load_feed(path, settings).summary() == feed.summary()


def test_cli_gtfs_load_prints_summary(feed_path: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["erreichbar", "gtfs", "load", str(feed_path)])
    with pytest.raises(SystemExit) as stop:
        main()
    out, err = capsys.readouterr()
    assert not stop.value.code, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("stops", "routes", "trips", "stop_times", "first_day",
                                    "last_day")} == {
        "stops": 490, "routes": 14, "trips": 454, "stop_times": 10957,
        "first_day": "2024-12-15", "last_day": "2025-12-12"}
    assert [(f["name"], f["origin"]) for f in summary["feeds"]] == [
        ("vpe_enzkreis_2025", "file")]
    assert (tmp_path / "processed" / "gtfs" / "feed.zip").exists()
