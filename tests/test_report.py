"""Mobility reports on the real data: every number in the HTML is the engine's, the PDF has
its pages and renders, the county overview matches the unit coverage tables."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.cli import app
from geo.engine.access import Accessibility
from geo.errors import RegionError
from geo.products import report, siting, transition
from geo.settings import Settings
from geo.vocabulary import Category, Status

UNIT = "031590029"  # Einheitsgemeinde Rosdorf: Kitas, 2 Grundschulen, a Familienzentrum
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # the overview's date stamp


class Numbers(HTMLParser):
    """Collects ``data-key`` → (``data-value``, visible text) of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-key" in a:
            self._open.append((tag, str(a["data-key"]), str(a["data-value"]), []))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][3].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, key, value, text = self._open.pop()
            assert key not in self.found, f"duplicate key {key}"
            self.found[key] = (value, "".join(text).strip())


def numbers(html: str) -> dict[str, tuple[str, str]]:
    parser = Numbers()
    parser.feed(html)
    return parser.found


@pytest.fixture(scope="module")
def data(acc: Accessibility) -> report.ReportData:
    return report.ReportData(acc)


@pytest.fixture(scope="module")
def written(settings: Settings, acc: Accessibility, tmp_path_factory: pytest.TempPathFactory
            ) -> dict:
    """``write_reports`` for Rosdorf (HTML): its summary."""
    return report.write_reports(settings, ["Rosdorf"], fmt_="html",
                                out=tmp_path_factory.mktemp("reports"), acc=acc)


@pytest.fixture(scope="module")
def html(written: dict) -> str:
    return Path(written["files"][0]).read_text("utf-8")


def test_files_and_transition_csv(written: dict) -> None:
    out = Path(written["files"][0]).parent
    assert written["units"] == [UNIT]
    assert written["files"] == [str(out / f"rosdorf{s}") for s in (
        ".html", "_uebergang_kitas.csv", "_uebergang_kinder.csv")]
    kitas = pd.read_csv(out / "rosdorf_uebergang_kitas.csv")
    assert set(kitas["mode"]) == {"walk", "bike", "car"}
    assert kitas.groupby("kita_id").size().eq(3).all()
    children = pd.read_csv(out / "rosdorf_uebergang_kinder.csv", dtype={"unit_ags": str})
    assert children["affected"].all() and (children["unit_ags"] == UNIT).all()


def _priority_expect(acc: Accessibility, unit_children: float) -> dict[str, tuple]:
    """Priority rows of the unit's Gemeinden, from the engine's need-weighted coverage."""
    expect: dict[str, tuple] = {}
    gemeinden = acc.units("gemeinde")
    need = acc.cell_frame("need")
    for ags in gemeinden.loc[gemeinden["unit_ags"] == UNIT, "ags"]:
        mine = need[need["gemeinde_ags"] == ags]
        single, families = mine["single_parent_families"].sum(), \
            mine["families_with_minors"].sum()
        expect[f"prio|{ags}|children"] = (unit_children, "int")
        expect[f"prio|{ags}|single_parents"] = (single, "int")
        expect[f"prio|{ags}|single_parent_share"] = (single / families, "pct")
        beyond = 0.0
        for c in ("kita", "grundschule", "familienzentrum"):
            for m in ("walk", "bike"):
                t = acc.coverage("gemeinde", c, m, minutes=[15],
                                 weight="single_parent_families").set_index("ags").loc[ags]
                expect[f"prio|{ags}|{c}|{m}"] = (
                    t["single_parent_families_within_15min_share"], "pct")
                beyond += t["single_parent_families_beyond_15min"]
        expect[f"prio|{ags}|unreached"] = (beyond / 6, "int")
    return expect


