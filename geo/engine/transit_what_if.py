"""Transit what-if and per-offer times without rescanning the timetable.

The stop profiles of :class:`~geo.engine.transit_access.TransitAccess` hold, per stop and
departure, the time to the nearest offer: they are fixed by the offers. Here the scans are
kept one step earlier, as a **stop matrix** ``M[s, d, u]``: seconds from stop ``s``
leaving at departure ``d`` to stop ``u`` (same scans, same departures as the profiles;
unsigned 16-bit seconds, the "not reached" value beyond ``max_travel_s``). Any set of
offers then gets its profiles by combination alone: ``P[s, d] = min over offers o and stops
u within walking distance of o of (M[s, d, u] + walk(u → o))``, exactly what the scan with
the offers as destinations computes (:func:`geo.transit.query.departure_profiles`). Adding
offers, closing offers and per-offer times (for E2SFCA supply) need no new scan.

Memory: stops² × departures × 2 bytes (the Enzkreis: 293² × 134 × 2 = 23 MB; a county with
2,000 stops ≈ 1 GB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from geo.engine.transit_access import WalkOnly
from geo.errors import AccessInputError, LimitError
from geo.transit.query import departure_profiles
from geo.transit.timetable import compile_timetable

if TYPE_CHECKING:
    from geo.engine.transit_access import TransitAccess, TransitCells


def stop_matrix(access: TransitAccess, chunk: int = 64) -> np.ndarray:
    """Seconds from every stop and profile departure to every stop (cached on ``access``).

    Returns
    -------
    numpy.ndarray, shape (n_stops, n_departures, n_stops)
        ``uint16`` (``uint32`` when ``max_travel_s`` ≥ 65,535) seconds; the dtype's
        maximum = not reached within ``max_travel_s``.

    Raises
    ------
    LimitError
        The matrix would exceed ``transit.stop_matrix_max_bytes``.
    """
    cache = access.feed.cache
    key = ("stop_matrix", access.date, access.start_s, access.profile_end_s(), access.walk)
    if key in cache:
        return cache[key]
    tt = compile_timetable(access.feed, access.date, access.settings, access.walk)
    dtype = np.uint16 if access.settings.max_travel_s < 65_535 else np.uint32
    never = np.iinfo(dtype).max
    size = len(tt.stop_ids) ** 2 * len(np.arange(access.start_s, access.profile_end_s(),
                                                 access.settings.window_step_s)) \
        * np.dtype(dtype).itemsize
    if size > access.settings.stop_matrix_max_bytes:
        raise LimitError(f"transit what-if/supply: the stop-to-stop matrix of "
                         f"{len(tt.stop_ids):,} stops would take {size:,} bytes, more than "
                         f"transit.stop_matrix_max_bytes ({access.settings.stop_matrix_max_bytes:,}"
                         "); shorten the window or raise the limit")
    parts = []
    for lo in range(0, len(tt.stop_ids), chunk):
        _, prof = departure_profiles(access.feed, list(tt.stop_ids[lo:lo + chunk]),
                                     access.date, access.start_s, access.profile_end_s(),
                                     settings=access.settings, walk=access.walk, chunk=chunk)
        parts.append(np.where(np.isfinite(prof), prof, never).astype(dtype))
    cache[key] = np.concatenate(parts)
    return cache[key]


def offer_profiles(access: TransitAccess, dest: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Stop profiles of the offers at ``dest`` (EPSG:3035 metres), combined, not scanned.

    Returns
    -------
    seconds, offer
        Shape (n_stops, n_departures): seconds to the nearest of the offers (inf: none
        within ``max_travel_s``) and its row in ``dest`` (the first of equally near ones,
        as :meth:`~geo.engine.transit_access.TransitAccess.stop_profiles`).
    """
    matrix = stop_matrix(access)
    never = np.iinfo(matrix.dtype).max
    tt = compile_timetable(access.feed, access.date, access.settings, access.walk)
    stop, off, walk_s = access.walk(tt.stop_xy, np.asarray(dest, float).reshape(-1, 2))
    best = np.full(matrix.shape[:2], np.inf)
    which = np.full(matrix.shape[:2], -1, np.int64)
    for o in range(len(dest)):
        reach = np.full(matrix.shape[:2], np.inf)
        for u, w in zip(stop[off == o], walk_s[off == o], strict=True):
            col = matrix[:, :, u]
            reach = np.minimum(reach, np.where(col == never, np.inf, col + float(w)))
        reach[reach > access.settings.max_travel_s] = np.inf
        better = reach < best
        best[better], which[better] = reach[better], o
    return best, np.where(np.isfinite(best), which, 0)


