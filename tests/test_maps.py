"""Map tests on the real data: the HTML holds its layers, attributions and bundled Leaflet,
and the figures drawn equal the engine's."""

from __future__ import annotations

import gzip
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _services import services_for

from geo.engine.access import Accessibility
from geo.networks.snap import to_lonlat
from geo.products import maps
from geo.products.maps import build_maps, class_labels, populated, surface_image
from geo.settings import MapSettings, Settings
from geo.vocabulary import attribution


@pytest.fixture(scope="module")
def engine(settings: Settings, networks: dict) -> Accessibility:
    return services_for(settings).engine


@pytest.fixture(scope="module")
def built(engine: Accessibility, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("maps")
    settings = engine.settings.model_copy(update={"maps": MapSettings(out_dir=out)})
    summary = build_maps(settings, engine, categories=["familienzentrum", "kita"],
                         modes=["walk"])
    return {"summary": summary, "out": out}


def _html(built: dict, name: str) -> str:
    return (built["out"] / name).read_text("utf-8")


def test_build_writes_one_map_per_category_and_mode_plus_white_spots(built: dict) -> None:
    assert built["summary"]["maps"] == ["familienzentrum-walk.html", "kita-walk.html",
                                        "weisse-flecken-walk.html"]
    assert sorted(p.name for p in Path(built["out"]).iterdir()) == built["summary"]["maps"]
    assert maps.map_names(built["out"]) == ["familienzentrum-walk", "kita-walk",
                                            "weisse-flecken-walk"]


def test_travel_time_map_has_its_layers_offline(built: dict, engine: Accessibility) -> None:
    page = _html(built, "familienzentrum-walk.html")
    # nothing to fetch: no external scripts or styles, Leaflet and markercluster inlined
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page)
    assert "L.markerClusterGroup" in page and "L.control.layers" in page
    # the offline base map (tiles, labels, metric scale) through the inlined basemap.js
    assert "window.erreichbarBaseMap(" in page and "L.control.scale()" not in page
    assert "L.control.scale({imperial: false, metric: true})" in page
    assert "Kacheln 2021-08 / 2026-08" in page
    # the legend says the raster is masked to where people live
    assert "Farbig nur bewohnte 100-m-Zellen" in page
    # attributions, German title and legend
    assert attribution(Settings()) in page and "Zensus 2011" in page
    assert "Familienzentrum zu Fuß: Minuten bis zum nächsten Angebot" in page
    for label in class_labels((5, 10, 15, 20, 30, 45, 60)):
        assert f"{label} min" in page
    # layers: surface, Gemeinden with coverage tooltips, offers (active ones, clustered)
    offers = engine.offers
    active = offers[(offers["category"] == "familienzentrum") & (offers["status"] == "active")]
    assert "Fahrzeit (Minuten, 100-m-Raster)" in page
    assert "Gemeinden (Erreichbarkeit)" in page
    assert f"Angebote: Familienzentrum ({len(active)})" in page
    assert page.count("L.circleMarker(") == len(active)
    assert "data:image/png;base64," in page  # the surface image
    # tooltips carry the engine's coverage figures
    table = engine.coverage("gemeinde", "familienzentrum", "walk", (10, 15, 30))
    goe = table.set_index("name").loc["Göttingen"]
    assert f'"Kinder unter 10": {round(goe["children"])}' in page
    assert f'"\\u2264 15 min": "{goe["children_within_15min_share"] * 100:.0f} %"' in page
    # popups: name, Träger and source of a real offer
    popups = [json.loads(p) for p in re.findall(r'bindPopup\(("(?:[^"\\]|\\.)*"), ', page)]
    assert len(popups) == len(active)
    row = active[active["traeger"].notna()].iloc[0]
    assert maps.offer_popup(row) in popups
    assert f"<i>Träger:</i> {html.escape(row['traeger'])}" in maps.offer_popup(row)


def test_white_spot_map_counts_equal_the_engine(built: dict, engine: Accessibility) -> None:
    page = _html(built, "weisse-flecken-walk.html")
    limit = engine.settings.access.white_spot_min
    for category, label in (("familienzentrum", "Familienzentrum"), ("kita", "Kita")):
        cells = engine.cells(category, "walk")
        beyond = int(cells.loc[~(cells["minutes"] <= limit), "children_under_10"].sum())
        assert f"{label}: {beyond} Kinder \\u003e {limit} min" in page
    assert attribution(Settings()) in page and "Zensus 2011" in page


def test_surface_image_colours_cells_by_class() -> None:
    # 3 × 2 cells of 100 m in EPSG:3035 near Göttingen: 4, 12, 70 minutes and unreachable
    x0, y0 = 4_330_050.0, 3_160_050.0
    raster = pd.DataFrame({"x": [x0, x0 + 100, x0 + 200, x0, x0 + 100],
                           "y": [y0, y0, y0, y0 - 100, y0 - 100],
                           "minutes": [4.0, 12.0, 70.0, np.nan, 4.0]})
    image, bounds = surface_image(raster, (5, 10, 15, 20, 30, 45, 60))
    (south, west), (north, east) = bounds
    assert south < north and west < east
    lon, lat = to_lonlat(np.array([x0, x0 + 200]), np.array([y0, y0 - 100]))
    assert (west < lon).all() and (lon < east).all() and (south < lat).all() and (lat < north).all()
    assert east - west < 0.01 and north - south < 0.01  # 300 m × 200 m, not more
    colours = {tuple(int(v) for v in px) for px in image.reshape(-1, 4)}
    expected = {maps._hex_rgba(maps.CLASS_COLOURS[0], 200),
                maps._hex_rgba(maps.CLASS_COLOURS[2], 200),
                maps._hex_rgba(maps.CLASS_COLOURS[7], 200),
                maps._hex_rgba(maps.UNREACHABLE_COLOUR, 160)}
    assert expected <= colours
    assert colours <= expected | {(0, 0, 0, 0)}  # nearest resampling: no mixed colours


def test_travel_time_raster_keeps_only_populated_cells(engine: Accessibility) -> None:
    raster = engine.raster_minutes("kita", "walk")
    kept = populated(engine, raster)
    people = pd.concat([engine.cell_frame(g)[["x", "y"]] for g in ("children", "need")])
    people = people.round().astype(int).drop_duplicates()
    expected = raster[["x", "y"]].round().astype(int).merge(people, on=["x", "y"])
    assert len(kept) == len(expected) > 5000
    assert len(kept) < 0.3 * len(raster)  # forest and fields stay uncoloured


def test_white_spot_map_is_a_small_raster_sent_gzipped(built: dict, engine: Accessibility
                                                       ) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    path = built["out"] / "weisse-flecken-walk.html"
    assert path.stat().st_size < 2_000_000
    page = path.read_text("utf-8")
    limit = engine.settings.access.white_spot_min
    assert page.count("L.imageOverlay(") == 2  # one raster per category, no vector cells
    features = re.findall(r'"type":\s*"Feature"', page)
    assert len(features) == len(engine.units("gemeinde"))
    assert f"mehr als {limit} Minuten bis zum nächsten Angebot der Kategorie" in page
    settings = engine.settings.model_copy(update={"maps": MapSettings(out_dir=built["out"])})
    with TestClient(create_app(settings)).stream(
            "GET", "/maps/weisse-flecken-walk", headers={"Accept-Encoding": "gzip"}) as answer:
        assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
        sent = b"".join(answer.iter_raw())
    assert len(sent) < path.stat().st_size / 3
    assert gzip.decompress(sent).decode("utf-8") == page