def _key_expect(acc: Accessibility, unit: str) -> dict[str, tuple]:
    """Page 1: white-spot children and shares by the one definition, ranks among the units
    recomputed from the engine's unit coverage (sorted here, 1 = largest share within)."""
    s = acc.settings.access
    expect: dict[str, tuple] = {}
    for c in acc.settings.report.map_categories:
        t = acc.coverage("unit", c, s.white_spot_mode, minutes=[s.white_spot_min]).set_index("ags")
        within = t[f"children_within_{s.white_spot_min}min_share"]
        beyond = t.loc[unit, f"children_beyond_{s.white_spot_min}min"]
        expect[f"key|{c}|beyond"] = (beyond, "int")
        expect[f"key|{c}|beyond_share"] = (beyond / t.loc[unit, "children"], "pct")
        expect[f"key|{c}|within_share"] = (within.loc[unit], "pct")
        expect[f"key|{c}|rank"] = (1 + int((within > within.loc[unit]).sum()), "int")
    return expect


def _quality_expect(acc: Accessibility) -> dict[str, tuple]:
    """Kitas per 100 children of the unit's Gemeinden, counted here from the catalogue."""
    gem = transition.offer_gemeinden(acc)
    offers = acc.offers
    kitas = offers[(offers["category"] == "kita") & (offers["status"] == "active")]
    per = gem.loc[kitas["id"]].value_counts()
    children = acc.cell_frame("children").groupby("gemeinde_ags")["children_under_10"].sum()
    gemeinden = acc.units("gemeinde")
    ratio = 100 * per.reindex(gemeinden["ags"]).fillna(0) / children.reindex(gemeinden["ags"])
    expect: dict[str, tuple] = {"q|median": (float(ratio.median()), "dec")}
    for ags in gemeinden.loc[gemeinden["unit_ags"] == UNIT, "ags"]:
        expect[f"q|{ags}|children"] = (children.loc[ags], "int")
        expect[f"q|{ags}|kitas"] = (per.get(ags, 0), "int")
        expect[f"q|{ags}|ratio"] = (ratio.loc[ags], "dec")
    return expect


def _partner_expect(acc: Accessibility) -> dict[str, tuple]:
    """Partners of the unit's active Familienzentren: every partner offer whose nearest
    Familienzentrum (k = 1 by the actor mode) the centre is, and the minutes of the nearest."""
    from geo.products.actors import partners

    mode = acc.settings.chain.actor_mode
    table = partners(acc)
    table = table[table["mode"] == mode]
    gem = transition.offer_gemeinden(acc)
    unit_of = acc.units("gemeinde").set_index("ags")["unit_ags"]
    offers = acc.offers
    centres = offers[(offers["category"] == "familienzentrum") & (offers["status"] == "active")
                     & (gem.loc[offers["id"]].map(unit_of) == UNIT).to_numpy()]
    assert len(centres) >= 1  # Rosdorf has a Familienzentrum
    expect: dict[str, tuple] = {}
    for fz in centres["id"]:
        mine = table[table["fz_id"] == fz].sort_values("minutes")
        expect[f"fz|{fz}|partners"] = (len(mine), "int")
        for p in mine.head(acc.settings.report.partner_rows).itertuples():
            near = acc.nearest_many(offers.set_index("id").loc[[p.offer_id], "lon"].to_numpy(),
                                    offers.set_index("id").loc[[p.offer_id], "lat"].to_numpy(),
                                    "familienzentrum", mode, k=1)
            assert near["offer_id"].iloc[0] == fz
            expect[f"fz|{fz}|{p.offer_id}|min"] = (near["minutes"].iloc[0], "min")
    return expect


def _chain_keys_are_the_matrix(acc: Accessibility, found: dict) -> set[str]:
    """The chain section's shares are the chain matrix's (tests/test_chain.py checks the
    matrix against the engine's cells); return their keys."""
    from geo.products.chain import ChainData

    mode = acc.settings.chain.map_mode
    matrix = ChainData(acc).matrix(mode)
    keys = {k for k in found if k.startswith("chain|")}
    gemeinden = acc.units("gemeinde")
    own = set(gemeinden.loc[gemeinden["unit_ags"] == UNIT, "ags"])
    assert {k.split("|")[1] for k in keys} == own and keys
    for key in keys:
        _, ags, stage, m = key.split("|")
        row = matrix[(matrix["gemeinde_ags"] == ags) & (matrix["stage"] == stage)]
        assert m == mode and float(found[key][0]) == float(row["reach_share"].iloc[0])
    return keys


