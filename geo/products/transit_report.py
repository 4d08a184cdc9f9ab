"""The reports' transit section: the timetable's state and, per Gemeinde, bus & train.

:func:`transit_section` is the context of ``templates/transit_section.html`` for one
municipal unit: the timetable note (:func:`geo.products.transit_status.timetable_status`,
e.g. "nur Fernverkehr geladen" or "Kein Fahrplan geladen" with the command), and when a
timetable is loaded, per Gemeinde of the unit and category the share of children under 10
within ``minutes`` by walk + public transport (window median) beside the share on foot,
and the share of children per ÖV-Güteklasse (ARE, A–F, none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from geo.engine.access import Accessibility
from geo.errors import DataError, EmptyResultError
from geo.messages import text
from geo.products.transit_status import timetable_status
from geo.sources.population import load_children_100m
from geo.transit.quality import gueteklassen, gueteklassen_shares
from geo.transit.trip import ThereAndBack
from geo.vocabulary import label


def _share(value: float) -> str:
    """Return a share 0–1 as German percent text ('–' for none)."""
    return "–" if value != value else f"{value * 100:.0f} %".replace(".", ",")


def _shares(acc: Accessibility, category: str, mode: str, minutes: int) -> pd.Series:
    """Return the share of children within ``minutes`` per Gemeinde (index AGS).

    Empty without the data of the mode (e.g. no walk network built: shown as '–').
    """
    try:
        table = acc.coverage("gemeinde", category, mode, [minutes])
    except DataError:
        return pd.Series(dtype=float)
    return table.set_index("ags")[f"children_within_{minutes}min_share"]


def transit_section(acc: Accessibility, unit_ags: str,
                    categories: Sequence[str] = ("kita", "grundschule", "familienzentrum"),
                    minutes: int = 30) -> dict[str, Any]:
    """Return the context of ``templates/transit_section.html`` for one municipal unit.

    Returns
    -------
    dict
        ``state``, ``column``, ``text`` (timetable note), ``minutes``, ``categories``
        (German labels of those with offers), ``rows`` (per Gemeinde: ``name``, ``cells``
        with ``transit``/``walk`` shares as text and values 0–1) and ``klassen`` (per
        Gemeinde the share of children per Güteklasse, or None without classes); rows are
        empty without a timetable; ``visits``: :func:`there_and_back_rows`.
    """
    status = timetable_status(acc.settings)
    out: dict[str, Any] = {**{k: status[k] for k in ("state", "column", "text")},
                           "minutes": minutes, "categories": [], "rows": [], "klassen": None,
                           "visits": []}
    if status["state"] == "none":
        return out
    gem = acc.units("gemeinde")
    gem = gem[gem["unit_ags"] == unit_ags]
    chosen = [c for c in categories if c in acc.categories()]
    shares = {(c, m): _shares(acc, c, m, minutes) for c in chosen for m in ("transit", "walk")}
    out["categories"] = [label("category", c) for c in chosen]
    out["rows"] = [{"name": name, "cells": [
        {"transit": _share(shares[c, "transit"].get(ags, float("nan"))),
         "walk": _share(shares[c, "walk"].get(ags, float("nan"))),
         "transit_value": float(shares[c, "transit"].get(ags, float("nan")))}
        for c in chosen]} for ags, name in zip(gem["ags"], gem["name"], strict=True)]
    out["visits"] = there_and_back_rows(acc, gem, chosen)
    access = acc.transit()
    try:
        klassen = gueteklassen(access.feed, access.date)
    except EmptyResultError:
        return out
    table = gueteklassen_shares(klassen, load_children_100m(acc.settings), gem)
    cols = [c for c in table.columns if c.startswith("share_")]
    out["klassen"] = {"classes": [c.removeprefix("share_") for c in cols],
                      "rows": [{"name": r["name"], "shares": [_share(r[c]) for c in cols]}
                               for _, r in table.iterrows()]}
    return out


def there_and_back_rows(acc: Accessibility, gemeinden: pd.DataFrame,
                        categories: Sequence[str]) -> list[dict[str, Any]]:
    """Hin und zurück in den Öffnungszeiten: from each Gemeinde's main place to the offers.

    The main place is the Gemeinde's 100 m cell with the most children under 10; per
    category its nearest offer by transit (window median), and whether one can get there
    by the offer's first opening time and home after it closes on the engine's date
    (:meth:`geo.engine.transit_access.TransitAccess.there_and_back`, OSM opening hours).

    Returns
    -------
    list of dict
        ``gemeinde``, ``category`` (German), ``offer`` (name), ``possible`` (bool, None
        when the offer has no opening hours), ``text`` (German: times of both journeys,
        or why not).
    """
    access = acc.transit()
    cells = acc.cell_frame("children")
    rows: list[dict[str, Any]] = []
    for ags, name in zip(gemeinden["ags"], gemeinden["name"], strict=True):
        mine = cells[cells["gemeinde_ags"] == ags]
        if mine.empty:
            continue
        home = mine.loc[mine["children_under_10"].idxmax()]
        for category in categories:
            near = access.nearest(float(home["x"]), float(home["y"]), category, 1)
            if near.empty:
                continue
            row = {"gemeinde": name, "category": label("category", category),
                   "offer": str(near["name"].iloc[0])}
            try:
                visit = access.there_and_back(float(home["x"]), float(home["y"]),
                                              str(near["offer_id"].iloc[0]))
            except DataError as exc:
                rows.append({**row, "possible": None, "text": str(exc)})
                continue
            rows.append({**row, "possible": visit.possible, "text": _visit_text(visit)})
    return rows


def _visit_text(visit: ThereAndBack, lang: str = "de") -> str:
    """Return the sentence of a there-and-back answer (message table ``transit.visit``)."""
    s = visit.summary()
    if not visit.possible:
        return text("transit.visit.impossible", lang, reason=s["reason"])
    out, back = s["outbound"], s["back"]
    return text("transit.visit.possible", lang, out_dep=out["departure"][11:16],
                out_arr=out["arrival"][11:16], start=s["arrive_by"],
                back_dep=back["departure"][11:16], back_arr=back["arrival"][11:16],
                end=s["leave_after"])
