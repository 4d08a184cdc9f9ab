"""``erreichbar layers download``: Zensus 2022 grids from Destatis, never the network here.

The answers are FIXTURES built in this file: tiny zips in the layout Destatis publishes
(``GITTER_ID_<res>;x_mp_<res>;y_mp_<res>;<values>[;werterlaeuternde_Zeichen]``, ``–`` for a
suppressed value, Windows-1252 or UTF-8), at real cell centres of Landkreis Göttingen taken
from the county extracts of the data directory. Their counts are made up for the test.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import DataError, LimitError
from geo.settings import CensusSettings, LimitSettings, Settings
from geo.sources import census_download
from geo.sources.boundaries import load_units
from geo.sources.census_download import FEATURES, download_census
from geo.sources.population import census_dir, read_children_100m

BASE = "https://www.destatis.de/static/DE/zensus/gitterdaten"
AGES = ["Unter10", "a10bis19", "a20bis29", "a30bis39", "a40bis49", "a50bis59", "a60bis69",
        "a70bis79", "a80undaelter"]
FAMILY_TYPES = [f"Typ{i}" for i in range(1, 14)]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _grid_rows(frame: pd.DataFrame, size: int, values: list[list[str]]) -> list[str]:
    """``GITTER_ID;x;y;values…`` lines at the frame's real cell centres (x_3035, y_3035)."""
    half = size // 2
    return [f"CRS3035RES{size}mN{y - half}E{x - half};{x};{y};" + ";".join(v)
            for x, y, v in zip(frame["x_3035"], frame["y_3035"], values, strict=True)]


@pytest.fixture(scope="module")
def answers(data_dir: Path) -> dict[str, bytes]:
    """FIXTURE archives per URL, at real Göttingen cells (made-up counts)."""
    km = pd.read_csv(data_dir / "goettingen" / "zensus2011_einwohner_1km.csv")
    km = km[km["einwohner"] > 0].head(3)
    hm = pd.read_csv(data_dir / "goettingen" / "zensus2011_alter_10jg_1_100m.csv").head(4)
    people = "\n".join(["GITTER_ID_1km;x_mp_1km;y_mp_1km;Einwohner",
                        *_grid_rows(km, 1000, [["1.234"], ["–"], ["87"]])]) + "\n"
    ages = [["40", "7", *["3"] * 8, ""], ["12", "–", *["–"] * 8, ""],
            ["25", "4", *["3"] * 8, "KLAMMERN"], ["9", "3", *["–"] * 8, ""]]
    age_csv = "\n".join([";".join(["GITTER_ID_100m", "x_mp_100m", "y_mp_100m",
                                   "Insgesamt_Bevoelkerung", *AGES, "werterlaeuternde_Zeichen"]),
                         *_grid_rows(hm, 100, ages)]) + "\n"
    types = ["5", "8", "3", "–", "–", "–", "4", "3", "–", "–", "–", "6", "–"]  # codes 1–13
    families = [["29", *types]] * 4
    family_csv = "\n".join([";".join(["GITTER_ID_100m", "x_mp_100m", "y_mp_100m",
                                      "Insgesamt_Familien", *FAMILY_TYPES]),
                            *_grid_rows(hm, 100, families)]) + "\n"
    return {
        f"{BASE}/Zensus2022_Bevoelkerungszahl.zip": _zip({
            "Zensus2022_Bevoelkerungszahl_100m-Gitter.csv": b"not used\n",
            "Zensus2022_Bevoelkerungszahl_1km-Gitter.csv": people.encode("utf-8"),
            "Zensus2022_Bevoelkerungszahl_10km-Gitter.csv": b"not used\n"}),
        f"{BASE}/Alter_in_10er-Jahresgruppen.zip": _zip({  # Windows-1252: '–' is byte 0x96
            "Zensus2022_Alter_in_10er-Jahresgruppen_100m-Gitter.csv": age_csv.encode("cp1252")}),
        f"{BASE}/Typ_der_Kernfamilie_nach_Kindern.zip": _zip({
            "Zensus2022_Typ_der_Kernfamilie_nach_Kindern_100m-Gitter.csv":
                family_csv.encode("utf-8")}),
    }


