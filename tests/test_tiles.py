"""Vector-tile reading and stitching on the real Göttingen tiles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from scipy.sparse.csgraph import dijkstra

from geo.errors import DataError, EmptyResultError
from geo.networks.network import build_graphs
from geo.settings import Settings
from geo.sources import tiles
from geo.sources.ways import Ways

COUNTY = "goettingen/osm-tiles-landkreis-2021"
#: two tiles of Göttingen's Ostviertel; Merkelstraße crosses their common border
WEST, EAST = (8644, 5446), (8645, 5446)


def _tile_of_line(ways: Ways, zoom: int = 14) -> np.ndarray:
    """Index of the tile that holds each line (by the midpoint of its first segment)."""
    first = ways.offsets[:-1]
    lon = (ways.lon[first] + ways.lon[first + 1]) / 2
    lat = (ways.lat[first] + ways.lat[first + 1]) / 2
    n = 2.0**zoom
    tx = np.floor((lon + 180) / 360 * n).astype(np.int64)
    ty = np.floor((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n).astype(np.int64)
    return tx * 100_000 + ty


def unstitched(ways: Ways) -> Ways:
    """The same ways with every node split per tile: what a reader without stitching gives."""
    tile = np.repeat(_tile_of_line(ways), np.diff(ways.offsets))
    _, key = np.unique(np.column_stack([ways.key, tile]), axis=0, return_inverse=True)
    return Ways(ways.lon, ways.lat, key.ravel().astype(np.int64), ways.offsets, ways.attrs,
                ways.source, ways.vintage, ways.built_up)


@pytest.fixture(scope="session")
def county_ways(data_dir: Path, settings: Settings) -> Ways:
    """Stitched transportation lines of the whole county (decode cached in the work dir)."""
    ts = tiles.open_tileset(data_dir / COUNTY)
    return tiles.read_ways(ts, cache_dir=settings.processed_dir / "tiles-cache")


@pytest.fixture(scope="module")
def pair(data_dir: Path) -> tiles.TileSet:
    """The two adjacent real tiles WEST and EAST."""
    full = tiles.open_tileset(data_dir / COUNTY)
    return tiles.TileSet(full.root, 14, (WEST, EAST), full.name, full.version)


def test_open_tileset_counts_the_county_tiles(data_dir: Path) -> None:
    ts = tiles.open_tileset(data_dir / COUNTY)
    assert len(ts.tiles) == 1624
    xs, ys = zip(*ts.tiles, strict=True)
    assert (min(xs), max(xs), min(ys), max(ys)) == (8626, 8678, 5423, 5463)
    assert ts.name == "Tilemaker to OpenMapTiles schema"


def test_pixel_to_lonlat_is_the_exact_web_mercator_inverse() -> None:
    gx = np.array([0.0, 8644 * 4096.0, 8645 * 4096.0 + 1234.5, 2.0**26])
    gy = np.array([0.0, 5446 * 4096.0, 5446 * 4096.0 + 77.25, 2.0**26])
    lon, lat = tiles.pixel_to_lonlat(gx, gy, 14)
    half = np.pi * 6378137.0
    mx, my = gx / 2.0**26 * 2 * half - half, half - gy / 2.0**26 * 2 * half
    elon, elat = Transformer.from_crs(3857, 4326, always_xy=True).transform(mx, my)
    np.testing.assert_allclose(lon, elon, atol=1e-9)
    np.testing.assert_allclose(lat, elat, atol=1e-9)


def test_features_are_clipped_to_their_own_tile(pair: tiles.TileSet) -> None:
    tr = tiles.read_layers(pair, ("transportation",))["transportation"]
    border = (EAST[0]) / 2.0**14 * 360 - 180
    b = tr.geometry.bounds
    west, east = tr.tile_x == WEST[0], tr.tile_x == EAST[0]
    assert (b.maxx[west] <= border + 1e-9).all() and (b.minx[east] >= border - 1e-9).all()


def test_named_street_across_a_tile_border_is_one_connected_path(
        pair: tiles.TileSet, settings: Settings) -> None:
    names = tiles.read_layers(pair, ("transportation_name",))["transportation_name"]
    street = names[names["name:latin"] == "Merkelstraße"]
    assert set(street.tile_x) == {WEST[0], EAST[0]}
    line = shapely.line_merge(street.geometry.union_all())
    assert line.geom_type == "LineString"  # the two halves meet exactly at the border
    ways = tiles.read_ways(pair)
    a, b = line.coords[0], line.coords[-1]

    def dist(w: Ways) -> float:
        net = build_graphs(w, settings, modes=("walk",))["walk"]
        ia = np.argmin(np.hypot(net.lon - a[0], net.lat - a[1]))
        ib = np.argmin(np.hypot(net.lon - b[0], net.lat - b[1]))
        return float(dijkstra(net.csr("length"), indices=ia)[ib])

    street_m = float(street.to_crs(25832).geometry.length.sum())  # metres, both halves
    stitched = dist(ways)
    assert stitched == pytest.approx(street_m, rel=0.02)
    assert np.isinf(dist(unstitched(ways)))  # fails without stitching


def test_county_networks_are_connected_only_with_stitching(
        county_ways: Ways, settings: Settings) -> None:
    off = build_graphs(unstitched(county_ways), settings, modes=("walk",))["walk"]
    assert off.largest_scc_share() < 0.2
    on = build_graphs(county_ways, settings, modes=("walk",))["walk"]
    assert on.largest_scc_share() >= 0.9


def test_bridge_is_not_joined_to_the_road_below(county_ways: Ways) -> None:
    w = county_ways
    line_of = np.repeat(np.arange(w.n_lines), np.diff(w.offsets))
    lines = shapely.linestrings(np.column_stack([w.lon, w.lat]), indices=line_of)
    brunnel = w.attrs["brunnel"].to_numpy()
    bridge = np.flatnonzero(brunnel == "bridge")
    ground = np.flatnonzero((brunnel == "") & (w.attrs["layer"].to_numpy() == 0))
    tree = shapely.STRtree(lines[ground])
    bi, gi = tree.query(lines[bridge], predicate="crosses")
    assert len(bi) >= 50  # roads and paths passing under bridges in the county
    joined_inside = 0
    for b, g in zip(bridge[bi], ground[gi], strict=True):
        keys_b = w.key[w.offsets[b]:w.offsets[b + 1]]
        common = np.isin(keys_b, w.key[w.offsets[g]:w.offsets[g + 1]])
        # a bridge may meet a ground road only at its own ends (the approach), never on
        # the deck above the road it crosses
        joined_inside += int(common[1:-1].any())
    assert joined_inside == 0
    # the control: bridges do meet their approach roads at their ends
    ends = np.concatenate([w.offsets[bridge], w.offsets[bridge + 1] - 1])
    counts = np.bincount(w.key)
    assert (counts[w.key[ends]] > 1).mean() > 0.9


def _fake_tileset(root: Path, content: bytes) -> Path:
    (root / "14" / "8650").mkdir(parents=True)
    (root / "metadata.json").write_text(json.dumps({"name": "fixture", "version": "0"}))
    (root / "14" / "8650" / "5440.pbf").write_bytes(content)
    return root


def test_corrupt_tile_is_a_clear_error(tmp_path: Path) -> None:
    root = _fake_tileset(tmp_path / "tiles", b"\x1a\xff\xff\xff garbage")
    with pytest.raises(DataError, match=r"5440\.pbf: corrupt vector tile"):
        tiles.read_ways(tiles.open_tileset(root))


def test_tiles_without_streets_are_a_clear_error(tmp_path: Path) -> None:
    root = _fake_tileset(tmp_path / "tiles", b"")
    with pytest.raises(EmptyResultError, match="no transportation lines"):
        tiles.read_ways(tiles.open_tileset(root))


def test_missing_tileset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no metadata.json"):
        tiles.open_tileset(tmp_path)
