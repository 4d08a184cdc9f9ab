"""The offline base map on the real tiles: build, tiles, labels, pictures and the API."""

from __future__ import annotations

import io
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from geo.products import basemap
from geo.products.basemap import style
from geo.settings import BaseMapSettings, Settings
from geo.sources import tiles

#: Weender Landstraße, Göttingen (a point on it, WGS84) and a view around it
WEENDER = (9.9318, 51.5440)
WEENDER_VIEW = (9.920, 51.538, 9.945, 51.552)
#: place points (WGS84) of the labels test, from the tiles' place layer
DUDERSTADT, GOETTINGEN, HANN_MUENDEN = (10.259, 51.513), (9.935, 51.533), (9.654, 51.417)


def tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Fractional XYZ tile coordinates of a WGS84 point (slippy-map formula)."""
    n = 2.0**z
    return ((lon + 180.0) / 360.0 * n,
            (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)


@pytest.fixture(scope="module")
def built(settings: Settings) -> tuple[Settings, dict]:
    """The base map built into the session's work dir (low zooms pre-drawn up to z10)."""
    s = settings.model_copy(update={"basemap": BaseMapSettings(prebuild_max_zoom=10)})
    return s, basemap.build_basemap(s)


@pytest.fixture(scope="module")
def client(built: tuple[Settings, dict]) -> TestClient:
    return TestClient(create_app(built[0]))  # no lifespan: the base map needs no engine


def test_build_draws_every_low_zoom_tile_over_the_region_and_is_then_current(
        built: tuple[Settings, dict]) -> None:
    s, summary = built
    w, south, e, n = (9.57, 51.38, 10.72, 51.93)  # the region's bbox (settings.GOETTINGEN)
    expected = 0
    for z in range(8, 11):
        x0, y0 = (int(v) for v in tile_xy(w, n, z))
        x1, y1 = (int(v) for v in tile_xy(e, south, z))
        expected += (x1 - x0 + 1) * (y1 - y0 + 1)
    assert summary["tiles"] == expected and summary["zooms"] == [8, 10]
    folder = Path(summary["folder"])
    # tiles above z10 are drawn on request into the same folder (by other tests' servers)
    pngs = [p for p in (folder / "tiles").rglob("*.png")
            if int(p.relative_to(folder / "tiles").parts[0]) <= 10]
    assert len(pngs) == expected
    assert summary["tile_bytes"] == sum(p.stat().st_size for p in pngs)
    assert summary["bytes"] == summary["tile_bytes"] + sum(
        p.stat().st_size for p in folder.glob("*.parquet"))
    assert "Kacheln 2021-08 / 2026-08" in summary["attribution"]
    again = basemap.build_basemap(s)
    assert again["cached"] is True and again["tiles"] == expected


def test_z15_tile_over_goettingen_draws_weender_landstrasse_as_a_primary_road(
        built: tuple[Settings, dict], data_dir: Path) -> None:
    s, _ = built
    z = 15
    fx, fy = tile_xy(*WEENDER, z)
    x, y = int(fx), int(fy)
    image = np.asarray(Image.open(io.BytesIO(basemap.basemap_for(s).tile(z, x, y)))
                       .convert("RGB")).astype(int)
    # the street's own line, decoded independently from the city tiles (2026)
    names = tiles.read_layer(data_dir / "goettingen/osm-tiles", "transportation_name")
    street = names[(tiles.feature_names(names) == "Weender Landstraße")
                   & (names["class"] == "primary")]
    line = shapely.union_all(street.geometry.to_numpy())
    points = [line.interpolate(d) for d in np.linspace(0, line.length, 400)]
    fill = np.array(style.hex_rgb(style.LINES["primary"].colour))
    on_road, seen = 0, 0
    for p in points:
        px, py = tile_xy(p.x, p.y, z)
        col, row = int((px - x) * 256), int((py - y) * 256)
        if 2 <= col < 254 and 2 <= row < 254:
            seen += 1
            on_road += np.abs(image[row, col] - fill).max() <= 12
    assert seen > 50  # the street crosses this tile
    assert on_road / seen > 0.8
    # and the tile has roads elsewhere too: white minor-road pixels
    white = (image == 255).all(axis=2).mean()
    assert white > 0.02