class Server:
    """A mock Destatis: 200 with an ETag, 304 when the client sends that ETag back."""

    def __init__(self, answers: dict[str, bytes], etag: str = '"v1"') -> None:
        self.answers = dict(answers)
        self.etag = etag
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = self.answers.get(str(request.url))
        if body is None:
            return httpx.Response(404)
        if request.headers.get("if-none-match") == self.etag:
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={
            "ETag": self.etag, "Last-Modified": "Wed, 01 Oct 2025 08:00:00 GMT"})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


@pytest.fixture()
def settings2022(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"work_dir": tmp_path / "work",
                                       "census": CensusSettings(name="zensus2022")})


def test_download_converts_to_the_2011_layout(settings2022: Settings, answers) -> None:
    server = Server(answers)
    names = ["Einwohner", "ALTER_10JG", "FAMTYP_KIND"]
    result = download_census(settings2022, names, client=server.client())
    folder = settings2022.raw_dir / "zensus2022"
    assert result.cached == dict.fromkeys(names, False)
    assert result.summary()["paths"]["FAMTYP_KIND"] == [
        str(folder / f"families_FAMTYP_KIND_{c}.parquet") for c in (2, 5, 8, 10, 12)]
    assert result.bytes["Einwohner"] == len(answers[f"{BASE}/Zensus2022_Bevoelkerungszahl.zip"])
    people = pd.read_parquet(folder / "continuous_Einwohner.parquet")
    assert people.columns.tolist() == ["Einwohner", "x", "y"]
    assert people["Einwohner"].tolist() == [1234, -1, 87]  # thousands dot; '–' = -1
    ages = pd.read_parquet(folder / "demography_ALTER_10JG_1.parquet")
    assert ages.columns.tolist() == ["value", "quality", "x", "y"]
    assert ages["value"].tolist() == [7, 4, 3]  # the suppressed cell is left out
    assert ages["quality"].tolist() == [0, 1, 0]  # KLAMMERN
    assert (ages["x"] % 100 == 50).all() and str(ages["x"].dtype) == "int32"
    single_mothers = pd.read_parquet(folder / "families_FAMTYP_KIND_12.parquet")
    assert single_mothers["value"].tolist() == [6] * 4  # the 12th category column
    assert pd.read_parquet(folder / "families_FAMTYP_KIND_2.parquet")["value"].sum() == 32
    assert pd.read_parquet(folder / "families_FAMTYP_KIND_5.parquet").empty  # all '–'
    done = json.loads((folder / "Typ_der_Kernfamilie_nach_Kindern.zip.converted.json")
                      .read_text("utf-8"))
    assert done["columns"] == {"2": "Typ2", "5": "Typ5", "8": "Typ8", "10": "Typ10",
                               "12": "Typ12"}


def test_second_call_revalidates_and_keeps_the_cache(settings2022: Settings, answers) -> None:
    server = Server(answers)
    download_census(settings2022, ["Einwohner"], client=server.client())
    target = settings2022.raw_dir / "zensus2022" / "continuous_Einwohner.parquet"
    before = target.stat().st_mtime_ns
    again = download_census(settings2022, ["Einwohner"], client=server.client())
    assert again.cached == {"Einwohner": True}
    conditional = server.requests[-1].headers
    assert conditional["if-none-match"] == '"v1"'
    assert conditional["if-modified-since"] == "Wed, 01 Oct 2025 08:00:00 GMT"
    assert target.stat().st_mtime_ns == before  # not converted again
    forced = download_census(settings2022, ["Einwohner"], client=server.client(), force=True)
    assert forced.cached == {"Einwohner": False}
    assert "if-none-match" not in server.requests[-1].headers
    server.etag = '"v2"'  # Destatis republishes: downloaded again
    assert download_census(settings2022, ["Einwohner"],
                           client=server.client()).cached == {"Einwohner": False}


