"""Offline address search on the real OSM tiles: normalisation, addresses, streets, places,
suggestions, and the house-number-geocoded family offers found again."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from _services import services_for

from geo.networks.snap import to_metric
from geo.settings import Settings
from geo.sources.geocode import AddressNotFoundError, Geocoder, load_tables, normalise


@pytest.fixture(scope="module")
def geocoder(settings: Settings, networks: dict) -> Geocoder:
    return services_for(settings).geocoder


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    x, y = to_metric(np.array([a[0], b[0]]), np.array([a[1], b[1]]))
    return float(np.hypot(x[0] - x[1], y[0] - y[1]))


@pytest.mark.parametrize(("text", "expected"), [
    ("Weender-Landstr.", "weender landstrasse"),
    ("Groner Straße", "groner strasse"),
    ("groner str 5", "groner strasse 5"),
    ("Hauptstr.", "hauptstrasse"),
    ("  GOETHE-ALLEE  ", "goethe allee"),
    ("Straßenbahnweg", "strassenbahnweg"),
])
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_index_holds_the_county(geocoder: Geocoder) -> None:
    assert len(geocoder.addresses) > 50_000  # 88k house numbers in the 2021 tiles
    assert geocoder.addresses["gemeinde"].nunique() >= 35  # of 40 Gemeinden
    assert {"Göttingen", "Duderstadt", "Osterode am Harz"} <= set(geocoder.places["name"])


def test_tables_are_cached_while_the_data_is_unchanged(geocoder: Geocoder,
                                                       settings: Settings) -> None:
    t0 = time.perf_counter()
    addresses, streets, places = load_tables(settings)  # built by the fixture: now read
    assert time.perf_counter() - t0 < 5
    assert len(list((settings.processed_dir / "goettingen" / "geocode").glob("*/*.parquet"))) == 3
    pd.testing.assert_frame_equal(addresses, geocoder.addresses[addresses.columns])
    assert len(streets) == len(geocoder.streets) and len(places) == len(geocoder.places)


def test_address_with_postcode_and_town(geocoder: Geocoder) -> None:
    found = geocoder.search("Goethe-Allee 10, 37073 Göttingen")
    assert found[0].precision == "address"
    assert found[0].label.startswith("Goethe-Allee 10, ")
    assert found[0].gemeinde == "Göttingen"
    assert _metres((found[0].lon, found[0].lat), (9.9313, 51.5348)) < 100


def test_locality_picks_one_of_many_streets(geocoder: Geocoder) -> None:
    everywhere = geocoder.search("Hauptstraße 5", limit=50)
    assert len({loc.gemeinde for loc in everywhere}) > 3
    rosdorf = geocoder.search("Hauptstr. 5 Rosdorf")
    assert rosdorf and {loc.gemeinde for loc in rosdorf} == {"Rosdorf"}
    assert geocoder.locate("Hauptstraße 5, Rosdorf").gemeinde == "Rosdorf"
    with pytest.raises(AddressNotFoundError, match="ambiguous") as err:
        geocoder.locate("Hauptstraße 5")
    assert len(err.value.suggestions) > 1


def test_street_place_and_missing_number(geocoder: Geocoder) -> None:
    street = geocoder.search("Groner Landstraße")
    assert {loc.precision for loc in street} == {"street"}
    assert {loc.gemeinde for loc in street} == {"Göttingen"}
    assert geocoder.search("Weende")[0].precision == "place"
    fallback = geocoder.search("Weender Landstraße 9999, Göttingen")
    assert fallback[0].precision == "street"


def test_not_found_suggests_close_names(geocoder: Geocoder) -> None:
    with pytest.raises(AddressNotFoundError) as err:
        geocoder.search("Wender Landstrasse 2")
    assert "Weender Landstraße" in err.value.suggestions
    with pytest.raises(AddressNotFoundError):
        geocoder.search("   ")


def test_family_offers_geocoded_by_house_number_are_found_again(
        geocoder: Geocoder, data_dir) -> None:
    """The compiled family offers with precision 'address' were placed on OSM house numbers
    of the same tiles; searching their street, number and town must land on them."""
    offers = pd.read_csv(data_dir / "goettingen" / "offers_familie_sources.csv")
    offers = offers[offers["geocode_precision"] == "address"]
    assert len(offers) >= 4
    for row in offers.itertuples():
        found = geocoder.locate(f"{row.street} {row.housenumber}, {row.town}")
        metres = _metres((found.lon, found.lat), (row.lon, row.lat))
        if found.precision == "address":
            assert metres < 20, (row.name, found)
        else:  # Ritscherstraße 6-8 (two offers): OSM has no number 6 there, only the street
            assert row.street == "Ritscherstraße" and metres < 500
