"""GTFS-Flex zones and booking rules on a HAND-MADE FIXTURE (tests/fixtures/gtfs_flex_fixture,
invented, labelled as such): neither real feed in the data directory carries Flex."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from geo.errors import DataError
from geo.networks.snap import to_metric
from geo.settings import Settings
from geo.sources import gtfs

FIXTURE = Path(__file__).parent / "fixtures" / "gtfs_flex_fixture"
TUESDAY = dt.date(2025, 3, 11)


def xy(lon: float, lat: float) -> tuple[float, float]:
    x, y = to_metric(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


@pytest.fixture(scope="module")
def feed(settings: Settings) -> gtfs.Feed:
    return gtfs.load_feed(FIXTURE, settings)


def test_zone_rows_set_aside_fixed_trip_kept(feed: gtfs.Feed) -> None:
    summary = feed.summary()
    assert (summary["flex_zone_trips"], summary["booking_rules"]) == (2, 2)
    assert set(feed.stop_times.trip_id) == {"FIXTURE-T1"}  # the scan routes the fixed trip
    assert summary["trips"] == 3 and summary["stop_times"] == 2


def test_booked_ride_by_window_and_lead_time(feed: gtfs.Feed) -> None:
    assert feed.flex is not None
    active = feed.active_services(TUESDAY)
    a, b = xy(8.5765, 48.9011), xy(8.6037, 48.8953)  # both inside the fixture zone
    (ride,) = feed.flex.options(active, a, b, TUESDAY, 9 * 3600)
    assert (ride["route"], ride["trip"], ride["window"]) == ("FIX Rufbus", "FIXTURE-F1",
                                                            "08:00–12:00")
    assert ride["booking_required"] and ride["book_by"] == "2025-03-11T08:00:00"
    assert ride["note"] == "Anmeldung nötig: bis 11.03.2025 08:00 (+49 000 0000000 (invented))"
    (late,) = feed.flex.options(active, a, b, TUESDAY, 15 * 3600)
    assert late["trip"] == "FIXTURE-F2" and late["book_by"] == "2025-03-10T17:00:00"
    assert feed.flex.options(active, a, b, TUESDAY, 13 * 3600) == []  # between windows
    assert feed.flex.options(active, a, xy(8.70, 48.89), TUESDAY, 9 * 3600) == []  # outside
    sunday = feed.active_services(dt.date(2025, 3, 16))
    assert feed.flex.options(sunday, a, b, dt.date(2025, 3, 16), 9 * 3600) == []


@pytest.mark.parametrize(("name", "old", "new", "message"), [
    ("booking_rules.txt", "FIXTURE-same-day-60,1,60,", "FIXTURE-same-day-60,1,,",
     r"booking_rules.txt line 2: booking_type 1 needs prior_notice_duration_min"),
    ("booking_rules.txt", "FIXTURE-prior-day,2,", "FIXTURE-prior-day,5,",
     r"booking_rules.txt line 3: booking_type '5' is not 0, 1 or 2"),
    ("stop_times.txt", ",FIXTURE-zone-keltern,1,14:00:00", ",FIXTURE-nowhere,1,14:00:00",
     r"stop_times.txt line 6: location_id 'FIXTURE-nowhere' is not in locations.geojson"),
    ("stop_times.txt", "1,08:00:00,12:00:00", "1,8h,12:00:00",
     r"stop_times.txt line 4: start_pickup_drop_off_window '8h' is not HH:MM:SS"),
])
def test_broken_flex_names_file_line_field(settings: Settings, tmp_path: Path, name: str,
                                           old: str, new: str, message: str) -> None:
    broken = tmp_path / "feed"
    shutil.copytree(FIXTURE, broken)
    text = (broken / name).read_text("utf-8")
    assert old in text
    (broken / name).write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(DataError, match=message):
        gtfs.load_feed(broken, settings)
