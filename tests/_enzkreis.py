"""The Enzkreis as the API serves it: a timetable but no street network (shared test helper).

Region ``enzkreis`` has the real VPE feed (``germany/gtfs/vpe_enzkreis_2025.zip``, loaded as
a user would with ``gtfs load --region enzkreis``), VG5000 boundaries and the Zensus grids,
but no vector tiles, so no street networks, address index or base map, and no offers:
``tests/fixtures/offers_enzkreis_fixture.csv`` holds three TEST offers placed at real stops
(given as the county's own offer list). Only travel times and names from the feed are
asserted, never facts about the offers.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pandas as pd

from api.services import Services
from geo.settings import OfferSettings, Settings, TransitSettings
from geo.sources import gtfs

VPE = "germany/gtfs/vpe_enzkreis_2025.zip"
FIXTURE = Path(__file__).parent / "fixtures" / "offers_enzkreis_fixture.csv"
TUESDAY = dt.date(2025, 3, 11)  # school-day timetable; fixture-1 opens Tu 09:00-11:00
#: A home in Dietlingen (Keltern), WGS84; bus 720 runs from here to Ellmendingen, where the
#: fixture Familienzentrum sits at the stop Ellmendingen Pforzheimer Str.
HOME = (8.6030, 48.8957)


def enzkreis_services(data_dir: Path, work_dir: Path) -> Services:
    """The API services of the Enzkreis with the VPE feed stored as its timetable."""
    s = Settings(data_dir=data_dir, work_dir=work_dir, region="enzkreis",
                 transit=TransitSettings(date=TUESDAY), offers=OfferSettings(own_file=FIXTURE))
    gtfs.store_feed(gtfs.load_feed(data_dir / VPE, s, region="enzkreis"), s, "enzkreis")
    return Services.load(s)


def feed_table(data_dir: Path, name: str) -> pd.DataFrame:
    """A table of the original feed file, read as text (independent of geo.sources.gtfs)."""
    with zipfile.ZipFile(data_dir / VPE) as archive:
        return pd.read_csv(io.BytesIO(archive.read(f"{name}.txt")), dtype=str,
                           keep_default_na=False)


def service_days(data_dir: Path) -> set[dt.date]:
    """Days on which the VPE feed runs any trip, read from its calendar_dates.txt (the feed
    has no calendar.txt; each of its rows adds a day)."""
    table = feed_table(data_dir, "calendar_dates")
    assert set(table["exception_type"]) == {"1"}, "a removed day: read calendar.txt too"
    return {dt.datetime.strptime(d, "%Y%m%d").date() for d in table["date"]}
