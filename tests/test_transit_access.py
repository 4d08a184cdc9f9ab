"""Public transport in the engine, there-and-back in opening hours and ÖV-Güteklassen per
Gemeinde, on real data: the VPE Enzkreis GTFS feed, the Zensus 100 m children grid and the
VG5000 boundaries of the Enzkreis (ARS 08236).

No offers of the Enzkreis exist in our data: ``tests/fixtures/offers_enzkreis_fixture.csv``
holds three TEST offers placed at real stops of the feed, named "Fixture … (TEST OFFER -
not real)". Only the travel times to them are asserted, never facts about them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.cli import main
from geo.engine.access import Accessibility
from geo.engine.transit_access import TransitAccess
from geo.errors import DataError
from geo.networks.snap import to_metric
from geo.products.compute import compute
from geo.settings import Settings, TransitSettings
from geo.sources import gtfs, offers
from geo.transit import quality, query, trip

FIXTURE = Path(__file__).parent / "fixtures" / "offers_enzkreis_fixture.csv"
TUESDAY = dt.date(2025, 3, 11)  # service 0 (school-day weekday timetable) runs
ZOB = "de:08231:11:0:5"  # Pforzheim ZOB / Hbf, platform 5
BECKER_GOERING = "de:08215:34875:1:1"  # Ittersbach Becker-Göring-Str., platform 1
#: 100 m cell in Ellmendingen (Keltern), centre 50 crow-fly metres from the stop
#: Ellmendingen Pforzheimer Str. (de:08236:1507:0:2); the fixture Kita sits at the stop
#: Dietlingen Rathaus (de:08236:1504:0:2), 2.0 km away.
CELL = "CRS3035RES100mN2866300E4216600"


def hms(h: int, m: int, s: int = 0) -> int:
    return h * 3600 + m * 60 + s


@pytest.fixture(scope="module")
def enz(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Region enzkreis with the VPE feed loaded as a user would (`gtfs load --region`)."""
    s = Settings(data_dir=data_dir, work_dir=tmp_path_factory.mktemp("enz"), region="enzkreis",
                 transit=TransitSettings(date=TUESDAY))
    feed = gtfs.load_feed(data_dir / "germany/gtfs/vpe_enzkreis_2025.zip", s, region="enzkreis")
    gtfs.store_feed(feed, s, "enzkreis")
    return s


@pytest.fixture(scope="module")
def feed(data_dir: Path, enz: Settings) -> gtfs.Feed:
    """The whole feed (line numbers in the docstrings are those of its stop_times.txt)."""
    return gtfs.load_feed(data_dir / "germany/gtfs/vpe_enzkreis_2025.zip", enz)


@pytest.fixture(scope="module")
def fixture_offers(enz: Settings) -> gpd.GeoDataFrame:
    return offers.read_offer_file(FIXTURE, enz)


@pytest.fixture(scope="module")
def engine(enz: Settings, fixture_offers: gpd.GeoDataFrame) -> Accessibility:
    return Accessibility(enz, offers=fixture_offers)


@pytest.fixture(scope="module")
def kita_cells(engine: Accessibility) -> pd.DataFrame:
    return engine.cells("kita", "transit")


def stop_xy(feed: gtfs.Feed, stop_id: str) -> np.ndarray:
    return feed.stops.set_index("stop_id").loc[stop_id, ["x", "y"]].to_numpy(float)


def test_fixture_offers_are_labelled(fixture_offers: gpd.GeoDataFrame) -> None:
    assert fixture_offers["name"].str.contains("Fixture").all()
    assert fixture_offers["name"].str.contains("TEST OFFER - not real").all()
    assert fixture_offers["source"].str.startswith("TEST FIXTURE").all()


