"""What-if on a street network: add hypothetical offers and/or close existing ones.

Removing re-runs the multi-source search without the removed offers; each added offer
improves the surface only where it is faster, so the added sites get one multi-source run
bounded by the current worst time of any snappable node (exact, and cheaper than a full
run). The answer is the changed surface, the children coverage per Gemeinde before and
after, and the children cells whose time changed — in well under a second.
:func:`coverage_change` and :func:`changed_cells` build the same answer from per-cell
minutes; the transit engine uses them (:meth:`~geo.engine.transit_engine.TransitEngine.what_if`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo.engine.protocol import OfferSet, Surface, WhatIf
from geo.engine.region import CellMinutes, RegionData
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
    before, _ = engine.surface_minutes(base, "children")
    after, _ = engine.surface_minutes(surface, "children")
    _, cell_offer = surface.at(engine.cell_snap("children"))
    offer_ids = np.asarray(np.where(cell_offer >= 0,
                                    surface.offer_ids[np.maximum(cell_offer, 0)], None),
                           dtype=object)
    return WhatIf(surface,
                  coverage_change(engine.data, lambda grid: engine.surface_minutes(base, grid),
                                  lambda grid: engine.surface_minutes(surface, grid)),
                  changed_cells(engine.data, before, after, offer_ids),
                  time.perf_counter() - t0)


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


def coverage_change(data: RegionData, before: CellMinutes, after: CellMinutes
                    ) -> pd.DataFrame:
    """Children coverage per Gemeinde before and after, and children gained per threshold.

    ``before``/``after`` give per grid the minutes (inf = none) and connected flag per cell
    (only the ``children`` grid is asked for); thresholds: ``access.thresholds_min``.
    """
    thresholds = data.settings.access.thresholds_min
    old = data.coverage("gemeinde", before, thresholds, ["children"])
    new = data.coverage("gemeinde", after, thresholds, ["children"])
    white = f"children_beyond_{data.settings.access.white_spot_min}min"
    change = pd.DataFrame({"ags": old["ags"], "name": old["name"],
                           "children": old["children"]})
    for m in thresholds:
        col = f"children_within_{m}min_share"
        change[f"{col}_before"] = old[col]
        change[f"{col}_after"] = new[col]
        change[f"children_within_{m}min_change"] = \
            ((new[col] - old[col]) * old["children"]).round().fillna(0).astype(int)
    change[f"{white}_before"] = old[white]
    change[f"{white}_after"] = new[white]
    return change


def changed_cells(data: RegionData, minutes_before: np.ndarray, minutes_after: np.ndarray,
                  offer_ids: np.ndarray) -> pd.DataFrame:
    """Children cells whose time changed: minutes before and after and the offer now.

    ``minutes_*`` per children cell (inf = none); ``offer_ids`` the offer reached after
    (None = none).
    """
    moved = np.flatnonzero(minutes_after != minutes_before)
    children = data.cell_frame("children")
    return pd.DataFrame({
        "cell_id": children["cell_id"].to_numpy()[moved],
        "gemeinde_ags": children["gemeinde_ags"].to_numpy()[moved],
        "children_under_10": children["children_under_10"].to_numpy()[moved],
        "minutes_before": minutes_before[moved], "minutes_after": minutes_after[moved],
        "offer_id": np.asarray(offer_ids, dtype=object)[moved],
    })
