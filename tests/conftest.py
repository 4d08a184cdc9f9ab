"""Shared fixtures: the real data directory and settings pointed at a temp work dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.services import Services
from geo.engine.access import Accessibility
from geo.products.chain import ChainData
from geo.settings import Settings

#: the real gtfs.de long-distance feed clipped to the county (data README)
FV_FEED = "germany/gtfs/gtfsde_fernverkehr_goettingen_2025-11.zip"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory (../shared/data beside the repo, or ERREICHBAR_DATA_DIR)."""
    d = Settings().data_dir
    if not (d / "README.md").exists():
        pytest.fail(f"data directory {d} not found: put ../shared beside the repository")
    return d


@pytest.fixture(scope="session")
def settings(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the real data with a session-wide temporary work dir."""
    return Settings(data_dir=data_dir, work_dir=tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="session")
def networks(settings: Settings) -> dict:
    """The county walk/bike/car networks built from the real tiles into the temp work dir
    (≈20 s once per session), loaded back from their stored arrays."""
    from geo.networks import network
    from geo.vocabulary import STREET_MODES

    network.build_networks(settings)
    return {mode: network.load_network(settings, mode) for mode in STREET_MODES}


@pytest.fixture(scope="session")
def basemap_settings(settings: Settings) -> Settings:
    """``settings`` with the offline base map built into the session's work dir (tiles
    pre-drawn up to z10, the rest drawn on request; ≈ 2–3 min once per session)."""
    from geo.products.basemap import build_basemap
    from geo.settings import BaseMapSettings

    built = settings.model_copy(update={"basemap": BaseMapSettings(prebuild_max_zoom=10)})
    build_basemap(built)
    return built


@pytest.fixture(scope="session")
def services(settings: Settings, networks: dict) -> Services:
    """The county's API services on the real data (engine, offers, address index), loaded
    once per session and shared by the API, map, chain and browser tests."""
    from _services import services_for

    return services_for(settings)


@pytest.fixture(scope="session")
def acc(services: Services) -> Accessibility:
    """The county's engine on the real data, the one the session's API services hold: its
    surfaces and nearest tables are computed once for every module that reads them."""
    return services.engine


@pytest.fixture(scope="session")
def chain_data(services: Services) -> ChainData:
    """The session's prevention-chain figures (the API's too): matrices computed once."""
    return services.chain()


@pytest.fixture(scope="session")
def fv_settings(settings: Settings, basemap_settings: Settings, networks: dict,
                tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The county with the real gtfs.de long-distance feed stored as its timetable.

    ``germany/gtfs/gtfsde_fernverkehr_goettingen_2025-11.zip`` (ICE/IC; in the county it
    serves only Göttingen station), on a work dir linked to the session's built data
    (:func:`linked_work`), with the base map.
    """
    from _services import linked_work

    from geo.sources import geocode, gtfs

    geocode.load_tables(settings)  # the address index, built once and linked
    s = linked_work(basemap_settings, tmp_path_factory.mktemp("fv"))
    feed = gtfs.load_feed(settings.data_dir / FV_FEED, s, region="goettingen")
    gtfs.store_feed(feed, s, "goettingen")
    return s
