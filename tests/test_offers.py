"""Offer import (CSV, GeoJSON, XLSX) with full error reports, and the real default catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from geo.settings import REPO_ROOT, Settings
from geo.sources.offers import (
    COLUMNS,
    Category,
    OfferFileError,
    build_catalogue,
    is_hort,
    read_offer_file,
    write_offers,
)

TEMPLATE = REPO_ROOT / "geo" / "sources" / "data" / "offer_template.csv"

#: Hand-made broken offer rows (German headers): (row values, expected field of the error).
#: Row 2 is good, every other row has exactly one defect.
HEADER = ["Name", "Kategorie", "Breite", "Länge", "Öffnungszeiten", "Alter von", "Alter bis"]
ROWS = [
    (["Kita Sonnenschein", "Kita", "51,5339", "9,9356", "Mo-Fr 07:00-16:00", "1", "6"], None),
    (["", "kita", "51.53", "9.93", "", "", ""], "name"),
    (["Treff Nord", "kindergartn", "51.53", "9.93", "", "", ""], "category"),
    (["Beratung Berlin", "beratung", "52.52", "13.40", "", "", ""], "lat/lon"),
    (["Café Kinderwagen", "Frühe Hilfen", "51.53", "9.93", "Mo-Fx 25:00", "", ""], "opening_hours"),
    (["Spielkreis", "freizeit", "51.53", "9.93", "", "6", "3"], "-"),
]


def _write_csv(path: Path) -> Path:
    lines = [";".join(HEADER)] + [";".join(values) for values, _ in ROWS]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _write_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for values, _ in ROWS:
        sheet.append(values)
    book.save(path)
    return path


def _write_geojson(path: Path) -> Path:
    features = []
    for values, _ in ROWS:
        props = dict(zip(HEADER, values, strict=True))
        lat, lon = (float(props.pop(k).replace(",", ".")) for k in ("Breite", "Länge"))
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


@pytest.mark.parametrize("writer, first_row", [
    (_write_csv, 2), (_write_xlsx, 2), (_write_geojson, 1),
])
def test_broken_file_reports_every_row(settings: Settings, tmp_path: Path, writer,
                                       first_row: int) -> None:
    suffix = {"_write_csv": "csv", "_write_xlsx": "xlsx", "_write_geojson": "geojson"}
    path = writer(tmp_path / f"offers.{suffix[writer.__name__]}")
    with pytest.raises(OfferFileError) as info:
        read_offer_file(path, settings)
    expected = [(first_row + i, field) for i, (_, field) in enumerate(ROWS) if field]
    assert [(row, field) for row, field, _ in info.value.problems] == expected
    message = str(info.value)
    unit = "feature" if path.suffix == ".geojson" else "row"
    assert f"5 of {len(ROWS)} {unit}s are bad" in message
    assert f"{unit} {first_row + 2}, field 'category': unknown category 'kindergartn'" in message
    assert "lies 210.9 km outside Landkreis Göttingen (03159)" in message
    assert "Mo-Fx 25:00" in message and "age_from 6.0 is above age_to 3.0" in message


def test_offer_outside_county_is_refused(settings: Settings, tmp_path: Path) -> None:
    """Kassel (Hesse) lies just beyond the county border."""
    path = tmp_path / "kassel.csv"
    path.write_text("name,category,lat,lon\nKita Kassel Mitte,kita,51.3127,9.4797\n", "utf-8")
    with pytest.raises(OfferFileError, match=r"row 2, field 'lat/lon': \(51.3127, 9.4797\) "
                                             r"lies \d+\.\d km outside Landkreis Göttingen"):
        read_offer_file(path, settings)


def test_missing_column_and_unknown_type(settings: Settings, tmp_path: Path) -> None:
    from geo.errors import DataError

    path = tmp_path / "offers.csv"
    path.write_text("Name,Breite,Länge\nX,51.5,9.9\n", "utf-8")
    with pytest.raises(DataError, match="missing column.*category"):
        read_offer_file(path, settings)
    with pytest.raises(DataError, match="unknown offer file type"):
        read_offer_file(path.rename(tmp_path / "offers.ods"), settings)


def test_template_and_round_trip(settings: Settings, tmp_path: Path) -> None:
    offers = read_offer_file(TEMPLATE, settings)
    assert len(offers) == 1 and list(offers.columns) == [*COLUMNS, "geometry"]
    row = offers.iloc[0]
    assert (row.category, row.traeger, row.age_to, row.languages) == \
        ("familienzentrum", "Träger e.V.", 10.0, "de; tr")
    assert row.opening_hours == "Mo-Fr 09:00-12:00; Tu 14:00-17:00"
    assert offers.crs == "EPSG:4326"
    for suffix in ("csv", "geojson"):
        back = read_offer_file(write_offers(offers, tmp_path / f"o.{suffix}"), settings)
        pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                      pd.DataFrame(offers.drop(columns="geometry")),
                                      check_dtype=False)
    parquet = gpd.read_parquet(write_offers(offers, tmp_path / "o.parquet"))
    assert parquet.crs == offers.crs and parquet["name"].tolist() == offers["name"].tolist()


# --- the real default catalogue --------------------------------------------------------

@pytest.fixture(scope="session")
def catalogue(settings: Settings) -> tuple[gpd.GeoDataFrame, dict]:
    return build_catalogue(settings)


def test_schools_one_offer_per_school(catalogue, data_dir: Path) -> None:
    offers, _ = catalogue
    register = pd.read_csv(data_dir / "goettingen" / "schools_jedeschule_2017.csv")
    schools = offers[offers["source"].str.contains("jedeschule")]
    assert len(schools) == register["id"].str.rsplit("-", n=1).str[0].nunique() == 140
    grund = schools[schools["category"] == Category.grundschule]
    stems = register["id"].str.rsplit("-", n=1).str[0]
    assert len(grund) == stems[register["school_type"] == "Grundschule"].nunique() == 78
    assert (schools["geocode_precision"] == "rounded").all()
    assert schools["source_date"].eq("2017").all()


def test_family_offers_keep_status_and_precision(catalogue, data_dir: Path) -> None:
    offers, report = catalogue
    source = pd.read_csv(data_dir / "goettingen" / "offers_familie_sources.csv")
    family = offers[offers["id"].str.startswith("familie-")]
    located = source.dropna(subset=["lat", "lon"])
    assert report["unlocated"] == source.loc[source["lat"].isna(), "name"].tolist()
    assert len(family) == len(located) == 37
    counts = family.groupby(["category", "status"]).size()
    assert counts.to_dict() == located.groupby(["category", "status"]).size().to_dict()
    assert counts[("familienzentrum", "planned")] == 2
    assert counts[("familienzentrum", "closed")] == 1
    assert family["geocode_precision"].tolist() == located["geocode_precision"].tolist()
    osm_only = family["source"].str.startswith("OpenStreetMap POI only")
    assert osm_only.sum() == source["source_url"].isna().sum() == 4


def _raw_kindergartens(settings: Settings) -> list[tuple[str, pd.Series]]:
    """Names of the raw kindergarten POIs of the tiles, own code: 2021 ones outside the city
    tiles and 2026 ones, each inside the county polygon (geopandas sjoin)."""
    from geo.sources.boundaries import load_units
    from geo.sources.tiles import open_tileset, read_layer

    county = load_units(settings, "county").to_crs("EPSG:4326")
    cache = settings.processed_dir / "tiles-cache"
    city_tiles = set(open_tileset(settings.data_dir / "goettingen" / "osm-tiles").tiles)
    out = []
    for folder, vintage in (("osm-tiles-landkreis-2021", "2021-08"), ("osm-tiles", "2026-08")):
        poi = read_layer(settings.data_dir / "goettingen" / folder, "poi", cache_dir=cache)
        kita = poi[poi["subclass"] == "kindergarten"]
        if vintage == "2021-08":
            outside = [(x, y) not in city_tiles
                       for x, y in zip(kita.tile_x, kita.tile_y, strict=True)]
            kita = kita[outside]
        kita = gpd.sjoin(kita, county, predicate="within")
        # names: ``name`` in the OpenMapTiles tiles, ``name:latin`` in tilemaker's
        out.append((vintage, kita["name" if "name" in kita else "name:latin"]))
    return out


def _names_a_hort(name: object, settings: Settings) -> bool:
    """The Hort rule of the settings, applied with ``re`` (own code)."""
    rule = settings.offers
    return (isinstance(name, str) and re.search(rule.hort_pattern, name, re.I) is not None
            and re.search(rule.hort_unless, name, re.I) is None)


def test_tile_pois_merged(catalogue, settings: Settings) -> None:
    offers, report = catalogue
    pois = offers[offers["geocode_precision"] == "poi"
                  ].loc[lambda f: f["source"].str.startswith("OpenStreetMap vector tiles")]
    assert set(pois["category"]) == {"kita", "hort", "freizeit", "gesundheit"}
    assert pois.loc[pois["category"].isin(["kita", "hort"]), "child_specific"].all()
    assert not pois.loc[~pois["category"].isin(["kita", "hort"]), "child_specific"].any()
    assert set(pois["source_date"]) == {"2021-08", "2026-08"}
    changes = report["changes"]
    assert set(changes["change"]) == {"unchanged", "renamed", "only_old", "only_new"}
    # independent count: every kindergarten POI is a kita or (named as a Hort) a hort offer,
    # or a duplicate merged into one (tests/test_offer_quality.py checks the merged pairs)
    dropped = report["merged"].groupby(["category", "dropped_source_date"]).size()
    expected = {"kita": 0, "hort": 0}
    for vintage, names in _raw_kindergartens(settings):
        n_hort = sum(_names_a_hort(n, settings) for n in names)
        n_kita = len(names) - n_hort
        for category, n in (("kita", n_kita), ("hort", n_hort)):
            kept = (pois.loc[pois["category"] == category, "source_date"] == vintage).sum()
            assert kept + dropped.get((category, vintage), 0) == n
            expected[category] += n
    # the 6 Horte (all from the 2026 city tiles) left the Kitas: 210 kita POIs, 216 before;
    # 3 of them are duplicates merged away
    assert (offers["category"] == "hort").sum() == expected["hort"] == 6
    assert (offers["category"] == "kita").sum() + 3 == expected["kita"] == 210


def test_horte_are_not_kitas(catalogue, settings: Settings) -> None:
    """OSM tags Horte as kindergartens: those named as a Hort are ``hort`` offers, and no
    ``kita`` offer is named as one. Mixed houses ("Kindertagesstätte … / …-Hort") stay Kitas;
    the school register (2017) has no Hort at all."""
    offers, _ = catalogue
    kita = offers[offers["category"] == "kita"]
    hort = offers[offers["category"] == "hort"]
    assert not any(_names_a_hort(n, settings) for n in kita["name"])
    assert all(_names_a_hort(n, settings) for n in hort["name"])
    raw = [n for _, names in _raw_kindergartens(settings) for n in names
           if _names_a_hort(n, settings)]
    assert len(hort) == len(raw) > 0
    assert sorted(hort["name"]) == sorted(raw)
    assert set(hort["subcategory"]) == {"kindergarten"} and hort["child_specific"].all()
    assert "Hort an der Hainbundschule" in set(hort["name"])
    mixed = kita["name"].str.contains("Hort", case=False)
    assert all(re.search(settings.offers.hort_unless, n, re.I) for n in kita.loc[mixed, "name"])
    # the 2021 tiles' mixed house (replaced by the 2026 tiles in the catalogue) and the rule
    names = pd.Series(["Kindertagesstätte Weende-Nord / AWO Hainbund-Hort", "Hortgruppe GDA",
                       "Kinderhort Sonnenschein", "Spielkreis Hortensienweg", None])
    assert is_hort(names, settings).tolist() == [False, True, True, False, False]
    schools = offers[offers["id"].str.startswith("NI-")]
    assert set(schools["category"]) == {"grundschule", "schule"}


def test_catalogue_is_complete_and_traceable(catalogue) -> None:
    offers, _ = catalogue
    assert offers["id"].is_unique
    assert offers["source"].str.len().gt(0).all()
    assert offers.crs == "EPSG:4326" and list(offers.columns) == [*COLUMNS, "geometry"]
    assert set(offers["status"]) == {"active", "planned", "closed"}


def test_xlsx_numeric_cells(settings: Settings, tmp_path: Path) -> None:
    """Excel stores numbers as numbers: postcodes stay text, places stay integers."""
    book = openpyxl.Workbook()
    book.active.append(["Name", "Kategorie", "Breite", "Länge", "PLZ", "Plätze", "Alter von"])
    book.active.append(["Kita X", "Kita", 51.5339, 9.9356, 37073, 45, 1])
    book.save(tmp_path / "numbers.xlsx")
    row = read_offer_file(tmp_path / "numbers.xlsx", settings).iloc[0]
    assert (row.postcode, row.capacity, row.age_from, row.lat) == ("37073", 45, 1.0, 51.5339)


def test_own_offer_list_joins_the_catalogue_everywhere(settings: Settings, catalogue,
                                                       tmp_path: Path) -> None:
    """A county's own list named in the settings reaches every consumer of load_offers."""
    from geo.sources.offers import load_offers

    own = tmp_path / "angebote.csv"
    own.write_text(";".join(HEADER) + "\n" + ";".join(ROWS[0][0]) + "\n", "utf-8")
    with_own = settings.model_copy(
        update={"offers": settings.offers.model_copy(update={"own_file": own})})
    merged = load_offers(with_own)
    assert len(merged) == len(catalogue[0]) + 1
    added = merged.iloc[-1]
    assert added["name"] == "Kita Sonnenschein" and added["category"] == "kita"
    assert added.geometry.y == pytest.approx(51.5339) and added.geometry.x == pytest.approx(9.9356)