def test_every_number_is_the_engines(acc: Accessibility, html: str) -> None:
    found = numbers(html)
    settings = acc.settings
    th = settings.report.thresholds_min
    white = settings.access.white_spot_min
    focus = settings.access.white_spot_mode
    levels = ("unit", "county", "youth_office")
    cov = {(c, m, lv): acc.coverage(lv, c, m, minutes=th).set_index("ags")
           for c in settings.report.categories for m in ("walk", "bike", "car") for lv in levels}

    def row(c: str, m: str, lv: str) -> pd.Series:
        t = cov[(c, m, lv)]
        return t.loc[UNIT] if lv == "unit" else t.iloc[0]

    expect: dict[str, tuple[float, str]] = {}
    cells_1km = acc.cell_frame("inhabitants")
    expect["pop|inhabitants"] = (cells_1km.loc[cells_1km["unit_ags"] == UNIT,
                                               "inhabitants"].sum(), "int")
    for lv in levels:
        expect[f"pop|children|{lv}"] = (row("kita", "walk", lv)["children"], "int")
    # offers: the Gemeinde of each offer (polygon or nearest), its unit
    gem = transition.offer_gemeinden(acc)
    unit_of = acc.units("gemeinde").set_index("ags")["unit_ags"]
    offers = acc.offers.assign(unit=gem.map(unit_of).to_numpy())
    counts = offers[offers["unit"] == UNIT].groupby(["category", "status"]).size()
    for c in Category:
        for s in Status:
            expect[f"offers|{c}|{s}"] = (counts.get((c, s), 0), "int")
    for (c, m, lv) in cov:
        r = row(c, m, lv)
        for t in th:
            expect[f"cov|{c}|{m}|{lv}|{t}"] = (r[f"children_within_{t}min_share"], "pct")
        expect[f"cov|{c}|{m}|{lv}|median"] = (r["children_median_minutes"], "min")
    for c in settings.report.map_categories:
        t = acc.coverage("unit", c, focus, minutes=th).set_index("ags")
        expect[f"ws|{c}|total"] = (t.loc[UNIT, f"children_beyond_{white}min"], "int")
    # transition: Kita → nearest Grundschule via the engine's k-nearest query (other path)
    ks = transition.kita_schools(acc)
    ks = ks[(gem.loc[ks["kita_id"]].map(unit_of) == UNIT).to_numpy()]
    for mode, part in ks.groupby("mode"):
        near = acc.nearest_many(part["kita_id"].map(acc.offers.set_index("id")["lon"]).to_numpy(),
                                part["kita_id"].map(acc.offers.set_index("id")["lat"]).to_numpy(),
                                "grundschule", str(mode), k=1)
        assert len(near) == len(part)
        for kita_id, minutes in zip(part["kita_id"], near["minutes"], strict=True):
            expect[f"tr|{kita_id}|{mode}"] = (minutes, "min")
    cells = transition.children_transition(acc)
    cells = cells[cells["unit_ags"] == UNIT]
    total = cells["children_under_10"].sum()
    for flag in ("affected", "other_gemeinde", "far_apart"):
        n = cells.loc[cells[flag], "children_under_10"].sum()
        expect[f"tr|children|{flag}"] = (n, "int")
        expect[f"tr|share|{flag}"] = (n / total, "pct")
    for c in settings.report.map_categories:
        result = siting.best_sites(acc, c, focus, white, settings.report.sites_k, unit_ags=UNIT)
        expect[f"site|{c}|before"] = (result.covered_before, "int")
        expect[f"site|{c}|total"] = (result.total_children, "int")
        for s in result.sites.itertuples():
            expect[f"site|{c}|{s.rank}|gained"] = (s.children_gained, "int")
            expect[f"site|{c}|{s.rank}|share"] = (s.share_covered, "pct")

    expect |= _priority_expect(acc, row("kita", "walk", "unit")["children"])
    expect |= _key_expect(acc, UNIT) | _quality_expect(acc) | _partner_expect(acc)
    ws_keys = {k for k in found if k.startswith("ws|") and not k.endswith("|total")}
    chain_keys = _chain_keys_are_the_matrix(acc, found)
    assert set(found) - ws_keys - chain_keys == set(expect)
    for key, (value, kind) in expect.items():
        raw, text = found[key]
        got = float(raw)
        if np.isnan(value):
            assert np.isnan(got), key
        else:
            assert got == pytest.approx(float(value), rel=1e-12, abs=1e-9), key
        assert text.rstrip(" ²¹") == report.fmt(got, kind), key
    # real figures of Rosdorf (Zensus 2011, VG5000 2021, school register 2017)
    assert expect["pop|children|unit"][0] == 1061
    assert expect["pop|children|county"][0] == 24_735
    assert expect["offers|grundschule|active"][0] == 2


