"""Transit routing on the real VPE Enzkreis feed: hand-checked trips, transfer bound, time
windows, a networkx reference for 200 random queries, service levels and ÖV-Güteklassen."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from reference_router import reference_arrivals, reference_graph

from geo.cli import main
from geo.errors import DataError, EmptyResultError
from geo.networks import network
from geo.networks.network import Network
from geo.networks.snap import to_metric
from geo.settings import GOETTINGEN, Settings, TransitSettings
from geo.sources import gtfs, tiles
from geo.transit import quality, query, timetable
from geo.transit.walk import CrowFlyWalk, NetworkWalk

TUESDAY = dt.date(2025, 3, 11)  # service 0 (school-day weekday timetable) runs
ZOB = "de:08231:11_Parent"  # Pforzheim ZOB / Hbf (station; platforms :0:5 and :0:99)
BECKER_GOERING = "de:08215:34875:1:1"  # Ittersbach Becker-Göring-Str., platform 1


def hms(h: int, m: int, s: int = 0) -> int:
    return h * 3600 + m * 60 + s


@pytest.fixture(scope="module")
def feed(data_dir: Path, settings: Settings) -> gtfs.Feed:
    return gtfs.load_feed(data_dir / "germany/gtfs/vpe_enzkreis_2025.zip", settings)


@pytest.fixture(scope="module")
def ts() -> TransitSettings:
    return TransitSettings()


def test_hand_checked_trip(feed: gtfs.Feed, ts: TransitSettings) -> None:
    """Tue 2025-03-11, leave Pforzheim ZOB / Hbf at 08:20 for Ittersbach Becker-Göring-Str.

    stop_times.txt line 2240: trip de:vpe:04720_:2381 (route 720, service 0) leaves
    de:08231:11:0:5 (ZOB, platform 5) at 08:33:00; line 2272: it arrives at
    de:08215:34875:1:1 at 09:17:00 (its last stop). The 07:33 trip 2380 has gone; the
    trips 2399 and 2416 at 08:33 run on services 1 and 2, not on this Tuesday.
    """
    r = query.earliest_arrival(feed, [ZOB], hms(8, 20), TUESDAY, settings=ts)
    assert r.arrival(BECKER_GOERING) == hms(9, 17)
    assert r.journey(BECKER_GOERING) == [
        {"mode": "transit", "route": "720", "trip": "de:vpe:04720_:2381",
         "from": "de:08231:11:0:5", "departure": hms(8, 33),
         "to": BECKER_GOERING, "arrival": hms(9, 17)}]


def test_trip_of_previous_day_after_midnight(feed: gtfs.Feed, ts: TransitSettings) -> None:
    """Sunday trip de:vpe:04720_:2434 (service 2) runs past midnight: line 4004 leaves
    de:08236:1508:0:2 at 24:07:00, line 4020 reaches Becker-Göring-Str. at 24:25:00; on
    Monday 2025-03-17 that is 00:07 → 00:25."""
    r = query.earliest_arrival(feed, ["de:08236:1508:0:2"], hms(0, 3),
                               dt.date(2025, 3, 17), settings=ts)
    assert r.arrival(BECKER_GOERING) == hms(0, 25)
    assert r.journey(BECKER_GOERING)[0]["trip"] == "de:vpe:04720_:2434"
    sunday = query.earliest_arrival(feed, [ZOB], hms(23, 30), dt.date(2025, 3, 16),
                                    settings=ts)
    assert sunday.arrival(BECKER_GOERING) == hms(24, 25)


def test_max_transfers_bound(feed: gtfs.Feed, ts: TransitSettings) -> None:
    # ZOB → Weiler Gartenstraße on 720, then 725 on to de:08235:5310: needs one change
    target = "de:08235:5310:0:4"
    direct = query.earliest_arrival(feed, ["de:08231:11:0:5"], hms(6, 0), TUESDAY, 0,
                                    settings=ts)
    assert direct.arrival(target) == np.inf
    with pytest.raises(EmptyResultError, match="with at most 0 transfers"):
        direct.journey(target)
    one = query.earliest_arrival(feed, ["de:08231:11:0:5"], hms(6, 0), TUESDAY, 1,
                                 settings=ts)
    legs = one.journey(target)
    assert [leg["trip"] for leg in legs] == ["de:vpe:04720_:2315", "de:vpe:04725_:1633"]
    assert one.arrival(target) == hms(8, 46)
    # over many origins: more transfers never arrive later, and journeys respect the bound
    rng = np.random.default_rng(7)
    stops = one.stop_ids
    for origin in rng.choice(stops, 15, replace=False):
        by_k = [query.earliest_arrival(feed, [origin], hms(7, 0), TUESDAY, k, settings=ts)
                for k in range(4)]
        for a, b in pairwise(by_k):
            assert (b.arrival_s <= a.arrival_s).all()
        for k, res in enumerate(by_k):
            for dest in stops[np.isfinite(res.arrival_s)][:20]:
                rides = [leg for leg in res.journey(dest) if leg["mode"] == "transit"]
                assert len(rides) <= k + 1
                assert rides == [] or rides[-1]["arrival"] <= res.arrival(dest)


def test_window_median_between_best_and_worst(feed: gtfs.Feed, ts: TransitSettings) -> None:
    start, end = hms(7, 0), hms(9, 0)
    w = query.window_travel_times(feed, [ZOB], TUESDAY, start, end, settings=ts)
    assert len(w.departures_s) == 120 and w.median_s.shape == (1, len(w.stop_ids))
    per_minute = np.array([
        query.earliest_arrival(feed, [ZOB], int(t), TUESDAY, settings=ts).arrival_s - t
        for t in w.departures_s])
    per_minute[per_minute > ts.max_travel_s] = np.inf
    departures, profile = query.departure_profiles(feed, [ZOB], TUESDAY, start, end,
                                                   settings=ts)
    assert np.array_equal(departures, w.departures_s)
    assert np.array_equal(profile[0], per_minute)
    worst = per_minute.max(axis=0)
    assert np.array_equal(w.best_s[0], per_minute.min(axis=0))
    assert np.array_equal(w.median_s[0], np.median(per_minute, axis=0))
    reached = np.isfinite(w.median_s[0])
    assert reached.sum() > 50
    assert (w.best_s[0] <= w.median_s[0]).all()
    assert (w.median_s[0][reached] <= worst[reached]).all()
    # hourly rural buses: the median waits far longer than the best departure
    assert (w.median_s[0][reached] > w.best_s[0][reached]).mean() > 0.5


def test_point_origins_walk_to_stops(feed: gtfs.Feed, ts: TransitSettings) -> None:
    zob5 = feed.stops.set_index("stop_id").loc["de:08231:11:0:5", ["x", "y"]].to_numpy(float)
    point = (zob5 + [300.0, 0.0]).reshape(1, 2)  # 300 m east of the platform
    r = query.earliest_arrival(feed, point, hms(8, 20), TUESDAY, settings=ts)
    walk_s = int(np.ceil(300 * ts.detour_factor / (ts.walk_speed_kmh / 3.6)))
    assert hms(8, 20) + walk_s <= hms(8, 33) - ts.board_slack_s
    assert r.arrival(BECKER_GOERING) == hms(9, 17)
    first = r.journey(BECKER_GOERING)[0]
    assert first["mode"] == "walk" and first["from"] == "origin"
    w = query.window_travel_times(feed, np.vstack([point, point]), TUESDAY,
                                  hms(8, 0), hms(8, 30), settings=ts)
    assert np.array_equal(w.best_s[0], w.best_s[1])
    # on to a point 200 m north of Becker-Göring-Str. platform 1
    dest = feed.stops.set_index("stop_id").loc[BECKER_GOERING, ["x", "y"]].to_numpy(float)
    dest = (dest + [0.0, 200.0]).reshape(1, 2)
    one = query.window_travel_times(feed, point, TUESDAY, hms(8, 20), hms(8, 21),
                                    settings=ts, destinations=dest)
    assert one.stop_ids is None and one.best_s.shape == (1, 1)
    walk = CrowFlyWalk.from_settings(ts)
    expected = query.egress(r.arrival_s - hms(8, 20), r.timetable, dest, walk)[0]
    assert one.best_s[0, 0] == expected
    assert expected <= hms(9, 17) - hms(8, 20) + np.ceil(200 * ts.detour_factor
                                                         / (ts.walk_speed_kmh / 3.6))


def test_router_equals_time_expanded_reference(feed: gtfs.Feed) -> None:
    """200 random (origin, departure 06:00–10:00) queries: every stop's arrival equals a
    networkx Dijkstra on the time-expanded graph (max. 2 transfers, 90 min travel)."""
    ts = TransitSettings(max_travel_s=5400)
    tt = timetable.compile_timetable(feed, TUESDAY, ts)
    first, last = hms(6, 0), hms(10, 0)
    g = reference_graph(tt, 2, ts.board_slack_s, first, last + ts.max_travel_s)
    walk = CrowFlyWalk.from_settings(ts)
    rng = np.random.default_rng(2025)
    compared = 0
    for _ in range(200):
        origin = str(rng.choice(tt.stop_ids))
        depart = int(rng.integers(first, last))
        _, src, src_s, _ = query.origin_stops(tt, [origin], walk)
        ref = reference_arrivals(g, tt, src, src_s, depart, ts.max_travel_s)
        got = query.earliest_arrival(feed, [origin], depart, TUESDAY, 2, settings=ts)
        np.testing.assert_array_equal(got.arrival_s, ref, err_msg=f"{origin} at {depart}")
        compared += int(np.isfinite(ref).sum() - len(src))
    assert compared > 200 * 5  # stops reached by bus, not only by the first walk


def test_service_level(feed: gtfs.Feed) -> None:
    level = quality.service_level(feed, TUESDAY, hms(7, 0), hms(9, 0)).set_index("stop_id")
    # hand count: stop_times.txt rows at ZOB platform 5 leaving 07:00–08:59 on service-0,
    # -16, -28, -29 or -6 trips, not being the trip's last stop, boarding allowed
    st = feed.stop_times
    trips = feed.tables.trips.set_index("trip_id")
    running = trips.index[trips.service_id.isin(feed.active_services(TUESDAY))]
    last = st.groupby("trip_id").stop_sequence.transform("max") == st.stop_sequence
    mine = st[(st.stop_id == "de:08231:11:0:5") & st.trip_id.isin(running) & ~last
              & (st.pickup_type != 1)
              & st.departure_s.between(hms(7, 0), hms(9, 0) - 1)]
    assert level.loc["de:08231:11:0:5", "departures"] == len(mine) > 0
    assert level.loc["de:08231:11:0:5", "per_hour"] == len(mine) / 2
    stations = quality.service_level(feed, TUESDAY, hms(7, 0), hms(9, 0), by_station=True)
    assert stations.departures.sum() == level.departures.sum()
    assert stations.crs.to_epsg() == level.crs.to_epsg() == 3035


def test_gueteklassen(feed: gtfs.Feed) -> None:
    cats = quality.station_categories(feed, TUESDAY).set_index("stop_id")
    zob = cats.loc[ZOB]
    # buses only (group C): interval = 840 min / (departures / 2)
    assert zob.group == "C"
    assert zob.interval_min == pytest.approx(840 / (zob.departures / 2))
    band = int(np.searchsorted(quality.INTERVAL_BOUNDS_MIN, zob.interval_min, side="right"))
    assert zob.category == quality.CATEGORY["C"][band]
    areas = quality.gueteklassen(feed, TUESDAY)
    assert list(areas.klasse) == sorted(areas.klasse) and set(areas.klasse) <= set("ABCDEF")
    union = areas.geometry.union_all()
    assert areas.area.sum() == pytest.approx(union.area, rel=1e-6)  # no overlaps
    assert union.contains(cats.loc[ZOB].geometry)
    with pytest.raises(EmptyResultError, match="no ÖV-Güteklasse"):
        quality.gueteklassen(feed, dt.date(2025, 3, 16), hms(2, 0), hms(3, 0))


def test_cli_transit_earliest(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(tmp_path))

    def cli(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["erreichbar", "transit", "earliest", *args])
        with pytest.raises(SystemExit) as stop:
            main()
        out, err = capsys.readouterr()
        return int(stop.value.code or 0), out, err

    feed = str(data_dir / "germany/gtfs/vpe_enzkreis_2025.zip")
    code, out, err = cli("--feed", feed, "--from", "de:08231:11:0:5", "--to",
                         "de:08235:5310:0:3", "--depart", "2025-03-11T06:00",
                         "--max-transfers", "1")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["arrival"] == "2025-03-11T08:46:42"
    assert [(leg["route"], leg["departure"], leg["arrival"]) for leg in result["legs"]] == [
        ("720", "2025-03-11T06:07:00", "2025-03-11T06:44:00"),
        ("725", "2025-03-11T07:47:00", "2025-03-11T08:46:00"),
        ("walk", "2025-03-11T08:46:00", "2025-03-11T08:46:42")]
    code, out, err = cli("--feed", feed, "--from", "de:08231:11:0:5", "--to",
                         "de:08235:5310:0:3", "--depart", "2025-03-11T06:00",
                         "--max-transfers", "0")
    assert code == 2 and "is not reachable" in err.splitlines()[-1]
    code, out, err = cli("--from", "x", "--to", "y", "--depart", "2025-03-11T06:00")
    assert code == 2
    assert "no public-transport timetable is loaded for region goettingen" in err


def test_walk_model_is_a_parameter(feed: gtfs.Feed, ts: TransitSettings) -> None:
    no_walks = CrowFlyWalk(speed_mps=ts.walk_speed_kmh / 3.6, detour=1.3, max_m=0.0)
    r = query.earliest_arrival(feed, ["de:08231:11:0:5"], hms(6, 0), TUESDAY, 1,
                               settings=ts, walk=no_walks)
    assert r.arrival("de:08235:5310:0:4") == hms(8, 46)
    assert r.arrival("de:08235:5310:0:3") > hms(8, 46, 42)  # the 42 s walk is gone


@pytest.fixture(scope="module")
def city_walk(settings: Settings) -> Network:
    """The walk network of central Göttingen (z14 tiles of the 2021 county set covering
    lon 9.89–9.97, lat 51.51–51.56), built here in a few seconds."""
    cfg = GOETTINGEN.tiles
    assert cfg is not None
    tileset = tiles.open_tileset(settings.data_dir / cfg.path, cfg.zoom)
    n = 2 ** cfg.zoom

    def tile(lon: float, lat: float) -> tuple[int, int]:
        y = (1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    (x0, y0), (x1, y1) = tile(9.89, 51.56), tile(9.97, 51.51)
    part = replace(tileset, tiles=tuple(t for t in tileset.tiles
                                        if x0 <= t[0] <= x1 and y0 <= t[1] <= y1))
    ways = tiles.read_ways(part, settings.network.snap_tolerance_m, workers=1)
    return network.build_graphs(ways, settings, modes=("walk",))["walk"]


def test_network_walk_on_goettingen_streets(city_walk: Network, data_dir: Path,
                                            settings: Settings) -> None:
    """Walks on the real street network between the real DB stops of central Göttingen:
    never faster than the straight line, median detour close to the crow-fly model's 1.3."""
    stops = json.loads((data_dir / "goettingen/pt_stops_db_hafas.json").read_text("utf-8"))
    stops = [s for s in stops if 9.90 <= s["lon"] <= 9.96 and 51.52 <= s["lat"] <= 51.55]
    xy = np.column_stack(to_metric(np.array([s["lon"] for s in stops]),
                                   np.array([s["lat"] for s in stops])))
    walk = NetworkWalk.from_settings(city_walk, settings)
    i, j, secs = walk(xy, xy)
    other = i != j
    d = np.hypot(*(xy[i[other]] - xy[j[other]]).T)
    speed = settings.transit.walk_speed_kmh / 3.6
    assert other.sum() > 100
    assert (secs[other] >= np.floor(d / speed)).all()
    assert (secs <= walk.max_s + 1).all()
    detour = np.median(secs[other] * speed / d)
    print(f"median network/crow-fly detour between {other.sum()} stop pairs: {detour:.2f}")
    assert 1.0 < detour < 2.0