def test_cell_time_is_walk_plus_bus(engine: Accessibility, feed: gtfs.Feed,
                                    enz: Settings) -> None:
    """Leave the cell at 07:00 for the fixture Kita at Dietlingen Rathaus.

    Walk to Ellmendingen Pforzheimer Str. (de:08236:1507:0:2): ≈51 crow-fly m × 1.3 at
    4.8 km/h = 50 s (computed below from the coordinates), rounded up to the whole minute:
    at the stop 07:01. stop_times.txt line 161: trip de:vpe:04720_:2319 (route 720,
    service 0) leaves there at 07:04:00 (60 s boarding slack: needs to be there by 07:03);
    line 165: it is at Dietlingen Rathaus (de:08236:1504:0:2) at 07:09:00, where the offer
    is (egress 0 m).
    The same trip passes the nearer stops 1522:0:2 at 07:01 and 1521:0:2 at 07:05, both
    too far to reach in time. Travel time: 07:00 → 07:09 = 9 min; walking the whole way
    is far longer (> 30 min).
    """
    cells = engine.cell_frame("children")
    xy = cells.loc[cells["cell_id"] == CELL, ["x", "y"]].to_numpy(float)
    walk_m = float(np.hypot(*(xy[0] - stop_xy(feed, "de:08236:1507:0:2"))))
    walk_s = math.ceil(walk_m * 1.3 / (4.8 / 3.6))
    assert walk_s <= 60  # one whole minute after rounding up
    one_departure = TransitAccess(feed, enz, engine.offers, date=TUESDAY,
                                  start_s=hms(7, 0), end_s=hms(7, 1))
    t = one_departure.cell_times("kita", xy)
    assert t.median_s[0] == t.best_s[0] == hms(7, 9) - hms(7, 0)
    assert t.walk_s[0] > 30 * 60
    legs = one_departure.nearest(*xy[0], "kita", k=1)["legs"].iloc[0]
    assert [(leg["route"], leg["trip"], leg["from"], leg["departure"], leg["to"],
             leg["arrival"]) for leg in legs] == [
        ("walk", None, "origin", "2025-03-11T07:00:00", "de:08236:1507:0:2",
         f"2025-03-11T07:00:{walk_s:02d}"),
        ("720", "de:vpe:04720_:2319", "de:08236:1507:0:2", "2025-03-11T07:04:00",
         "de:08236:1504:0:2", "2025-03-11T07:09:00")]


def test_transit_never_slower_than_walking(kita_cells: pd.DataFrame) -> None:
    """Window 07:00–09:00: best ≤ median ≤ worst ≤ walking the whole way, every cell."""
    assert len(kita_cells) == 3523
    assert (kita_cells["minutes"] <= kita_cells["walk_minutes"]).all()
    assert (kita_cells["best_minutes"] <= kita_cells["minutes"]).all()
    by_bus = kita_cells["minutes"] < kita_cells["walk_minutes"]
    assert by_bus.sum() > 100  # the bus is faster for many homes
    assert kita_cells.loc[kita_cells["cell_id"] == CELL, "best_minutes"].item() <= 9


def test_raster_equals_cells(engine: Accessibility, kita_cells: pd.DataFrame) -> None:
    """The map raster (every 100 m cell of the county) holds the same window medians."""
    raster = engine.raster_minutes("kita", "transit")
    assert len(raster) > len(kita_cells)
    row = kita_cells.loc[kita_cells["cell_id"] == CELL].iloc[0]
    at = raster[(raster["x"] == row["x"]) & (raster["y"] == row["y"])]
    assert at["minutes"].item() == row["minutes"]


def test_median_between_best_and_worst(engine: Accessibility) -> None:
    t = engine.transit_cells("familienzentrum")
    assert np.all(t.best_s <= t.median_s) and np.all(t.median_s <= t.worst_s)
    assert np.all(t.worst_s <= t.walk_s)
    assert np.any(t.best_s < t.median_s)  # waiting for hourly buses shows in the median


def test_coverage_nearest_isochrones(engine: Accessibility, feed: gtfs.Feed) -> None:
    cov = engine.coverage("gemeinde", "kita", "transit")
    assert len(cov) == 28 and set(cov["mode"]) == {"transit"}
    assert cov["children_within_30min_share"].between(0, 1).all()
    lon, lat = 8.5765, 48.9011  # at Ellmendingen Pforzheimer Str.
    near = engine.nearest(lon, lat, "kita", "transit", k=1)
    assert near["offer_id"].tolist() == ["fixture-3"]
    assert near["minutes"].iloc[0] <= near["walk_minutes"].iloc[0]
    ride = [leg for leg in near["legs"].iloc[0] if leg["route"] != "walk"]
    assert ride and ride[-1]["to"] == "de:08236:1504:0:2"  # by bus to Dietlingen Rathaus
    assert near["arrival"].iloc[0] == ride[-1]["arrival"]