def test_white_spots_split_the_engines_total(acc: Accessibility, data: report.ReportData,
                                             html: str) -> None:
    found = numbers(html)
    settings = acc.settings
    white = settings.access.white_spot_min
    cells = acc.cells("kita", settings.access.white_spot_mode)
    spot = cells[(cells["unit_ags"] == UNIT) & ~(cells["minutes"] <= white)]
    place = data.nearest_place(spot["x"].to_numpy(), spot["y"].to_numpy())
    by_place = spot.groupby(place)
    total = float(found["ws|kita|total"][0])
    assert total == spot["children_under_10"].sum() > 0
    shown = {k.split("|")[2] for k in found if k.startswith("ws|kita|") and k.endswith("children")}
    assert shown == set(by_place.groups)  # Rosdorf has fewer white-spot places than rows
    for name, group in by_place:
        assert float(found[f"ws|kita|{name}|children"][0]) == group["children_under_10"].sum()
        finite = group[np.isfinite(group["minutes"])].sort_values("minutes")
        w = finite["children_under_10"].to_numpy(float)
        median = finite["minutes"].to_numpy()[np.searchsorted(np.cumsum(w), 0.5 * w.sum())]
        assert float(found[f"ws|kita|{name}|median"][0]) == pytest.approx(median)
        assert _place_distance(acc, name, group).min() < 5000  # the name is a nearby place


def _place_distance(acc: Accessibility, name: str, group: pd.DataFrame) -> np.ndarray:
    """Metres from each cell to the nearest OSM place of that name (EPSG:3035)."""
    from geo.networks.snap import to_metric
    from geo.sources.tiles import read_layer

    places = read_layer(acc.settings.data_dir / acc.region.tiles.path, "place",
                        cache_dir=acc.settings.processed_dir / "tiles-cache")
    named = places[places["name:latin"] == name]
    x, y = to_metric(named.geometry.x.to_numpy(), named.geometry.y.to_numpy())
    return np.hypot(group["x"].to_numpy()[:, None] - x, group["y"].to_numpy()[:, None] - y).min(0)