def test_clear_errors(feed: gtfs.Feed, ts: TransitSettings) -> None:
    with pytest.raises(DataError, match=r"2026-01-01 is outside the service period .*"
                       r"\(2024-12-15..2025-12-12\)"):
        query.earliest_arrival(feed, [ZOB], hms(8, 0), dt.date(2026, 1, 1), settings=ts)
    with pytest.raises(DataError, match="stop 'de:nowhere' is not a stop or station"):
        query.earliest_arrival(feed, ["de:nowhere"], hms(8, 0), TUESDAY, settings=ts)


def test_station_names_arrive_at_any_platform(feed: gtfs.Feed, ts: TransitSettings) -> None:
    """A station (by id or name) arrives no later than each of its platforms, at the first."""
    assert query.resolve_stops(feed, " neuenbürg GEWERBEGEBIET") == ["de:08236:1400_Parent"]
    assert query.resolve_stops(feed, ZOB) == [ZOB]
    with pytest.raises(DataError, match="similar names: Neuenbürg Gewerbegebiet"):
        query.resolve_stops(feed, "Neuenburg Gewerbegebiet")
    station = query.resolve_stops(feed, "Pforzheim ZOB / Hbf")
    assert station == [ZOB]
    platforms = feed.stops.stop_id[feed.stops.parent_station == ZOB].tolist()
    assert len(platforms) == 2
    tested = 0
    for origin in ("de:08236:1400_Parent", BECKER_GOERING, "de:08236:2900_Parent"):
        for depart in range(hms(6, 0), hms(9, 0), 15 * 60):
            r = query.earliest_arrival(feed, [origin], depart, TUESDAY, settings=ts)
            at_station = r.arrival(station)
            each = [r.arrival(p) for p in platforms]
            assert all(at_station <= t for t in each) and at_station == min(each)
            if np.isfinite(at_station):
                legs = r.journey(station)
                assert legs[-1]["to"] in platforms and legs[-1]["arrival"] == at_station
                tested += 1
            # leaving from the station = from any platform: never later than from one
            by_station = query.earliest_arrival(feed, station, depart, TUESDAY, settings=ts)
            for p in platforms:
                from_p = query.earliest_arrival(feed, [p], depart, TUESDAY, settings=ts)
                assert (by_station.arrival_s <= from_p.arrival_s).all()
    assert tested >= 10