def what_if(access: TransitAccess, category: str, xy: np.ndarray,
            add: Sequence[tuple[float, float]] = (), remove: Sequence[str] = (),
            walk_only: WalkOnly | None = None
            ) -> tuple[TransitCells, TransitCells, list[str]]:
    """Cells' walk + transit times before and after adding and/or closing offers.

    Parameters
    ----------
    access : TransitAccess
    category : str
    xy : numpy.ndarray, shape (n, 2)
        Cell centres, EPSG:3035 metres.
    add : sequence of (x, y)
        New sites, EPSG:3035 metres; they become offers ``new-1``, ``new-2``, …
    remove : sequence of str
        Ids of active offers of the category to close.
    walk_only : WalkOnly, optional
        Walking the whole way to the nearest changed offer per cell, seconds and offer id
        (e.g. the street walk what-if); default crow-fly × detour. ``before`` is always
        crow-fly.

    Returns
    -------
    before, after, ids
        :class:`~geo.engine.transit_access.TransitCells` of the cells with the current
        offers and with the changed ones, and the offer ids of ``after.offer``'s rows.

    Raises
    ------
    AccessInputError
        Nothing to change, an unknown offer id, or no offer left.
    """
    after, ids = changed(access, category, xy, add, remove, walk_only)
    return access.cell_times(category, xy), after, ids


def changed(access: TransitAccess, category: str, xy: np.ndarray,
            add: Sequence[tuple[float, float]] = (), remove: Sequence[str] = (),
            walk_only: WalkOnly | None = None) -> tuple[TransitCells, list[str]]:
    """Cells' walk + transit times with offers added and/or closed (:func:`what_if`'s after).

    Same parameters as :func:`what_if`; returns the cells' times with the changed offers
    and the offer ids of their ``offer`` rows.
    """
    if not len(add) and not len(remove):
        raise AccessInputError("nothing to change: give sites to add or offer ids to remove")
    rows = access.offer_rows(category)
    unknown = sorted(set(remove) - set(rows["id"]))
    if unknown:
        raise AccessInputError(f"no active {category!r} offer with id "
                               f"{', '.join(map(repr, unknown))}")
    keep = ~rows["id"].isin(list(remove)).to_numpy()
    ids = [*rows.loc[keep, "id"], *(f"new-{i + 1}" for i in range(len(add)))]
    if not ids:
        raise AccessInputError(f"closing {len(remove)} offers leaves no {category!r} offer")
    dest = np.vstack([access.offer_xy(rows)[keep], np.asarray(add, float).reshape(-1, 2)])
    prof, prof_offer = offer_profiles(access, dest)
    return access.combine_cells(category, xy, prof, prof_offer, dest, ids, walk_only), ids


def cell_offer_seconds(access: TransitAccess, category: str, xy: np.ndarray,
                       walk_s: np.ndarray | None = None) -> np.ndarray:
    """Window-median walk + transit seconds from each cell to each offer of ``category``.

    One combination of the stop matrix per offer (no scan). For E2SFCA supply, which needs
    every offer's time, not the nearest.

    Parameters
    ----------
    walk_s : numpy.ndarray, shape (n_cells, n_offers), optional
        Seconds walking the whole way from each cell to each offer (offers in
        :meth:`TransitAccess.offer_rows` order), e.g. the street walk mode's; default
        crow-fly × detour.

    Returns
    -------
    numpy.ndarray, shape (n_cells, n_offers)
        Seconds, inf where not reached; offers in :meth:`TransitAccess.offer_rows` order.
    """
    rows = access.offer_rows(category)
    dest = access.offer_xy(rows)
    out = np.empty((len(xy), len(dest)))
    for o in range(len(dest)):
        prof, prof_offer = offer_profiles(access, dest[o:o + 1])
        walk = None if walk_s is None else WalkOnly(walk_s[:, o], np.asarray(
            np.where(np.isfinite(walk_s[:, o]), rows.at[o, "id"], None), dtype=object))
        out[:, o] = access.combine_cells(category, xy, prof, prof_offer, dest[o:o + 1],
                                         [rows.at[o, "id"]], walk).median_s
    return out