def test_offline_uses_the_cache(settings2022: Settings, answers) -> None:
    download_census(settings2022, ["Einwohner"], client=Server(answers).client())

    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no network", request=request)

    client = httpx.Client(transport=httpx.MockTransport(offline))
    assert download_census(settings2022, ["Einwohner"], client=client).cached == {
        "Einwohner": True}


def test_corrupt_zip_names_the_url(settings2022: Settings, answers) -> None:
    url = f"{BASE}/Zensus2022_Bevoelkerungszahl.zip"
    server = Server({url: answers[url][: len(answers[url]) // 2]})  # a cut-off transfer
    with pytest.raises(DataError, match=f"{url}: the download is not a valid zip archive"):
        download_census(settings2022, ["Einwohner"], client=server.client())
    assert not (settings2022.raw_dir / "zensus2022" / "Zensus2022_Bevoelkerungszahl.zip").exists()


def test_an_archive_over_the_size_cap_is_refused(settings2022: Settings, answers) -> None:
    url = f"{BASE}/Zensus2022_Bevoelkerungszahl.zip"
    size = len(answers[url])
    capped = settings2022.model_copy(update={
        "limits": LimitSettings(census_download_max_bytes=size - 1)})
    with pytest.raises(LimitError, match=f"{size - 1:,} allowed .*census_download_max_bytes"):
        download_census(capped, ["Einwohner"], client=Server(answers).client())
    assert not (settings2022.raw_dir / "zensus2022" / "Zensus2022_Bevoelkerungszahl.zip").exists()


def test_unexpected_layout_and_unknown_feature(settings2022: Settings, answers) -> None:
    url = f"{BASE}/Typ_der_Kernfamilie_nach_Kindern.zip"
    twelve = _zip({"Familien_100m-Gitter.csv":
                   b"GITTER_ID_100m;x_mp_100m;y_mp_100m;" + ";".join(FAMILY_TYPES[:12]).encode()
                   + b"\nCRS3035RES100mN3150000E4330000;4330050;3150050;" + b"3;" * 11 + b"3\n"})
    with pytest.raises(DataError, match="expected 13 value column.*found 12"):
        download_census(settings2022, ["FAMTYP_KIND"], client=Server({url: twelve}).client())
    with pytest.raises(DataError, match="unknown census feature.*'Kinder'"):
        download_census(settings2022, ["Kinder"], client=Server(answers).client())
    assert set(FEATURES) == {"Einwohner", "unter18_A", "Auslaender_A", "HHGroesse_D",
                             "Leerstandsquote", "ALTER_10JG", "FAMTYP_KIND", "STAATSANGE_KURZ"}


def test_zensus2022_is_read_from_the_download(settings2022: Settings, answers,
                                              data_dir: Path) -> None:
    """With census.name = zensus2022 the readers take the converted Destatis files."""
    assert census_dir(settings2022) == settings2022.raw_dir / "zensus2022"
    download_census(settings2022, ["ALTER_10JG"], client=Server(answers).client())
    cells = read_children_100m(census_dir(settings2022), load_units(settings2022, "gemeinde"))
    expected = pd.read_csv(data_dir / "goettingen" / "zensus2011_alter_10jg_1_100m.csv").head(4)
    assert cells["children_under_10"].sum() == 14 and len(cells) == 3
    assert set(cells["x"]) <= set(expected["x_3035"])
    assert settings2022.census.title == "Zensus 2022"


def test_cli_prints_the_summary(settings2022: Settings, answers,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server(answers)

    def make(_settings: Settings) -> httpx.Client:
        return server.client()

    monkeypatch.setattr(census_download, "make_client", make)
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(settings2022.work_dir))
    result = CliRunner().invoke(app, ["layers", "download", "--feature", "Einwohner"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"features", "paths", "bytes", "cached"}
    assert summary["features"] == ["Einwohner"] and summary["cached"] == {"Einwohner": False}
    assert summary["paths"]["Einwohner"][0].endswith("zensus2022/continuous_Einwohner.parquet")
