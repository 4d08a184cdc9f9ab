"""What-if on a street network: add hypothetical offers and/or close existing ones.

Removing re-runs the multi-source search without the removed offers; each added offer
improves the surface only where it is faster, so the added sites get one multi-source run
bounded by the current worst time of any snappable node (exact, and cheaper than a full
run). The answer is the changed surface, the children coverage per Gemeinde before and
after, and the children cells whose time changed — in well under a second.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo.engine.protocol import OfferSet, Surface, WhatIf
from geo.errors import AccessInputError, RegionError
from geo.networks import routing

if TYPE_CHECKING:
    from geo.engine.street import StreetEngine


def what_if(engine: StreetEngine, category: str, add: Sequence[tuple[float, float]],
            remove: Sequence[str]) -> WhatIf:
    """Add hypothetical offers and/or remove existing ones; see what changes.

    Parameters
    ----------
    engine
        The street engine of the mode.
    category
        Offer category.
    add
        ``(lon, lat)`` of new sites (WGS84 degrees); they become offers ``new-1``, …
    remove
        Offer ids of active offers of the category to close.

    Returns
    -------
    WhatIf
        Changed surface, per-Gemeinde coverage before/after/change, changed cells and the
        wall time in seconds.

    Raises
    ------
    AccessInputError
        Nothing to change or an unknown offer id.
    RegionError
        An added site outside the region or not connected to the network.
    """
    t0 = time.perf_counter()
    if not add and not remove:
        raise AccessInputError("nothing to change: give sites to add or offer ids to remove")
    offers = engine.offer_set(category)
    base = engine.surface(category)
    unknown = sorted(set(remove) - set(offers.ids))
    if unknown:
        raise AccessInputError(f"no active {category!r} offer with id "
                               f"{', '.join(map(repr, unknown))}")
    surface = _changed_surface(engine, base, offers, add, remove)
    return WhatIf(surface, _gemeinde_change(engine, base, surface),
                  _changed_cells(engine, base, surface), time.perf_counter() - t0)


def _changed_surface(engine: StreetEngine, base: Surface, offers: OfferSet,
                     add: Sequence[tuple[float, float]], remove: Sequence[str]) -> Surface:
    """Change ``base``: without the offers ``remove``, with new offers at ``add`` (lon, lat)."""
    graph_t = engine.graph.graph_t
    seconds, offer, ids = base.node_seconds, base.node_offer, offers.ids
    if remove:
        keep = offers.seeds[~np.isin(offers.ids[offers.seeds], list(remove))]
        field = routing.multi_source(graph_t, offers.snap.node[keep], offers.snap.seconds[keep])
        seconds = field.seconds
        offer = np.where(field.seed >= 0, keep[np.maximum(field.seed, 0)], -1)
    if add:
        sites = np.asarray(add, float).reshape(-1, 2)
        snap = engine.snap(sites[:, 0], sites[:, 1])
        if not snap.connected.all():
            i = int(np.flatnonzero(~snap.connected)[0])
            raise RegionError(f"site (lon {sites[i, 0]:.5f}, lat {sites[i, 1]:.5f}) is "
                              f"{snap.distance_m[i]:.0f} m from the nearest {engine.mode} "
                              "street: not connected")
        bound = float(seconds[engine.graph.index.candidates].max())
        field = routing.multi_source(graph_t, snap.node, snap.seconds, limit=bound)
        better = field.seconds < seconds
        seconds = np.where(better, field.seconds, seconds)
        offer = np.where(better, len(ids) + field.seed, offer)
        ids = np.concatenate([ids, np.array([f"new-{i + 1}" for i in range(len(sites))],
                                            dtype=object)])
    return Surface(base.category, base.mode, seconds, offer, ids)


def _gemeinde_change(engine: StreetEngine, base: Surface, changed: Surface) -> pd.DataFrame:
    """Children coverage per Gemeinde before and after, and children gained per threshold."""
    thresholds = engine.settings.access.thresholds_min

    def children_coverage(surface: Surface) -> pd.DataFrame:
        return engine.data.coverage(
            "gemeinde", lambda grid: engine.surface_minutes(surface, grid), thresholds,
            ["children"])

    before, after = children_coverage(base), children_coverage(changed)
    white = f"children_beyond_{engine.settings.access.white_spot_min}min"
    change = pd.DataFrame({"ags": before["ags"], "name": before["name"],
                           "children": before["children"]})
    for m in thresholds:
        col = f"children_within_{m}min_share"
        change[f"{col}_before"] = before[col]
        change[f"{col}_after"] = after[col]
        change[f"children_within_{m}min_change"] = \
            ((after[col] - before[col]) * before["children"]).round().fillna(0).astype(int)
    change[f"{white}_before"] = before[white]
    change[f"{white}_after"] = after[white]
    return change


def _changed_cells(engine: StreetEngine, base: Surface, changed: Surface) -> pd.DataFrame:
    """Children cells whose time changed: minutes before and after and the offer now."""
    minutes_before, _ = engine.surface_minutes(base, "children")
    minutes_after, _ = engine.surface_minutes(changed, "children")
    _, cell_offer = changed.at(engine.cell_snap("children"))
    moved = np.flatnonzero(minutes_after != minutes_before)
    children = engine.data.cell_frame("children")
    return pd.DataFrame({
        "cell_id": children["cell_id"].to_numpy()[moved],
        "gemeinde_ags": children["gemeinde_ags"].to_numpy()[moved],
        "children_under_10": children["children_under_10"].to_numpy()[moved],
        "minutes_before": minutes_before[moved], "minutes_after": minutes_after[moved],
        "offer_id": np.where(cell_offer[moved] >= 0,
                             changed.offer_ids[np.maximum(cell_offer[moved], 0)], None),
    })