def test_pdf_pages_tagged_and_rendering(html: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    pdf = report.write_pdf(html, tmp_path / "rosdorf.pdf")
    reader = PdfReader(pdf)
    pages = reader.pages
    texts = [" ".join(p.extract_text().split()) for p in pages]
    heads = ["Das Wichtigste", "Bevölkerung und Angebote", "Kinder in Reichweite je Angebot",
             "Kita: Wege", "Grundschule: Wege", "Familienzentrum: Wege", "Präventionskette",
             "Familienzentren und mögliche Partner", "Übergang Kita → Grundschule",
             "Wo ein neues Angebot", "Datenquellen, Lizenzen"]
    first: list[int] = []
    for h in heads:  # in this order (a head's words may also stand in earlier text)
        first.append(next(i for i, t in enumerate(texts) if h in t and i >= max(first, default=0)))
    assert first[0] == 0 and first[1] == 1  # key page alone, then the details
    assert len(pages) < len(heads)  # no section forces a half-empty page of its own
    for i, t in enumerate(texts, start=1):
        assert f"Seite {i} von {len(pages)}" in t
        box = pages[i - 1].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in pt
    sources = "".join(texts[first[-1]:]).replace(" ", "")  # cells wrap at any "/" or "-"
    for licence in ("© OpenStreetMap contributors, ODbL", "© GeoBasis-DE / BKG (2021)",
                    "© Statistisches Bundesamt (Destatis), Zensus 2011, dl-de/by-2.0",
                    "nibis / jedeschule.de"):
        assert licence.replace(" ", "") in sources
    assert reader.trailer["/Root"]["/Lang"] == "de"
    assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"]
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) not installed: `make sysdeps`")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    assert "Tagged:          yes" in info
    assert "Title:           Einheitsgemeinde Rosdorf – Erreichbarkeit" in info
    subprocess.run(["pdftoppm", "-r", "30", "-f", "1", "-l", "1", "-png", str(pdf),
                    str(tmp_path / "page")], check=True)
    png = next(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_overview_rows_are_the_unit_tables(acc: Accessibility, data: report.ReportData) -> None:
    html = report.environment().get_template("overview.html").render(
        report.overview_context(data, NOW))
    found = numbers(html)
    settings = acc.settings
    white = settings.access.white_spot_min
    units = acc.units("unit")
    assert len(units) == 20
    total = 0.0
    for ags in units["ags"]:
        for c in settings.report.map_categories:
            for m in ("walk", "bike"):
                t = acc.coverage("unit", c, m, minutes=settings.report.thresholds_min)
                value = t.set_index("ags").loc[ags, f"children_within_{white}min_share"]
                raw, text = found[f"ov|{ags}|{c}|{m}|{white}"]
                assert (np.isnan(value) and raw == "nan") or float(raw) == value
                assert text == report.fmt(value, "pct")
        total += float(found[f"ov|{ags}|inhabitants"][0])
    assert total == acc.cell_frame("inhabitants")["inhabitants"].sum()
    assert sum(float(found[f"ov|{a}|children"][0]) for a in units["ags"]) == 24_735
    assert 'src="data:image/png;base64,' in html and "th.sort" in html


def test_priority_section_is_the_table(acc: Accessibility, data: report.ReportData) -> None:
    """The overview lists every Gemeinde with its priority figures; a unit report lists its
    own Gemeinden with their rank among all."""
    from geo.products.priority import priority_table

    table = priority_table(acc).set_index("ags")
    overview = report.environment().get_template("overview.html").render(
        report.overview_context(data, NOW))
    found = numbers(overview)
    assert "Wo Bedarf und Entfernung zusammenkommen" in overview
    for ags, r in table.iterrows():
        assert float(found[f"prio|{ags}|single_parents"][0]) == r["single_parent_families"]
        assert float(found[f"prio|{ags}|unreached"][0]) == pytest.approx(
            r["unreached_single_parent_families"])
    assert sum(float(found[f"prio|{a}|single_parents"][0]) for a in table.index) == 3_889
    unit = report.environment().get_template("unit.html").render(
        report.unit_context(data, UNIT, NOW))
    own = table[table["unit_ags"] == UNIT]
    assert len(own) == 1  # Rosdorf is one Gemeinde
    assert f'<td class="n">{int(own["rank"].iloc[0])}</td><td>Rosdorf</td>' in unit
    assert f"Rang unter {len(table)} Gemeinden" in unit


def test_find_units_and_cli_errors(data: report.ReportData, settings: Settings,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert data.find_units(["Rosdorf", "031590029", "03159029", "hann. münden"]) == [
        UNIT, UNIT, UNIT, "031590017"]
    with pytest.raises(RegionError, match="Adelebsen"):
        data.find_units(["Bad"])  # three units start with "Bad"
    monkeypatch.setenv("ERREICHBAR_WORK_DIR", str(settings.work_dir))
    result = CliRunner().invoke(app, ["report", "--unit", "Atlantis", "--data-dir",
                                      str(settings.data_dir)])
    assert isinstance(result.exception, RegionError)
    result = CliRunner().invoke(app, ["report", "--format", "docx", "--all"])
    assert "unknown format 'docx'" in str(result.exception)


BAD_GRUND = "031590002"  # Einheitsgemeinde Bad Grund (Harz): the council example


@pytest.fixture(scope="module")
def bad_grund(data: report.ReportData) -> tuple[dict, str]:
    """The Bad Grund report's context and HTML."""
    ctx = report.unit_context(data, BAD_GRUND, NOW)
    return ctx, report.environment().get_template("unit.html").render(ctx)


def test_bad_grund_page_one_is_the_engines(acc: Accessibility, bad_grund: tuple[dict, str],
                                           tmp_path: Path) -> None:
    from pypdf import PdfReader

    ctx, html = bad_grund
    found = numbers(html)
    expect = _key_expect(acc, BAD_GRUND)
    for key, (value, kind) in expect.items():
        assert float(found[key][0]) == pytest.approx(float(value), rel=1e-12), key
        assert found[key][1] == report.fmt(value, kind), key
    # the white-spot count of report and white-spot map: cells beyond 15 min on foot
    s = acc.settings.access
    assert (s.white_spot_min, s.white_spot_mode) == (15, "walk")
    cells = acc.cells("kita", s.white_spot_mode)
    mine = cells[cells["unit_ags"] == BAD_GRUND]
    far = mine.loc[~(mine["minutes"] <= 15), "children_under_10"].sum()
    assert far == float(found["key|kita|beyond"][0]) == float(found["ws|kita|total"][0]) == 192
    assert [m["text"] for m in ctx["key"]["messages"]] == [
        "Jedes dritte Kind in Bad Grund (Harz) braucht zu Fuß über 15 Minuten zur nächsten Kita.",
        "Vier von fünf Kindern in Bad Grund (Harz) brauchen zu Fuß über 15 Minuten zur "
        "nächsten Grundschule.",
        "Kein Kind unter 10 in Bad Grund (Harz) erreicht zu Fuß in höchstens 15 Minuten ein "
        "Familienzentrum."]
    assert "Weißer Fleck: mehr als 15 Minuten zu Fuß zum nächsten aktiven Angebot" in html
    assert ctx["date"] == "25.11.2026, 13:00 Uhr"  # NOW (12:00 UTC) in Europe/Berlin
    pdf = report.write_pdf(html, tmp_path / "bad-grund.pdf")
    page1 = " ".join(PdfReader(pdf).pages[0].extract_text().split())
    assert "Das Wichtigste" in page1 and "Rang unter 20 Kommunen" in page1
    for key in expect:  # every key number stands on page 1
        assert found[key][1] in page1, key
    assert "Jedes dritte Kind in Bad Grund (Harz) braucht zu Fuß über 15 Minuten" in page1


def _visible(html: str) -> str:
    """The report's text without tags, scripts and image data."""
    import re

    return re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]*"', "", html))


def test_no_minutes_over_60_and_no_jargon(bad_grund: tuple[dict, str], html: str) -> None:
    import re

    for page in (bad_grund[1], html):
        text = _visible(page)
        shown = [float(v.replace(".", "").replace(",", "."))
                 for v in re.findall(r"(\d[\d.]*(?:,\d+)?)\s*min\b", text)]
        assert shown and max(shown) <= 60
        for word in ("Netzknoten", "Greedy", "greedy", "UTC"):
            assert word not in text, word
    assert "über 60 min" in _visible(bad_grund[1])


def test_sites_are_named_by_street_and_place(acc: Accessibility,
                                             bad_grund: tuple[dict, str]) -> None:
    """Each proposed site carries the street and place of an address or street of the
    address index near it, never coordinates; the named offers within 500 m are listed."""
    import re

    from geo.networks.snap import to_metric
    from geo.sources.geocode import load_tables

    ctx, html = bad_grund
    addresses, streets, _ = load_tables(acc.settings)
    both = pd.concat([addresses, streets], ignore_index=True)
    bx, by = to_metric(both["lon"].to_numpy(), both["lat"].to_numpy())
    offers = acc.offers
    ox, oy = to_metric(offers["lon"].to_numpy(), offers["lat"].to_numpy())
    assert not re.search(r"\b5\d\.\d{4,}", _visible(html))  # no latitude printed
    for s, c in zip(ctx["sites"], acc.settings.report.map_categories, strict=True):
        result = siting.best_sites(acc, c, "walk", 15, acc.settings.report.sites_k,
                                   unit_ags=BAD_GRUND)
        assert len(s["rows"]) == len(result.sites) > 0
        for row, site in zip(s["rows"], result.sites.itertuples(), strict=True):
            street, place = row["place"].split(", ", 1)
            x, y = to_metric(np.array([site.lon]), np.array([site.lat]))
            match = ((both["street"] == street) & (both["place"] == place)).to_numpy()
            assert np.hypot(bx[match] - x[0], by[match] - y[0]).min() < 500, row["place"]
            d = np.hypot(ox - x[0], oy - y[0])
            near = offers[(d <= 500) & (offers["category"] == c).to_numpy()
                          & ~offers["name"].str.endswith("(ohne Namen)").to_numpy()]
            for name in near["name"]:
                assert name in row["nearby"]
    # the case: the Kita proposed in Bergstadt Bad Grund names the DRK-Kindergarten
    kita = ctx["sites"][0]["rows"][0]
    assert kita["place"].endswith("Bergstadt Bad Grund (Harz)")
    assert "Familienzentrum Bad Grund (DRK-Kindergarten)" in kita["nearby"]


def test_overview_has_choropleth_and_ranked_chart(data: report.ReportData) -> None:
    ctx = report.overview_context(data, NOW)
    assert ctx["choropleth"].startswith("data:image/png;base64,")
    assert ctx["chart"].startswith("data:image/png;base64,")
    ranks = report.unit_ranks(data, "kita")
    share = data.acc.coverage("unit", "kita", "walk", minutes=[15]).set_index("ags")[
        "children_within_15min_share"]
    assert len(ranks) == 20 and ranks.min() == 1
    for ags, rank in ranks.items():
        assert rank == 1 + (share > share.loc[ags]).sum()


def test_kita_completeness_flags_on_the_real_data(acc: Accessibility,
                                                   data: report.ReportData) -> None:
    """Kitas per 100 children under 10 per Gemeinde, counted here, against the median of
    the 40 Gemeinden; below 70 % of it the Gemeinde is flagged (and its unit's report says
    so on page 1)."""
    table = siting.completeness(acc).set_index("ags")
    expect = _quality_expect(acc)
    gem = transition.offer_gemeinden(acc)
    offers = acc.offers
    kitas = gem.loc[offers.loc[(offers["category"] == "kita")
                               & (offers["status"] == "active"), "id"]].value_counts()
    children = acc.cell_frame("children").groupby("gemeinde_ags")["children_under_10"].sum()
    ratio = 100 * kitas.reindex(table.index).fillna(0) / children.reindex(table.index)
    assert len(table) == 40 and table["county_median"].iloc[0] == expect["q|median"][0]
    flagged = set(ratio[ratio < 0.7 * ratio.median()].index)
    assert set(table.index[table["flagged"]]) == flagged
    names = sorted(table.loc[list(flagged), "name"])
    print(f"\nflagged Gemeinden ({len(names)}): {', '.join(names)}")
    duderstadt = table.loc["03159010"]
    assert (duderstadt["kitas"], duderstadt["children_under_10"]) == (4, 1714)
    assert duderstadt["flagged"] and "Duderstadt" in names
    assert report._key_notes(data, "031590010")[-1].startswith(
        "Kita-Daten vermutlich unvollständig (Duderstadt)")


def test_white_spot_map_and_report_count_alike(acc: Accessibility,
                                               bad_grund: tuple[dict, str]) -> None:
    """One white-spot definition: Bad Grund (Harz)'s Kita count in the white-spot map's
    Gemeinde layer (the GeoJSON written into its HTML) is the report's, both the children
    beyond ``white_spot_min`` minutes by ``white_spot_mode`` counted here from the cells."""
    import folium

    from geo.products.maps import white_spot_map

    s = acc.settings.access
    page = white_spot_map(acc, ["kita"], s.white_spot_mode)
    layer = next(c for c in page._children.values() if isinstance(c, folium.GeoJson))
    rows = [f["properties"] for f in layer.data["features"]
            if f["properties"]["Gemeinde"] == "Bad Grund (Harz)"]
    cells = acc.cells("kita", s.white_spot_mode)
    mine = cells[cells["unit_ags"] == BAD_GRUND]  # an Einheitsgemeinde: unit = Gemeinde
    beyond = mine.loc[~(mine["minutes"] <= s.white_spot_min), "children_under_10"].sum()
    found = numbers(bad_grund[1])
    assert len(rows) == 1
    assert rows[0]["Kita"] == float(found["ws|kita|total"][0]) == beyond > 100
    assert float(found["key|kita|beyond"][0]) == beyond


def _pixels(uri: str) -> np.ndarray:
    """RGB pixels (n × 3, 0–255) of a PNG data URI."""
    import base64
    import io

    from PIL import Image

    png = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)


