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

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.engine.protocol import Supply
from geo.engine.region import to_minutes
from geo.errors import AccessInputError
from geo.networks import routing
from geo.vocabulary import METRIC_CRS

if TYPE_CHECKING:
    from geo.engine.street import StreetEngine
    from geo.settings import Settings

log = logging.getLogger(__name__)


def zone_weights(minutes: np.ndarray, zones: Sequence[float],
                 weights: Sequence[float]) -> np.ndarray:
    """E2SFCA weight of each travel time (minutes).

    The weight of its zone; 0 beyond the last zone or where unreachable (inf).
    """
    if len(zones) != len(weights):
        raise AccessInputError(f"{len(zones)} zones but {len(weights)} weights")
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


def street_supply(engine: StreetEngine, category: str) -> Supply:
    """E2SFCA supply per child of ``category`` by the engine's street mode.

    Supply is each offer's ``capacity`` (places) when every offer of the category has
    one; otherwise every offer counts 1 and the index is offers per child — capacities
    are never invented. Travel times: children cells → each offer within the last
    E2SFCA zone (per-offer bounded Dijkstra runs, seconds → minutes).

    Parameters
    ----------
    engine
        The street engine of the mode.
    category
        Offer category.

    Returns
    -------
    Supply
        Cells (``access`` per child and ``access_per_1000`` children), offers
        (``supply``, ``ratio``) and the ``basis`` of the supply figures.
    """
    offers = engine.offer_set(category)
    limit = max(engine.settings.access.e2sfca_zones_min) * 60.0
    seconds = cell_offer_seconds(engine, category, limit)
    return supply_table(engine.settings, category, engine.mode,
                        engine.data.cell_frame("children"), offers.frame,
                        to_minutes(seconds), engine.cell_snap("children").connected)


def cell_offer_seconds(engine: StreetEngine, category: str, limit_s: float = np.inf
                       ) -> np.ndarray:
    """Seconds from every children cell to each active offer of ``category`` by street.

    Door to door as every street answer (cell access leg + network + the offer's access
    leg), per-offer Dijkstra runs on the transposed graph bounded by ``limit_s``.

    Returns
    -------
    numpy.ndarray, shape (n_cells, n_offers)
        Seconds; inf where the offer's run stops at ``limit_s`` before the cell's node,
        for cells beyond the snap cut-off and for offers off the network. Offers in
        ``engine.offer_set(category).frame`` order.
    """
    offers = engine.offer_set(category)
    snap = engine.cell_snap("children")
    conn = np.flatnonzero(snap.connected)
    seeds = offers.seeds
    seconds = np.full((len(snap.node), len(offers.frame)), np.inf)
    for part, dist in routing.per_source(engine.graph.graph_t, offers.snap.node[seeds],
                                         offers.snap.seconds[seeds], limit_s):
        seconds[np.ix_(conn, seeds[part])] = dist[:, snap.node[conn]].T + snap.seconds[conn, None]
    return seconds


def supply_table(settings: Settings, category: str, mode: str, children: gpd.GeoDataFrame,
                 frame: pd.DataFrame, minutes: np.ndarray, connected: np.ndarray) -> Supply:
    """E2SFCA from travel minutes children cell × offer, for any mode.

    ``frame`` holds the offers (``id``, ``name``, ``capacity``) in the columns' order;
    ``connected`` flags the cells the mode reaches at all.
    """
    a = settings.access
    capacity = frame["capacity"] if "capacity" in frame else pd.Series(np.nan, frame.index)
    if capacity.notna().all():
        supply, basis = capacity.to_numpy(dtype=float), "capacity (places)"
    else:
        supply = np.ones(len(frame))
        basis = (f"offers (capacity unknown for {capacity.isna().sum()} of "
                 f"{len(capacity)} offers; each offer counts 1)")
        log.warning("%s: %s", category, basis)
    access, ratio = e2sfca(minutes, children["children_under_10"].to_numpy(), supply,
                           a.e2sfca_zones_min, a.e2sfca_weights)
    cells = gpd.GeoDataFrame({
        "cell_id": children["cell_id"], "category": category, "mode": mode,
        "children_under_10": children["children_under_10"],
        "access": access, "access_per_1000": access * 1000, "connected": connected,
        "gemeinde_ags": children["gemeinde_ags"]}, geometry=children.geometry, crs=METRIC_CRS)
    table = pd.DataFrame({"offer_id": frame["id"].to_numpy(dtype=object),
                          "name": frame["name"].to_numpy(dtype=object),
                          "supply": supply, "ratio": ratio})
    return Supply(cells, table, basis)