def test_routes_and_markers_keep_3_to_1_against_the_base_map(
        built: tuple[Settings, dict]) -> None:
    s, _ = built
    bm = basemap.basemap_for(s)
    colours: Counter[str] = Counter()
    for z, (lon, lat) in ((10, GOETTINGEN), (12, DUDERSTADT), (15, WEENDER)):
        fx, fy = tile_xy(lon, lat, z)
        image = Image.open(io.BytesIO(bm.tile(z, int(fx), int(fy)))).convert("RGB")
        values, counts = np.unique(np.asarray(image).reshape(-1, 3), axis=0,
                                   return_counts=True)
        colours.update({"#%02x%02x%02x" % tuple(v): int(k)
                        for v, k in zip(values, counts, strict=True)})
    total = sum(colours.values())
    common = [c for c, _ in colours.most_common()]
    covered, dominant = 0, []
    for c in common:  # the colours of 95 % of the pixels
        dominant.append(c)
        covered += colours[c]
        if covered >= 0.95 * total:
            break
    # family-page route, offer-marker rim, marker clusters of the maps
    for route in ("#08519c", "#08306b", "#35424f"):
        assert min(style.contrast_ratio(route, c) for c in dominant) >= 3.0, route


def test_labels_name_the_street_at_z15_and_towns_at_z11(built: tuple[Settings, dict]) -> None:
    s, _ = built
    bm = basemap.basemap_for(s)
    street = [lb for lb in bm.labels(WEENDER_VIEW, 15) if lb.text == "Weender Landstraße"]
    assert street and street[0].kind == "street"
    assert WEENDER_VIEW[0] <= street[0].lon <= WEENDER_VIEW[2]
    assert bm.labels(WEENDER_VIEW, 14) == [] or all(
        lb.kind == "place" for lb in bm.labels(WEENDER_VIEW, 14))  # streets from z15 on
    county = bm.labels((9.57, 51.38, 10.72, 51.93), 11)
    texts = {lb.text for lb in county}
    assert {"Duderstadt", "Göttingen", "Hann. Münden"} <= texts
    near = {lb.text: (lb.lon, lb.lat) for lb in county}
    for name, (lon, lat) in (("Duderstadt", DUDERSTADT), ("Göttingen", GOETTINGEN)):
        assert abs(near[name][0] - lon) < 0.03 and abs(near[name][1] - lat) < 0.03
    assert len(county) <= s.basemap.max_labels


def test_api_serves_tiles_labels_and_script_and_refuses_what_is_out_of_range(
        client: TestClient, built: tuple[Settings, dict]) -> None:
    fx, fy = tile_xy(*GOETTINGEN, 9)
    ok = client.get(f"/basemap/9/{int(fx)}/{int(fy)}.png")
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    assert "max-age=86400" in ok.headers["cache-control"]
    assert Image.open(io.BytesIO(ok.content)).size == (256, 256)
    for path in ("/basemap/7/134/85.png", "/basemap/18/139000/87000.png",
                 f"/basemap/9/{int(fx) + 5}/{int(fy)}.png"):
        gone = client.get(path)
        assert gone.status_code == 404, path
        assert gone.json()["detail"][0]["type"] == "not_found"
    labels = client.get("/basemap/labels", params={"bbox": ",".join(map(str, WEENDER_VIEW)),
                                                   "zoom": 15})
    assert "Weender Landstraße" in [lb["text"] for lb in labels.json()["labels"]]
    bad = client.get("/basemap/labels", params={"bbox": "10,52,9,51", "zoom": 11})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "bbox"]
    # a street-level tile whose areas GEOS' rectangle clipper cannot cut (a 3-point ring)
    hard = client.get("/basemap/15/17288/10893.png")
    assert hard.status_code == 200 and Image.open(io.BytesIO(hard.content)).size == (256, 256)
    js = client.get("/basemap.js")
    assert js.status_code == 200 and "window.erreichbarBaseMap" in js.text
    assert "Kacheln 2021-08 / 2026-08" in js.text and "__BASEMAP_CONFIG__" not in js.text


def test_render_image_gives_a_picture_with_place_names(built: tuple[Settings, dict]) -> None:
    s, _ = built
    png = basemap.render_image(s, (10.15, 51.45, 10.35, 51.58), 600, 400)
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    assert picture.size == (600, 400)
    dark = (np.asarray(picture).max(axis=2) < 80).mean()  # place-name glyphs (#333)
    assert dark > 0.001
    with pytest.raises(ValueError, match="each side"):
        basemap.render_image(s, (10.15, 51.45, 10.35, 51.58), 0, 400)
    with pytest.raises(ValueError, match="west < east"):
        basemap.render_image(s, (10.35, 51.45, 10.15, 51.58), 600, 400)