def _count_near(pixels: np.ndarray, colour: str, veil: float = 0.0) -> int:
    """Pixels within 3 levels of ``colour`` as the report fades the base map, under a white
    veil of opacity ``veil`` (the fade outside the unit)."""
    from geo.products.basemap.style import hex_rgb

    muted = 255 - (255 - np.array(hex_rgb(colour), float)) * (1 - report.BASEMAP_FADE)
    expected = muted * (1 - veil) + 255 * veil
    return int((np.abs(pixels - expected).max(axis=1) <= 3).sum())


def test_unit_map_lies_on_the_base_map(basemap_settings: Settings, acc: Accessibility,
                                       data: report.ReportData) -> None:
    """With the base map built, Bad Grund's Kita map shows the forest around it (style
    ``wood``, faded, under the white veil outside the unit) where no minutes are drawn, and
    no grey "kein Wegenetz"; without it the map renders with the grey and no forest."""
    from geo.products.basemap.style import AREAS

    assert data.basemap_ready()  # the session's base map (same work dir as ``settings``)
    wood = AREAS["wood"].colour
    on = _pixels(report._map(data, BAD_GRUND, "kita"))
    plain = report.ReportData(acc, basemap=False)
    off = _pixels(report._map(plain, BAD_GRUND, "kita"))
    grey = np.array([0xD9, 0xD9, 0xD9])
    print(f"\nforest pixels {_count_near(on, wood, 0.6)} of {len(on)}; without the base map "
          f"{_count_near(off, wood, 0.6)}, grey {(off == grey).all(1).sum()}")
    assert _count_near(on, wood, 0.6) > 0.1 * len(on)
    assert (on == grey).all(axis=1).sum() < 0.001 * len(on)
    assert _count_near(off, wood) + _count_near(off, wood, 0.6) < 0.001 * len(off)
    assert (off == grey).all(axis=1).sum() > 100
