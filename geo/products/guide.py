"""The family guide (Familienwegweiser): per Gemeinde, the offers of each stage families reach.

``erreichbar guide --gemeinde G [--format html|pdf]`` writes a printable German A4 guide
(HTML from ``geo/products/templates/guide.html``, PDF via WeasyPrint as the reports). For each
stage of the chain (:class:`geo.settings.ChainSettings`) it lists every active offer that
some populated 100 m cell of the Gemeinde reaches within the stage's budget by
``ChainSettings.map_mode`` (:meth:`geo.products.chain.ChainData.reachable`: the same offers
the chain matrix counts), nearest first from the Gemeinde's **main place** — the census cell
with the most children under 10, named by its nearest OSM place — with the minutes on foot
and by bike from there (one forward Dijkstra per mode, the engine's trip model), address,
Träger, ages (and where they come from), opening hours, contact and source. Unknown fields
say "nicht bekannt": nothing is invented.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from geo.engine.access import Accessibility
from geo.errors import DataError
from geo.networks.snap import to_lonlat
from geo.products import report
from geo.products.chain import ChainData, find_gemeinde, stage_label
from geo.settings import Settings
from geo.sources.population import population_basis
from geo.vocabulary import data_sources, label

GUIDE_MODES = ("walk", "bike")


def main_place(data: ChainData, ags: str) -> dict[str, Any]:
    """Return the Gemeinde's main place: its census cell with the most children under 10.

    Returns
    -------
    dict
        ``cell_id``, ``x``, ``y`` (EPSG:3035 metres), ``children`` and ``name`` (nearest
        OSM place).
    """
    cells = data.cells[data.cells["gemeinde_ags"] == ags]
    if cells.empty:
        raise DataError(f"Gemeinde {ags} has no census cell with children under 10")
    best = cells.loc[cells["children_under_10"].idxmax()]
    name = report.ReportData(data.acc).nearest_place(np.array([best["x"]]),
                                                     np.array([best["y"]]))[0]
    return {"cell_id": best["cell_id"], "x": float(best["x"]), "y": float(best["y"]),
            "children": float(best["children_under_10"]), "name": str(name)}


def minutes_from(data: ChainData, x: float, y: float, offer_ids: pd.Series,
                 mode: str, limit_min: float | None = None) -> np.ndarray:
    """Return the minutes from the point (EPSG:3035) to each offer by a street ``mode``.

    Access leg (the engine's snapping) + one forward Dijkstra on the network + the offer's
    access leg; inf beyond ``limit_min`` (default ``ChainSettings.guide_max_min``; inf:
    unbounded) or where not connected.
    """
    limit = data.settings.chain.guide_max_min if limit_min is None else limit_min
    out = np.full(len(offer_ids), np.inf)
    start = data.acc.snap(*to_lonlat(np.array([x]), np.array([y])), mode)
    if not start.connected[0]:
        return out
    dist = dijkstra(data.acc.network(mode).csr(), indices=int(start.node[0]),
                    limit=limit * 60.0)
    catalogue = data.acc.offers  # categories of the asked offers, without copying the frame
    categories = pd.Series(catalogue["category"].to_numpy(),
                           index=catalogue["id"].to_numpy()).loc[offer_ids].to_numpy()
    for category in pd.unique(categories):
        snap = data.acc.offer_set(category, mode)
        sel = np.flatnonzero(categories == category)
        row = pd.Index(snap.ids).get_indexer(offer_ids.to_numpy()[sel])
        ok = row >= 0
        node = np.where(ok, snap.snap.node[np.maximum(row, 0)], 0)
        secs = start.seconds[0] + dist[node] + snap.snap.seconds[np.maximum(row, 0)]
        out[sel] = np.where(ok & (node >= 0), secs / 60.0, np.inf)
    out[~(out <= limit)] = np.inf
    return out


def _text(value: Any) -> str:
    return "nicht bekannt" if value is None or (isinstance(value, float) and np.isnan(value)) \
        or str(value).strip() == "" else str(value)


def _offer_rows(data: ChainData, frame: pd.DataFrame, place: dict[str, Any]) -> list[dict]:
    """Template rows of the offers in ``frame`` (stage offers with ``id``), nearest first."""
    ids = frame["id"].reset_index(drop=True)
    times = {m: minutes_from(data, place["x"], place["y"], ids, m) for m in GUIDE_MODES}
    frame = frame.reset_index(drop=True).assign(**{f"min_{m}": t for m, t in times.items()})
    frame = frame.sort_values([f"min_{data.settings.chain.map_mode}", "name"])
    limit = data.settings.chain.guide_max_min
    rows = []
    for o in frame.to_dict("records"):
        address = " ".join(p for p in (o["street"], o["housenumber"]) if isinstance(p, str))
        town = " ".join(p for p in (o["postcode"], o["town"]) if isinstance(p, str))
        rows.append({
            "id": o["id"], "name": o["name"], "category": label("category", o["category"]),
            "minutes": [{"mode": m, "value": repr(float(o[f"min_{m}"])),
                         "text": (f"{o[f'min_{m}']:.0f}" if np.isfinite(o[f"min_{m}"])
                                  else f"über {limit:.0f}")} for m in GUIDE_MODES],
            "address": ", ".join(p for p in (address, town) if p) or "nicht bekannt",
            "traeger": _text(o["traeger"]),
            "ages": f"{o['age_from']:g}–{o['age_to']:g} Jahre "
                    f"({label('age_source', o['age_source'])})",
            "opening_hours": _text(o["opening_hours"]), "contact": _text(o["contact"]),
            "source": _text(o["source"]), "source_date": _text(o["source_date"])})
    return rows


def guide_context(data: ChainData, ags: str, now: dt.datetime) -> dict[str, Any]:
    """Return everything the guide template shows for the Gemeinde ``ags``."""
    cs = data.settings.chain
    place = main_place(data, ags)
    name = str(data.gemeinden.loc[ags, "name"])
    stages = []
    for stage in cs.stages:
        if stage.kind != "offers":
            continue
        reached = data.reachable(stage, cs.map_mode)
        ids = set(reached.loc[reached["gemeinde_ags"] == ags, "offer_id"])
        offers = data.stage_offers(stage)
        offers = offers[offers["id"].isin(ids)]
        stages.append({"key": stage.key, "label": stage_label(stage),
                       "budget": f"{stage.budget_min:g}", "rows": _offer_rows(data, offers, place)})
    return {"title": f"Familienwegweiser {name}", "ags": ags, "gemeinde": name,
            "place": place, "mode": label("mode", cs.map_mode), "stages": stages,
            "modes": [label("mode_short", m) for m in GUIDE_MODES],
            "region": data.acc.region.title, "date": now.strftime("%d.%m.%Y, %H:%M UTC"),
            "sources": data_sources(data.settings), "census": population_basis(data.settings),
            "parameters": report._parameters(data.settings)}


def write_guide(settings: Settings, gemeinde: str, fmt_: str = "html", out: Path | None = None,
                acc: Accessibility | None = None, data: ChainData | None = None
                ) -> dict[str, Any]:
    """Write the family guide of one Gemeinde as HTML or A4 PDF.

    Parameters
    ----------
    settings
        Settings.
    gemeinde
        AGS or name (:func:`geo.products.chain.find_gemeinde`).
    fmt_
        ``html`` or ``pdf``.
    out
        Folder (default ``<work_dir>/reports``); the file is ``wegweiser-<slug>.<fmt>``.
    acc, data
        An engine or chain figures to reuse.

    Returns
    -------
    dict
        CLI summary: ``file``, ``gemeinde``, ``place``, ``offers`` per stage, ``seconds``.
    """
    if fmt_ not in report.FORMATS:
        raise DataError(f"unknown format {fmt_!r}; formats: {', '.join(report.FORMATS)}")
    t0 = time.perf_counter()
    data = data or ChainData(acc or Accessibility(settings))
    ags = find_gemeinde(data, gemeinde)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    context = guide_context(data, ags, now)
    html = report.environment().get_template("guide.html").render(context)
    folder = Path(out) if out is not None else settings.work_dir / "reports"
    target = report._write(html, folder / f"wegweiser-{report.slug(context['gemeinde'])}", fmt_)
    return {"file": str(target), "gemeinde": {"ags": ags, "name": context["gemeinde"]},
            "place": context["place"]["name"],
            "offers": {s["key"]: len(s["rows"]) for s in context["stages"]},
            "seconds": round(time.perf_counter() - t0, 1)}
