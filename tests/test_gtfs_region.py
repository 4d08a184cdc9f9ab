"""A region's own feeds and several feeds at once, on the two real GTFS files.

Servers are recorded answers (httpx.MockTransport) serving the real files' bytes, never the
network: gtfs.de's long-distance URL serves the data directory's gtfs.de fv feed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.errors import DataError, LimitError
from geo.settings import REGIONS, FeedSource, Region, Settings
from geo.sources import gtfs, gtfs_region
from geo.sources.boundaries import read_vg5000
from geo.transit.query import earliest_arrival
from geo.transit.timetable import compile_timetable

VPE = Path("germany/gtfs/vpe_enzkreis_2025.zip")
FV = Path("germany/gtfs/gtfsde_fernverkehr_goettingen_2025-11.zip")
#: VPE × gtfs.de fv stop pairs within 6 km: Großglattbach Kelter, Fronackerweg, Rathaus and
#: Marsstraße to Vaihingen(Enz), 5.71–5.93 km (the next, Iptinger Weg, is 6.09 km away)
NEAR_6KM = 4
FV_URL = "https://download.gtfs.de/germany/fv_free/latest.zip"


class Server:
    """Recorded answers: URL → zip bytes with an ETag; everything else offline or 404."""

    def __init__(self, files: dict[str, bytes], offline: bool = False) -> None:
        self.files, self.offline = files, offline
        self.seen: list[tuple[str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), request.headers.get("if-none-match")))
        if self.offline:
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")
        body = self.files.get(str(request.url))
        if body is None:
            return httpx.Response(404)
        if request.headers.get("if-none-match") == '"fv-2025-11"':
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={"etag": '"fv-2025-11"',
                                                          "content-type": "application/zip"})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def test_goettingen_feeds_downloaded_clipped_and_revalidated(data_dir: Path,
                                                             tmp_path: Path) -> None:
    settings = Settings(work_dir=tmp_path)
    server = Server({FV_URL: (data_dir / FV).read_bytes()})
    feed, summary = gtfs_region.load(settings, "goettingen", client=server.client())
    # nv and rv answer 404: reported with the file to place where, fv is downloaded
    assert [m["name"] for m in summary["missing"]] == ["nv", "rv"]
    assert summary["missing"][0]["place_at"] == str(tmp_path / "raw" / "gtfs" / "nv.zip")
    assert "HTTP 404" in summary["missing"][0]["reason"]
    (fv,) = summary["feeds"]
    assert (fv["name"], fv["origin"], fv["source"]) == ("fv", "download", FV_URL)
    assert (tmp_path / "raw" / "gtfs" / "fv.zip").read_bytes() == (data_dir / FV).read_bytes()
    # clipped by the county polygon: only Göttingen station lies inside (README); its
    # stops (the station and its 5 platforms) counted independently from the polygon
    assert fv["station_names"] == ["Göttingen"] and fv["stations_in_region"] == 1
    county = read_vg5000(data_dir, "03159", "county").geometry.iloc[0].buffer(
        settings.transit.clip_margin_m)
    raw = gtfs.load_feed(data_dir / FV, settings)
    inside = [county.contains(shapely.Point(x, y)) for x, y in raw.stops[["x", "y"]].to_numpy()]
    assert fv["stops_in_region"] == sum(inside) == 6
    # every trip calling at Göttingen is kept whole; the others are not
    calls = set(raw.stop_times.loc[raw.stop_times.stop_id.isin(
        raw.stops.stop_id[inside]), "trip_id"])
    assert set(feed.tables.trips.trip_id) == calls and fv["trips"] == len(calls)
    assert len(feed.stop_times) == int(raw.stop_times.trip_id.isin(calls).sum())
    assert gtfs_region.long_distance_only(feed)
    # second load: conditional request, 304, the cached copy
    server.seen.clear()
    _, again = gtfs_region.load(settings, "goettingen", client=server.client())
    assert (FV_URL, '"fv-2025-11"') in server.seen
    assert again["feeds"][0]["trips"] == fv["trips"]


def test_offline_uses_placed_file_then_offline_copy_else_says_where(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(work_dir=tmp_path)
    offline = Server({}, offline=True).client()
    _, summary = gtfs_region.load(settings, "goettingen", client=offline)
    assert summary["feeds"][0]["origin"] == "offline copy"
    assert summary["feeds"][0]["source"] == str(data_dir / FV)
    # a file placed where the message says wins over the offline copy
    placed = tmp_path / "raw" / "gtfs" / "fv.zip"
    placed.parent.mkdir(parents=True, exist_ok=True)
    placed.write_bytes((data_dir / FV).read_bytes())
    _, summary = gtfs_region.load(settings, "goettingen", client=offline)
    assert summary["feeds"][0]["origin"] == "cache (offline)"
    # no copy anywhere: the error names each file and where to place it; no secret leaks
    secret = "https://user:pw@gtfs.example.org/feed.zip?apikey=SECRET123"
    region = Region(name="nocopy", title="Test region without copies", ags="03159",
                    bbox=(9.57, 51.38, 10.72, 51.93),
                    feeds=[FeedSource(name="bus", title="Bus", url=secret, attribution="x")])
    monkeypatch.setitem(REGIONS, "nocopy", region)
    with caplog.at_level(logging.DEBUG), pytest.raises(DataError) as err:
        gtfs_region.load(settings, "nocopy", client=offline)
    assert f"place the zip at {tmp_path / 'raw' / 'gtfs' / 'bus.zip'}" in str(err.value)
    assert "SECRET123" not in str(err.value) + caplog.text
    assert "pw@" not in str(err.value) + caplog.text


def test_size_cap_stops_the_download_and_the_copy(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(work_dir=tmp_path).model_copy(deep=True)
    settings.limits.gtfs_max_bytes = 10_000  # the fv zip has 72,067 bytes
    server = Server({FV_URL: (data_dir / FV).read_bytes()})
    # the download is refused (nothing kept); the offline copy is over the cap as well
    with pytest.raises(LimitError, match=r"72,067 bytes, more than the 10,000 allowed"):
        gtfs_region.load(settings, "goettingen", client=server.client())
    assert not (tmp_path / "raw" / "gtfs" / "fv.zip").exists()
    assert (FV_URL, None) in server.seen


def _merged(data_dir: Path, settings: Settings) -> tuple[gtfs.Feed, dict]:
    return gtfs_region.load(settings, None, [str(data_dir / VPE), str(data_dir / FV)])


def test_two_real_feeds_merge_counts_add_up(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(work_dir=tmp_path)
    feed, summary = _merged(data_dir, settings)
    vpe, fv = (gtfs.load_feed(data_dir / p, settings) for p in (VPE, FV))
    for key in ("stops", "routes", "trips", "stop_times"):
        assert summary[key] == vpe.summary()[key] + fv.summary()[key]
    assert summary["stops"] == 490 + 247
    assert [f["name"] for f in summary["feeds"]] == ["vpe_enzkreis_2025",
                                                     "gtfsde_fernverkehr_goettingen_2025-11"]
    # one calendar spanning both service periods; ids namespaced per feed
    assert (summary["first_day"], summary["last_day"]) == ("2024-12-15", "2025-12-12")
    assert feed.stop_times.stop_id.str.startswith(
        ("vpe_enzkreis_2025:", "gtfsde_fernverkehr_goettingen_2025-11:")).all()
    day = dt.date(2025, 11, 11)  # a Tuesday both feeds serve
    assert feed.trips_on(day).sum() == vpe.trips_on(day).sum() + fv.trips_on(day).sum()
    # stored and read back unchanged
    path = gtfs.store_feed(feed, settings, None)
    assert gtfs.load_feed(path, settings).summary() == feed.summary()
    json.dumps(summary)


@pytest.mark.parametrize("max_walk_m", [800.0, 6000.0])
def test_transfers_between_feeds_only_within_walking_distance(
        data_dir: Path, tmp_path: Path, max_walk_m: float) -> None:
    settings = Settings(work_dir=tmp_path).model_copy(deep=True)
    settings.transit.max_walk_m = max_walk_m
    feed, summary = _merged(data_dir, settings)
    tt = compile_timetable(feed, dt.date(2025, 11, 11), settings.transit)
    owner = np.array([s.split(":", 1)[0] for s in tt.stop_ids])
    src = np.repeat(np.arange(len(tt.stop_ids)), np.diff(tt.fp_ptr))
    cross = {(int(a), int(b)) for a, b in zip(src, tt.fp_to, strict=True)
             if owner[a] != owner[b]}
    # independently: geodesic metres between the feeds' stops (WGS84 ellipsoid)
    geod = Geod(ellps="WGS84")
    lon, lat = (np.array([feed.stops.set_index("stop_id").loc[s, c] for s in tt.stop_ids])
                for c in ("lon", "lat"))
    a_idx, b_idx = np.flatnonzero(owner == owner[0]), np.flatnonzero(owner != owner[0])
    aa, bb = np.meshgrid(a_idx, b_idx, indexing="ij")
    _, _, metres = geod.inv(lon[aa], lat[aa], lon[bb], lat[bb])
    near = {(int(a), int(b)) for a, b in zip(aa[metres <= max_walk_m],
                                               bb[metres <= max_walk_m], strict=True)}
    assert cross == near | {(b, a) for a, b in near}
    assert summary["transfers_between_feeds"] == len(cross)
    if max_walk_m == 800.0:
        assert not cross  # 5.7 km from Großglattbach to Vaihingen(Enz): nobody walks it
        return
    # Großglattbach Kelter (VPE) is 5.7 km from Vaihingen(Enz) (gtfs.de fv): the ICE is
    # reached by the walk transfer between the feeds
    assert len(near) == NEAR_6KM
    kelter = "vpe_enzkreis_2025:de:08236:2604:0:1"
    vaihingen = "gtfsde_fernverkehr_goettingen_2025-11:503116"
    assert (tt.stop_pos[kelter], tt.stop_pos[vaihingen]) in cross
    # the one fv train calling at Vaihingen(Enz) that day leaves at 05:19; the 5.7 km walk
    # takes 93 min (× 1.3 detour at 4.8 km/h): leave at 03:30
    arrivals = earliest_arrival(feed, [kelter], 3 * 3600 + 1800, dt.date(2025, 11, 11),
                                settings=settings.transit)
    reached = [sid for sid, t in zip(arrivals.stop_ids, arrivals.arrival_s, strict=True)
               if np.isfinite(t) and sid.startswith("gtfsde") and sid != vaihingen]
    legs = arrivals.journey(reached[0])
    assert legs[0]["mode"] == "walk" and legs[0]["to"] == vaihingen
    assert legs[1]["mode"] == "transit" and legs[1]["from"] == vaihingen
    assert legs[1]["departure"] == 5 * 3600 + 19 * 60
