"""The connection scan: earliest arrival with a bound on vehicle legs, compiled with numba.

A Connection Scan (Dibbelt et al. 2013) makes one pass over a day's connections sorted by
departure (:class:`~geo.transit.timetable.Timetable`). Labels ``T[k, s]`` are the earliest
arrival at stop ``s`` (seconds since midnight) using at most ``k`` vehicles. Boarding needs
``slack`` seconds at the stop before departure (r5: 60 s); after leaving a vehicle one walk
transfer (the timetable's ``fp_*`` arrays) may follow. :func:`scan_window` runs one
independent scan per origin and departure in parallel (R5's time-window method).
"""

from __future__ import annotations

import numba
import numpy as np

#: "not reached" time of the labels (int32 seconds); ``inf`` at the public surface
NEVER = np.int32(2**31 - 1)


@numba.njit(cache=True, nogil=True)
def scan(dep: np.ndarray, arr: np.ndarray, frm: np.ndarray, to: np.ndarray,
         trip: np.ndarray, board: np.ndarray, alight: np.ndarray, fp_ptr: np.ndarray,
         fp_to: np.ndarray, fp_s: np.ndarray, src: np.ndarray, src_t: np.ndarray, start: int,
         horizon: int, legs: int, slack: int, n_trips: int, record: bool, T: np.ndarray,
         Tv: np.ndarray, lab_exit: np.ndarray, lab_enter: np.ndarray
         ) -> None:  # pragma: no cover - compiled
    """Run a Connection Scan with at most ``legs`` vehicles; fill ``T`` (legs+1, n_stops).

    ``dep`` … ``fp_s`` are the :class:`~geo.transit.timetable.Timetable` arrays; the
    origin reaches stops ``src`` at ``src_t`` (seconds since midnight); the scan starts at
    connection ``start`` and stops after departures later than ``horizon`` (seconds since
    midnight); boarding needs ``slack`` seconds.
    ``T[k, s]``: earliest arrival at ``s`` with at most ``k`` vehicles (walks included);
    ``Tv[k, s]``: the same but arriving by vehicle (walk transfers start only from those).
    With ``record``, ``lab_exit``/``lab_enter`` keep, per label, the connection left and the
    connection where that trip was boarded (−1: reached from the origin by walking).
    """
    T[:, :] = NEVER
    Tv[:, :] = NEVER
    trip_k = np.full(n_trips, legs + 1, np.int32)
    trip_enter = np.full(n_trips, -1, np.int32)
    for i in range(src.shape[0]):
        _label(T, 0, legs, src[i], src_t[i], -1, -1, record, lab_exit, lab_enter)
    for c in range(start, dep.shape[0]):
        d = dep[c]
        if d > horizon:
            break
        t = trip[c]
        if board[c]:
            kk = _board(T, frm[c], d - slack, trip_k[t], legs)
            if kk < trip_k[t]:
                trip_k[t] = kk
                trip_enter[t] = c
        kk = trip_k[t]
        a = arr[c]
        v = to[c]
        if kk > legs or not alight[c] or a >= Tv[kk, v]:
            continue
        _arrive(T, Tv, kk, legs, v, a, c, trip_enter[t], record, lab_exit, lab_enter)
        for p in range(fp_ptr[v], fp_ptr[v + 1]):
            _label(T, kk, legs, fp_to[p], a + fp_s[p], c, trip_enter[t], record, lab_exit,
                   lab_enter)


@numba.njit(cache=True, nogil=True)
def _board(T: np.ndarray, u: int, latest: int, kk: int, legs: int
           ) -> int:  # pragma: no cover - compiled
    """Count the vehicles used after boarding at stop ``u``.

    One more than the fewest ``j`` < ``kk - 1`` whose label is at ``u`` by ``latest``
    (departure − slack, seconds); else ``kk``.
    """
    for j in range(min(kk - 1, legs)):
        if T[j, u] <= latest:
            return j + 1
    return kk


@numba.njit(cache=True, nogil=True)
def _arrive(T: np.ndarray, Tv: np.ndarray, kk: int, legs: int, v: int, a: int, c: int,
            enter: int, record: bool, lab_exit: np.ndarray, lab_enter: np.ndarray
            ) -> None:  # pragma: no cover - compiled
    """Arrive at stop ``v`` at ``a`` (seconds) by vehicle with ``kk`` or more vehicles.

    Lower ``Tv`` while it improves, and ``T``; the vehicle is connection ``c``, boarded at
    connection ``enter``.
    """
    for k in range(kk, legs + 1):
        if a >= Tv[k, v]:
            break
        Tv[k, v] = a
        if a < T[k, v]:
            T[k, v] = a
            if record:
                lab_exit[k, v] = c
                lab_enter[k, v] = enter


@numba.njit(cache=True, nogil=True)
def _label(T: np.ndarray, k0: int, legs: int, s: int, t: int, c: int, enter: int,
           record: bool, lab_exit: np.ndarray, lab_enter: np.ndarray
           ) -> None:  # pragma: no cover - compiled
    """Lower ``T[k0:, s]`` to ``t`` (seconds) while it improves.

    With ``record`` keep the connection left (``c``) and boarded (``enter``), −1 for the
    origin's walks.
    """
    for k in range(k0, legs + 1):
        if t >= T[k, s]:
            break
        T[k, s] = t
        if record:
            lab_exit[k, s] = c
            lab_enter[k, s] = enter


@numba.njit(cache=True, parallel=True)
def scan_window(dep: np.ndarray, arr: np.ndarray, frm: np.ndarray, to: np.ndarray,
                trip: np.ndarray, board: np.ndarray, alight: np.ndarray, fp_ptr: np.ndarray,
                fp_to: np.ndarray, fp_s: np.ndarray, src_ptr: np.ndarray, src: np.ndarray,
                src_t: np.ndarray, minutes: np.ndarray, starts: np.ndarray, max_travel: int,
                legs: int, slack: int, n_trips: int, record: bool, out: np.ndarray
                ) -> None:  # pragma: no cover - compiled
    """Fill travel times ``out[o, m, s]`` (seconds, inf unreachable) for every origin.

    Origin ``o`` reaches the stops ``src[src_ptr[o]:src_ptr[o+1]]`` after ``src_t``
    seconds; departure ``m`` is ``minutes[m]`` (seconds since midnight; its first
    connection ``starts[m]``). One independent scan per (origin, minute) in parallel;
    longer than ``max_travel`` seconds is inf. ``record`` is False; passed in so that
    :func:`scan` is compiled once for both callers.
    """
    n_orig, n_min, n_stops = out.shape
    dummy = np.empty((1, 1), np.int32)
    for job in numba.prange(n_orig * n_min):
        o = job // n_min
        m = job % n_min
        T = np.empty((legs + 1, n_stops), np.int32)
        Tv = np.empty((legs + 1, n_stops), np.int32)
        t0 = minutes[m]
        scan(dep, arr, frm, to, trip, board, alight, fp_ptr, fp_to, fp_s,
             src[src_ptr[o]:src_ptr[o + 1]].copy(), src_t[src_ptr[o]:src_ptr[o + 1]] + t0,
             starts[m], t0 + max_travel, legs, slack, n_trips, record, T, Tv, dummy, dummy)
        for s in range(n_stops):
            tt = T[legs, s] - t0
            out[o, m, s] = tt if T[legs, s] != NEVER and tt <= max_travel else np.inf

