"""Transit isochrones from cells: the 100 m cells reached within N minutes, window median.

For one origin point, every candidate 100 m cell (INSPIRE grid, centres at ``100 k + 50``
metres in EPSG:3035) gets, per departure minute of the window, ``min(walking the whole way,
walk + transit + walk from the stop)`` (:func:`geo.transit.query.departure_profiles` with the
cells as destinations), and the median over the departures. The isochrone of a budget is
the union of the squares of the cells whose median is within it: a cell belongs to it
exactly when its centre's median time does (no discs, no buffers).

Candidates are the cells within walking reach of the origin
(:func:`geo.transit.walk.reach_m`: budget × walking speed ÷ detour, or on the street
network budget × its fastest walking speed) and within the longest egress walk
(``transit.max_walk_m``) of a stop reached within the budget by the best departure: a cell
beyond both cannot have a median within the budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo.transit.query import departure_profiles
from geo.transit.walk import reach_m, walk_whole_way_s

if TYPE_CHECKING:
    from geo.engine.transit_access import TransitAccess

#: cell size of the Zensus / INSPIRE grid, metres
CELL_M = 100.0


def grid_cells_near(points: np.ndarray, radius_m: np.ndarray) -> np.ndarray:
    """List the 100 m grid cells whose centre lies within ``radius_m`` of one of ``points``.

    A radius (metres) per point; centres EPSG:3035 metres, shape (n, 2), each cell once.
    """
    parts = []
    for (px, py), r in zip(np.asarray(points, float).reshape(-1, 2),
                           np.asarray(radius_m, float).reshape(-1), strict=True):
        xs = np.arange(np.floor((px - r) / CELL_M), np.ceil((px + r) / CELL_M) + 1) * CELL_M
        ys = np.arange(np.floor((py - r) / CELL_M), np.ceil((py + r) / CELL_M) + 1) * CELL_M
        gx, gy = np.meshgrid(xs + CELL_M / 2, ys + CELL_M / 2)
        near = np.hypot(gx - px, gy - py) <= r
        parts.append(np.column_stack([gx[near], gy[near]]))
    if not parts:
        return np.empty((0, 2))
    return np.unique(np.vstack(parts), axis=0)


def cell_medians(access: TransitAccess, x: float, y: float, cells: np.ndarray
                 ) -> np.ndarray:
    """Window-median seconds from the origin to each cell centre (walk or walk + transit).

    Parameters
    ----------
    access : TransitAccess
        Feed, date, window, walk model.
    x, y : float
        Origin, EPSG:3035 metres.
    cells : numpy.ndarray, shape (n, 2)
        Cell centres, EPSG:3035 metres.

    Returns
    -------
    numpy.ndarray
        Seconds per cell (inf: not within ``max_travel_s`` for half of the departures).
    """
    origin = np.array([[x, y]], float)
    _, prof = departure_profiles(access.feed, origin, access.date, access.start_s,
                                 access.end_s, settings=access.settings, walk=access.walk,
                                 destinations=cells)
    direct = walk_whole_way_s(access.walk, origin, cells, access.settings)
    return np.median(np.minimum(prof[0], direct), axis=0)


def reach(access: TransitAccess, x: float, y: float, budget_s: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate cells of one origin for the largest budget and their window medians.

    Returns
    -------
    cells, median_s, stop_median_s
        Cell centres (n, 2), median seconds per cell, and per stop of the timetable the
        median seconds to reach it (inf: not within ``max_travel_s``).
    """
    origin = np.array([[x, y]], float)
    _, prof = departure_profiles(access.feed, origin, access.date, access.start_s,
                                 access.end_s, settings=access.settings, walk=access.walk)
    best, median = prof[0].min(axis=0), np.median(prof[0], axis=0)
    s = access.settings
    tt_xy = _stop_xy(access)
    from_stops = np.flatnonzero(best < budget_s)
    centres = np.vstack([origin, tt_xy[from_stops]])
    radii = np.r_[reach_m(access.walk, budget_s, s), np.full(len(from_stops), s.max_walk_m)]
    cells = grid_cells_near(centres, radii)
    return cells, cell_medians(access, x, y, cells), median


def _stop_xy(access: TransitAccess) -> np.ndarray:
    """Stop coordinates of the compiled timetable (order of the profiles' columns)."""
    from geo.transit.timetable import compile_timetable

    return compile_timetable(access.feed, access.date, access.settings, access.walk).stop_xy


def cells_polygon(cells: np.ndarray) -> shapely.Geometry:
    """Union of the 100 m squares centred on ``cells`` (EPSG:3035), empty for none."""
    if not len(cells):
        return shapely.Polygon()
    half = CELL_M / 2
    boxes = shapely.box(cells[:, 0] - half, cells[:, 1] - half, cells[:, 0] + half,
                        cells[:, 1] + half)
    return shapely.coverage_union_all(boxes)