def test_isochrone_is_exactly_the_cells_within(engine: Accessibility, enz: Settings,
                                               feed: gtfs.Feed) -> None:
    """Each 100 m cell of a 24 km square whose window median (computed here per departure:
    min of walking and walk + transit + walk) is within 20 min is inside, no other."""
    lon, lat = 8.5765, 48.9011  # at Ellmendingen Pforzheimer Str.
    iso = engine.isochrones(lon, lat, "transit", [10, 20]).set_index("minutes")
    x, y = (float(v[0]) for v in to_metric(np.array([lon]), np.array([lat])))
    gx, gy = np.meshgrid(np.arange(-120, 120) * 100.0 + (x // 100) * 100 + 50,
                         np.arange(-120, 120) * 100.0 + (y // 100) * 100 + 50)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    access = engine.engine("transit").access()  # type: ignore[attr-defined]
    origin = np.array([[x, y]])
    _, prof = query.departure_profiles(feed, origin, TUESDAY, 7 * 3600, 9 * 3600,
                                       settings=enz.transit, walk=access.walk,
                                       destinations=cells)
    metres = np.hypot(cells[:, 0] - x, cells[:, 1] - y)
    walk_s = np.ceil(metres * 1.3 / (4.8 / 3.6))
    median = np.median(np.minimum(prof[0], walk_s), axis=0)
    for minutes in (10.0, 20.0):
        poly = gpd.GeoSeries([iso.loc[minutes, "geometry"]], crs="EPSG:4326").to_crs(
            "EPSG:3035").iloc[0]
        within = median <= minutes * 60
        inside = shapely.contains_xy(poly, cells[:, 0], cells[:, 1])
        assert (inside == within).all()
        assert iso.loc[minutes, "cells"] == within.sum()
        assert iso.loc[minutes, "area_km2"] == pytest.approx(within.sum() / 100, rel=1e-6)
        # no edge of the 24 km square is reached: every cell within was a candidate
        assert not within.reshape(gx.shape)[[0, -1], :].any()
    # not a walking disc: by bus, cells beyond walking reach of 20 min (1.23 km) are in
    assert (metres[median <= 1200] > 20 * 60 * 4.8 / 3.6 / 1.3).sum() > 100


def test_network_only_calls_refuse_transit(engine: Accessibility) -> None:
    with pytest.raises(ValueError, match="walk/bike/car only"):
        engine.surface("kita", "transit")


def test_goettingen_has_no_timetable(data_dir: Path, tmp_path: Path) -> None:
    engine = Accessibility(Settings(data_dir=data_dir, work_dir=tmp_path))
    for call in (lambda: engine.cells("kita", "transit"),
                 lambda: engine.coverage("county", "kita", "transit"),
                 lambda: engine.nearest(9.9356, 51.5339, "kita", "transit")):
        with pytest.raises(DataError, match="no public-transport timetable is loaded") as err:
            call()
        assert "erreichbar gtfs load PATH|URL --region goettingen" in str(err.value)


def test_compute_skips_transit_without_timetable(settings: Settings, networks: dict) -> None:
    """`access compute` on Göttingen (real networks, real schools) skips transit, saying
    why and how to load a timetable, and computes the other modes."""
    folder = settings.data_dir / settings.region
    schools = offers.to_frame(offers.school_offers(folder / offers.SCHOOLS_FILE))
    engine = Accessibility(settings, offers=schools[schools["category"] == "grundschule"])
    out = compute(settings, engine)
    assert "no public-transport timetable is loaded" in out["skipped_modes"]["transit"]
    assert out["surfaces"] == 3 and set(out["coverage"]["grundschule"]) == {"walk", "bike", "car"}


def test_there_and_back_yes(feed: gtfs.Feed) -> None:
    """ZOB → Becker-Göring-Str., be there by 09:20, leave at 10:00 (Tue 2025-03-11).

    Out: stop_times.txt lines 2240/2272, trip de:vpe:04720_:2381 (route 720) leaves ZOB
    platform 5 at 08:33, reaches Becker-Göring-Str. platform 1 at 09:17 (home and offer lie
    at the stops: no walk legs). Back: lines 383/416, trip
    de:vpe:04720_:2326 leaves Becker-Göring-Str. platform 2 at 10:21 (11 s walk across) and
    is at ZOB platform 5 at 11:10. Walking the 14.4 km takes over 3 h: not an option.
    """
    a = trip.there_and_back(feed, stop_xy(feed, ZOB), stop_xy(feed, BECKER_GOERING), TUESDAY,
                            hms(9, 20), hms(10, 0)).summary()
    assert a["possible"] and a["reason"] == ""
    assert a["outbound"]["departure"] == "2025-03-11T08:33:00"
    assert [(leg["trip"], leg["departure"], leg["arrival"]) for leg in a["outbound"]["legs"]
            if leg["route"] != "walk"] == [
        ("de:vpe:04720_:2381", "2025-03-11T08:33:00", "2025-03-11T09:17:00")]
    assert [(leg["trip"], leg["from"], leg["departure"], leg["to"], leg["arrival"])
            for leg in a["back"]["legs"] if leg["route"] != "walk"] == [
        ("de:vpe:04720_:2326", "de:08215:34875:1:2", "2025-03-11T10:21:00", ZOB,
         "2025-03-11T11:10:00")]
    assert a["back"]["arrival"] == "2025-03-11T11:10:00"


def test_there_and_back_no_after_last_bus(feed: gtfs.Feed) -> None:
    """Leave Becker-Göring-Str. after 22:30: the last bus to Pforzheim on this Tuesday,
    trip de:vpe:04720_:2332, leaves at 22:21 (stop_times.txt line 587)."""
    runs = feed.tables.trips.loc[feed.trips_on(TUESDAY), "trip_id"]
    st = feed.stop_times
    at_zob = st[st["stop_id"] == ZOB].set_index("trip_id")["arrival_s"]
    leaving = st[st["trip_id"].isin(runs) & st["stop_id"].str.startswith("de:08215:34875:")
                 & st["trip_id"].isin(at_zob.index)]
    towards_zob = leaving[at_zob.reindex(leaving["trip_id"]).to_numpy()
                          > leaving["departure_s"].to_numpy()]
    last = towards_zob.sort_values("departure_s").iloc[-1]
    assert last["trip_id"] == "de:vpe:04720_:2332" and last["departure_s"] == hms(22, 21)
    a = trip.there_and_back(feed, stop_xy(feed, ZOB), stop_xy(feed, BECKER_GOERING), TUESDAY,
                            hms(9, 20), hms(22, 30))
    assert not a.possible and a.back is None and a.outbound is not None
    assert "no journey home after 22:30" in a.reason
    assert trip.there_and_back(feed, stop_xy(feed, ZOB), stop_xy(feed, BECKER_GOERING),
                               TUESDAY, hms(9, 20), hms(22, 0)).possible


def test_there_and_back_opening_hours(feed: gtfs.Feed) -> None:
    assert trip.opening_interval("Tu 09:00-11:00", TUESDAY) == (hms(9, 0), hms(11, 0))
    a = trip.there_and_back(feed, stop_xy(feed, ZOB), stop_xy(feed, BECKER_GOERING), TUESDAY,
                            opening_hours="Tu 09:20-10:00")
    assert (a.arrive_by_s, a.leave_after_s, a.possible) == (hms(9, 20), hms(10, 0), True)
    with pytest.raises(DataError, match="closed all day"):
        trip.there_and_back(feed, stop_xy(feed, ZOB), stop_xy(feed, BECKER_GOERING), TUESDAY,
                            opening_hours="Mo 09:00-11:00")


def test_there_and_back_to_a_fixture_offer(engine: Accessibility, feed: gtfs.Feed) -> None:
    """From the Ellmendingen cell to the fixture Kita (opening_hours Mo-Fr 07:30-14:00):
    route 720 or 722 there by 07:30, and back after 14:00; the answer carries the legs."""
    cells = engine.cell_frame("children")
    x, y = cells.loc[cells["cell_id"] == CELL, ["x", "y"]].to_numpy(float)[0]
    a = engine.transit().there_and_back(x, y, "fixture-3")
    assert (a.arrive_by_s, a.leave_after_s) == (hms(7, 30), hms(14, 0))
    assert a.possible and a.outbound and a.back
    assert dt.datetime.fromisoformat(str(a.outbound[-1]["arrival"])) <= dt.datetime(
        2025, 3, 11, 7, 30)
    assert dt.datetime.fromisoformat(str(a.back[0]["departure"])) >= dt.datetime(
        2025, 3, 11, 14, 0)
    with pytest.raises(DataError, match="no active offer"):
        engine.transit().there_and_back(x, y, "nonexistent")
    assert engine.nearest(8.5765, 48.9011, "familienzentrum", "transit", k=2)[
        "minutes"].max() <= engine.settings.access.nearest_max_min  # far ones left out


def test_cli_there_and_back(data_dir: Path, feed: gtfs.Feed,
                            capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    stops = feed.stops.set_index("stop_id")
    home, offer = stops.loc[ZOB], stops.loc[BECKER_GOERING]
    monkeypatch.setattr(sys, "argv", [
        "erreichbar", "transit", "there-and-back",
        "--feed", str(data_dir / "germany/gtfs/vpe_enzkreis_2025.zip"),
        "--from-lat", str(home["lat"]), "--from-lon", str(home["lon"]),
        "--to-lat", str(offer["lat"]), "--to-lon", str(offer["lon"]),
        "--date", "2025-03-11", "--arrive-by", "09:20", "--leave-after", "22:30"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out["possible"], out["arrive_by"], out["leave_after"]) == (False, "09:20", "22:30")
    assert out["outbound"]["arrival"] == "2025-03-11T09:17:00" and out["back"] is None


def test_gueteklassen_per_gemeinde(feed: gtfs.Feed, engine: Accessibility) -> None:
    klassen = quality.gueteklassen(feed, TUESDAY)
    table = quality.gueteklassen_shares(klassen, engine.cell_frame("children"),
                                        engine.units("gemeinde"))
    assert len(table) == 28
    shares = table.filter(like="share_")
    with_children = table["children_under_10"] > 0
    assert np.allclose(shares[with_children].sum(axis=1), 1.0)
    assert table["children_under_10"].sum() == engine.cell_frame("children")[
        "children_under_10"].sum()
    assert (shares["share_none"] < 1).any()  # some children live near a served stop


def test_cli_quality(enz: Settings, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(enz.work_dir))
    monkeypatch.setattr(sys, "argv", ["erreichbar", "transit", "quality", "--region",
                                      "enzkreis", "--data-dir", str(enz.data_dir),
                                      "--date", "2025-03-11"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert math.isclose(sum(out["children_share"].values()), 1.0, abs_tol=1e-3)
    areas, table = (gpd.read_parquet(p) for p in out["outputs"])
    assert set(areas["klasse"]) == set(out["classes"])
    assert len(table) == 28 and table.crs is not None


def test_transit_what_if_equals_full_recomputation(enz: Settings, feed: gtfs.Feed,
                                                   fixture_offers: gpd.GeoDataFrame) -> None:
    """Close the fixture Familienzentrum Ellmendingen and open one at Neuenbürg
    Gewerbegebiet (a real stop): combining kept stop-to-stop scans gives exactly the times
    of a new TransitAccess whose offers are the changed catalogue (scanned from scratch)."""
    from geo.engine import transit_what_if

    region_feed = gtfs.load_region_feed(enz, "enzkreis")
    access = TransitAccess(region_feed, enz, fixture_offers, date=TUESDAY)
    site_ll = feed.stops.set_index("stop_id").loc["de:08236:1400_Parent", ["lon", "lat"]]
    site = np.column_stack(to_metric(np.array([site_ll["lon"]]), np.array([site_ll["lat"]])))
    # every 100 m cell of a 30 × 20 km box over the feed's stops, 1 km apart (600 cells)
    gx, gy = np.meshgrid(np.arange(4_190_050, 4_220_050, 1000.0),
                         np.arange(2_860_050, 2_880_050, 1000.0))
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    before, after, ids = transit_what_if.what_if(access, "familienzentrum", cells,
                                                 add=[tuple(site[0])], remove=["fixture-1"])
    assert ids == ["fixture-2", "new-1"]
    changed = fixture_offers[fixture_offers["id"] != "fixture-1"].copy()
    new_row = changed[changed["id"] == "fixture-2"].copy()
    new_row[["id", "lon", "lat"]] = ["new-1", site_ll["lon"], site_ll["lat"]]
    full = TransitAccess(region_feed, enz, gpd.GeoDataFrame(
        pd.concat([changed, new_row], ignore_index=True), crs=changed.crs), date=TUESDAY)
    truth = full.cell_times("familienzentrum", cells)
    for name in ("median_s", "best_s", "worst_s", "walk_s"):
        np.testing.assert_array_equal(getattr(after, name), getattr(truth, name))
    np.testing.assert_array_equal(after.offer, truth.offer)
    np.testing.assert_array_equal(before.median_s,
                                  access.cell_times("familienzentrum", cells).median_s)
    # the change is real: cells near Neuenbürg got faster, cells near Ellmendingen slower
    assert (after.median_s < before.median_s).sum() > 10
    assert (after.median_s > before.median_s).sum() > 0


def test_facade_transit_what_if_equals_full_recomputation(
        engine: Accessibility, enz: Settings, feed: gtfs.Feed,
        fixture_offers: gpd.GeoDataFrame) -> None:
    """Accessibility.what_if by transit (close the fixture Familienzentrum Ellmendingen,
    open one at the real stop Neuenbürg Gewerbegebiet) equals a second engine whose
    catalogue has that change, computed from scratch: per children cell (minutes, offer)
    and per Gemeinde (children within N minutes)."""
    site = feed.stops.set_index("stop_id").loc["de:08236:1400_Parent", ["lon", "lat"]]
    result = engine.what_if("familienzentrum", "transit",
                            add=[(float(site["lon"]), float(site["lat"]))],
                            remove=["fixture-1"])
    changed = fixture_offers[fixture_offers["id"] != "fixture-1"].copy()
    new_row = changed[changed["id"] == "fixture-2"].copy()
    new_row[["id", "lon", "lat"]] = ["new-1", site["lon"], site["lat"]]
    full = Accessibility(enz, offers=gpd.GeoDataFrame(
        pd.concat([changed, new_row], ignore_index=True), crs=changed.crs))
    before = engine.cells("familienzentrum", "transit")
    after = full.cells("familienzentrum", "transit")
    moved = (before["minutes"] != after["minutes"]).to_numpy()
    assert result.surface is None
    assert result.cells["cell_id"].tolist() == after["cell_id"][moved].tolist()
    np.testing.assert_array_equal(result.cells["minutes_after"], after["minutes"][moved])
    np.testing.assert_array_equal(result.cells["minutes_before"], before["minutes"][moved])
    assert result.cells["offer_id"].tolist() == after["offer_id"][moved].tolist()
    assert (result.cells["minutes_after"] < result.cells["minutes_before"]).sum() > 10
    assert {"new-1", "fixture-2"} >= set(result.cells["offer_id"].dropna())
    cov_before = engine.coverage("gemeinde", "familienzentrum", "transit")
    cov_after = full.coverage("gemeinde", "familienzentrum", "transit")
    gem = result.gemeinden
    assert gem["ags"].tolist() == cov_after["ags"].tolist()
    for m in enz.access.thresholds_min:
        share = f"children_within_{m}min_share"
        np.testing.assert_allclose(gem[f"{share}_before"], cov_before[share])
        np.testing.assert_allclose(gem[f"{share}_after"], cov_after[share])
        gained = ((cov_after[share] - cov_before[share]) * cov_before["children"]).round()
        np.testing.assert_array_equal(gem[f"children_within_{m}min_change"],
                                      gained.fillna(0).astype(int))
    # Neuenbürg gains, and children are counted per cell: the gain is that of the cells
    m = max(enz.access.thresholds_min)
    within = result.cells["minutes_after"] <= m
    was = result.cells["minutes_before"] <= m
    net = (result.cells["children_under_10"].fillna(0) * (within.astype(int) - was)).sum()
    assert gem[f"children_within_{m}min_change"].sum() == pytest.approx(net, abs=len(gem))


def test_chain_planned_familienzentrum_by_transit(engine: Accessibility, enz: Settings,
                                                  feed: gtfs.Feed,
                                                  fixture_offers: gpd.GeoDataFrame) -> None:
    """The chain's planned-Familienzentren what-if by transit (a site at the real stop
    Neuenbürg Gewerbegebiet) equals the stage minutes of an engine whose catalogue has a
    Familienzentrum there (computed from scratch), for every stage with Familienzentren."""
    from geo.products.chain import ChainData

    site = feed.stops.set_index("stop_id").loc["de:08236:1400_Parent", ["lon", "lat"]]
    planned = pd.DataFrame({"lon": [float(site["lon"])], "lat": [float(site["lat"])]})
    new_row = fixture_offers[fixture_offers["id"] == "fixture-2"].copy()
    new_row[["id", "lon", "lat"]] = ["new-1", site["lon"], site["lat"]]
    full = ChainData(Accessibility(enz, offers=gpd.GeoDataFrame(
        pd.concat([fixture_offers, new_row], ignore_index=True), crs=fixture_offers.crs)))
    data = ChainData(engine)
    stages = [st for st in enz.chain.stages if "familienzentrum" in st.categories]
    assert stages
    for stage in stages:
        got = data.planned_minutes(stage, "transit", planned)
        assert got is not None
        np.testing.assert_array_equal(got, full.stage_minutes(stage, "transit"))
        assert (got < data.stage_minutes(stage, "transit")).sum() > 10


def test_transit_supply_equals_per_offer_scans(engine: Accessibility, enz: Settings,
                                               fixture_offers: gpd.GeoDataFrame) -> None:
    """E2SFCA by transit from combined stop-to-stop scans equals E2SFCA on times scanned
    from scratch with each Familienzentrum alone (zones 10/20/30 min, weights 1/0.68/0.22)."""
    sup = engine.supply("familienzentrum", "transit")
    children = engine.engine("transit").data.cell_frame("children")  # type: ignore[attr-defined]
    fz = fixture_offers[fixture_offers["category"] == "familienzentrum"].reset_index(drop=True)
    region_feed = gtfs.load_region_feed(enz, "enzkreis")
    minutes = np.column_stack([
        TransitAccess(region_feed, enz, fz.iloc[[o]], date=TUESDAY).cell_times(
            "familienzentrum", children[["x", "y"]].to_numpy(float)).median_s / 60.0
        for o in range(len(fz))])
    weight = np.select([minutes <= 10, minutes <= 20, minutes <= 30], [1.0, 0.68, 0.22], 0.0)
    demand = children["children_under_10"].to_numpy(float)
    ratio = 1.0 / (demand @ weight)  # no capacities in the fixture: each offer counts 1
    np.testing.assert_allclose(sup.offers["ratio"].to_numpy(), ratio, rtol=1e-12)
    np.testing.assert_allclose(sup.cells["access"].to_numpy(), weight @ ratio, rtol=1e-12)
    assert sup.basis.startswith("offers (capacity unknown")
    assert (sup.cells["access"] > 0).sum() > 100


def test_transit_map_has_surface_gueteklassen_and_note(engine: Accessibility, enz: Settings,
                                                      data_dir: Path, tmp_path: Path) -> None:
    from geo.products.transit_maps import build_transit_maps

    out = build_transit_maps(engine, ["familienzentrum"], tmp_path)
    assert out == {"maps": ["familienzentrum-transit.html"], "skipped": {}}
    page = (tmp_path / "familienzentrum-transit.html").read_text("utf-8")
    klassen = quality.gueteklassen(gtfs.load_region_feed(enz, "enzkreis"), TUESDAY)
    assert len(klassen) >= 2
    for k in klassen["klasse"]:
        assert f'"klasse": "{k}"' in page
    for layer in ("ÖV-Güteklassen (ARE, 06–20 Uhr, 11.03.2025)",
                  "Fahrzeit (Minuten, 100-m-Raster)"):
        assert json.dumps(layer)[1:-1] in page  # folium writes layer names as JSON
    assert '<div id="transit-note"' in page and "Fahrplan geladen: " in page
    # without a timetable: no map, one German sentence with the command
    bare = Accessibility(Settings(data_dir=data_dir, work_dir=tmp_path / "none"))
    none = build_transit_maps(bare, ["kita"], tmp_path)
    assert none["maps"] == [] and none["skipped"]["transit"].startswith("Kein Fahrplan geladen")
    assert "erreichbar gtfs load --region goettingen" in none["skipped"]["transit"]


def test_nearest_routes_carry_legs_in_the_api_shape(engine: Accessibility) -> None:
    """/nearest?mode=transit&route=true lists the legs: line, stops with names, times."""
    from api.models import TransitLeg

    found = engine.nearest_routes(8.5765, 48.9011, "kita", "transit", 1)
    assert found.legs is not None and len(found.legs) == 1
    legs = [TransitLeg.model_validate(leg) for leg in found.legs[0]]
    rides = [leg for leg in legs if leg.route != "walk"]
    assert rides and rides[-1].to == "de:08236:1504:0:2"  # by bus to Dietlingen Rathaus
    assert rides[-1].to_name == "Dietlingen Rathaus"
    assert legs[0].from_ == "origin" and legs[-1].to in ("destination", "de:08236:1504:0:2")
    assert all(a.arrival <= b.departure for a, b in zip(legs, legs[1:], strict=False))
    dumped = legs[0].model_dump(by_alias=True)
    assert set(dumped) == {"route", "trip", "from", "from_name", "departure", "to",
                           "to_name", "arrival"}
    start = dt.datetime.fromisoformat(legs[0].departure)
    end = dt.datetime.fromisoformat(legs[-1].arrival)
    near = engine.nearest(8.5765, 48.9011, "kita", "transit", k=1)
    assert near["departure"].iloc[0] == legs[0].departure
    # the median departure is the lower middle one: its journey takes at most the median
    assert 0 < (end - start).total_seconds() / 60 <= near["minutes"].iloc[0] + 1e-9


def test_report_transit_section(engine: Accessibility) -> None:
    """The unit report's Bus & Bahn section: shares per Gemeinde equal the children cells'
    own count, and the partial renders them with the timetable note."""
    from geo.products.report import environment
    from geo.products.transit_report import transit_section

    gem = engine.units("gemeinde").set_index("name")
    keltern = gem.loc["Keltern"]
    ctx = transit_section(engine, keltern["unit_ags"])
    assert ctx["state"] == "loaded" and ctx["text"].startswith("Fahrplan geladen")
    assert ctx["categories"] == ["Kita", "Familienzentrum"]
    cells = engine.cells("familienzentrum", "transit")
    mine = cells[cells["gemeinde_ags"] == keltern["ags"]]
    expected = (mine["children_under_10"] * (mine["minutes"] <= 30)).sum() \
        / mine["children_under_10"].sum()
    row = next(r for r in ctx["rows"] if r["name"] == "Keltern")
    assert row["cells"][1]["transit_value"] == pytest.approx(expected, abs=1e-9)
    assert 0 < expected < 1
    assert row["cells"][1]["walk"] == "–"  # no walk network for the Enzkreis: not invented
    assert ctx["klassen"] is not None and ctx["klassen"]["classes"][-1] == "none"
    page = environment().get_template("transit_section.html").render(transit=ctx)
    assert "Keltern" in page and "Fahrplan geladen" in page and "Güteklasse" in page


def test_report_there_and_back_from_main_place(engine: Accessibility, enz: Settings,
                                               fixture_offers: gpd.GeoDataFrame) -> None:
    """Keltern's main place (its cell with most children) to the fixture Familienzentrum
    Ellmendingen (Tu 09:00-11:00) and Kita Dietlingen: the rows agree with
    geo.transit.trip.there_and_back called directly on the feed."""
    from geo.products.transit_report import there_and_back_rows

    gem = engine.units("gemeinde")
    keltern = gem[gem["name"] == "Keltern"]
    rows = there_and_back_rows(engine, keltern, ["familienzentrum", "kita"])
    assert [(r["category"], r["offer"]) for r in rows] == [
        ("Familienzentrum", "Fixture Familienzentrum Ellmendingen (TEST OFFER - not real)"),
        ("Kita", "Fixture Kita Dietlingen (TEST OFFER - not real)")]
    cells = engine.cell_frame("children")
    mine = cells[cells["gemeinde_ags"] == keltern["ags"].iloc[0]]
    home = mine.loc[mine["children_under_10"].idxmax(), ["x", "y"]].to_numpy(float)
    access = engine.transit()
    assert [r["possible"] for r in rows] == [True, True]
    for row, offer_id in zip(rows, ("fixture-1", "fixture-3"), strict=True):
        offer = fixture_offers.set_index("id").loc[offer_id]
        direct = trip.there_and_back(
            gtfs.load_region_feed(enz, "enzkreis"), home,
            np.column_stack(to_metric(np.array([offer["lon"]]), np.array([offer["lat"]])))[0],
            access.date, opening_hours=offer["opening_hours"], settings=enz.transit,
            walk=access.walk).summary()
        assert row["possible"] == direct["possible"]
        assert row["text"].startswith(f"hin {direct['outbound']['departure'][11:16]}–")
        assert f"Beginn {direct['arrive_by']}" in row["text"]
        assert f"–{direct['back']['arrival'][11:16]} (Ende" in row["text"]


def test_stop_matrix_size_is_capped(enz: Settings, fixture_offers: gpd.GeoDataFrame) -> None:
    from geo.engine import transit_what_if
    from geo.errors import LimitError

    small = enz.model_copy(deep=True)
    small.transit.stop_matrix_max_bytes = 1_000_000  # the Enzkreis matrix needs 23 MB
    access = TransitAccess(gtfs.load_region_feed(enz, "enzkreis"), small, fixture_offers,
                           date=TUESDAY)
    with pytest.raises(LimitError, match=r"293 stops would take 2[0-9,]+ bytes, more than "
                       r"transit.stop_matrix_max_bytes \(1,000,000\)"):
        transit_what_if.what_if(access, "kita", np.zeros((1, 2)), remove=["fixture-3"],
                                add=[(4_216_650.0, 2_866_350.0)])
