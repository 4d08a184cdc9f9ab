"""Supply against demand: the enhanced two-step floating catchment area method (E2SFCA).

Luo & Qi (2009), *Health & Place* 15(4): with zones ``z_1 < z_2 < … < z_r`` of travel time
and weights ``w_1 … w_r`` (``W(t) = w_r`` for ``z_{r-1} < t ≤ z_r``, 0 beyond ``z_r``):

1. for each offer ``j``: ``R_j = S_j / Σ_i P_i · W(t_ij)`` — supply per weighted person in
   its catchment;
2. for each cell ``i``: ``A_i = Σ_j R_j · W(t_ij)`` — the supply its people can reach.

This is the computation of PySAL ``access``'s ``Access.enhanced_two_stage_fca`` written
against our own travel times (cells × offers, seconds → minutes). ``S_j`` is the offer's
``capacity`` (places) where every offer of the category has one; otherwise each offer
counts 1 and the index is *offers per child*, never invented places — the result says
which basis it used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def zone_weights(minutes: np.ndarray, zones: Sequence[float],
                 weights: Sequence[float]) -> np.ndarray:
    """E2SFCA weight of each travel time (minutes): the weight of its zone, 0 beyond the
    last zone or where unreachable (inf)."""
    if len(zones) != len(weights):
        raise ValueError(f"{len(zones)} zones but {len(weights)} weights")
    w = np.append(np.asarray(weights, float), 0.0)
    return w[np.searchsorted(np.asarray(zones, float), minutes, side="left")]


def e2sfca(minutes: np.ndarray, demand: np.ndarray, supply: np.ndarray,
           zones: Sequence[float], weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Enhanced 2SFCA accessibility.

    Parameters
    ----------
    minutes
        Travel times cell → offer, minutes (cells × offers; inf = unreachable).
    demand
        Persons per cell (e.g. children under 10).
    supply
        Supply per offer (places, or 1 per offer).
    zones, weights
        Zone upper bounds (minutes, increasing) and their weights.

    Returns
    -------
    access, ratio
        ``A_i`` per cell (supply per person) and ``R_j`` per offer (supply per weighted
        person in its catchment; NaN where nobody lives in it).
    """
    w = zone_weights(minutes, zones, weights)
    weighted_demand = demand.astype(float) @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(weighted_demand > 0, supply / weighted_demand, np.nan)
    access = w @ np.nan_to_num(ratio)
    return access, ratio
