"""The Kita → Grundschule transition: which school follows which Kita, and for whom it is far.

Two views, both from the engine's nearest-offer surfaces (:class:`geo.engine.access.Accessibility`):

* :func:`kita_schools` — for every active Kita the nearest Grundschule and the time to it
  by walk, bike and car (long form, one row per Kita and mode);
* :func:`children_transition` — per 100 m Zensus cell, the children under 10, their nearest
  Kita and nearest Grundschule, the Gemeinde of each and the time from that Kita to that
  Grundschule; a cell is *affected* when the two lie in different Gemeinden or further
  apart than :attr:`~geo.settings.ReportSettings.transition_max_min`.

Offers belong to the Gemeinde whose VG5000 polygon contains them, else to the nearest one
(VG5000 is generalised; offers up to ``OfferSettings.region_tolerance_m`` outside count).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.engine.access import Accessibility
from geo.networks import routing
from geo.vocabulary import METRIC_CRS


def offer_gemeinden(acc: Accessibility) -> pd.Series:
    """Gemeinde AGS of every offer of the catalogue (all statuses), indexed by offer id.

    The Gemeinde whose polygon contains the offer, else the nearest one (EPSG:3035).
    """
    offers = acc.offers
    gemeinden = acc.units("gemeinde")
    points = gpd.GeoSeries(gpd.points_from_xy(offers["lon"], offers["lat"]),
                           crs="EPSG:4326").to_crs(METRIC_CRS)
    hit, area = gemeinden.sindex.nearest(points.values, return_all=False)
    ags = np.empty(len(offers), dtype=object)
    ags[hit] = gemeinden["ags"].to_numpy()[area]
    return pd.Series(ags, index=offers["id"].to_numpy(), name="gemeinde_ags")


def kita_schools(acc: Accessibility, modes: tuple[str, ...] = ("walk", "bike", "car")
                 ) -> pd.DataFrame:
    """Find the nearest Grundschule of every active Kita, per mode.

    The time is the engine's: Kita → its network node (access leg) + streets + the
    school's access leg, i.e. :meth:`Surface.at <geo.engine.access.Surface.at>` of the Grundschule
    surface at the Kita's snap.

    Returns
    -------
    pandas.DataFrame
        Long form, one row per Kita and mode: ``kita_id``, ``kita_name``,
        ``kita_gemeinde_ags``, ``mode``, ``grundschule_id``, ``grundschule_name``,
        ``grundschule_gemeinde_ags`` (None where unreachable), ``minutes`` (inf where the
        Kita is not connected or no school is reachable), ``other_gemeinde`` (bool).
    """
    gemeinde = offer_gemeinden(acc)
    names = acc.offers.set_index("id")["name"]
    parts = []
    for mode in modes:
        kitas = acc.offer_set("kita", mode)
        surface = acc.surface("grundschule", mode)
        seconds, row = surface.at(kitas.snap)
        school = np.where(row >= 0, surface.offer_ids[np.maximum(row, 0)], None)
        found = row >= 0
        school_gem = np.full(len(row), None, dtype=object)
        school_gem[found] = gemeinde.loc[school[found]].to_numpy()
        kita_gem = gemeinde.loc[kitas.ids].to_numpy()
        school_name = np.full(len(row), None, dtype=object)
        school_name[found] = names.loc[school[found]].to_numpy()
        parts.append(pd.DataFrame({
            "kita_id": kitas.ids, "kita_name": kitas.frame["name"].to_numpy(),
            "kita_gemeinde_ags": kita_gem, "mode": mode, "grundschule_id": school,
            "grundschule_name": school_name, "grundschule_gemeinde_ags": school_gem,
            "minutes": seconds / 60.0, "other_gemeinde": found & (school_gem != kita_gem),
        }))
    return pd.concat(parts, ignore_index=True)


def pair_minutes(acc: Accessibility, mode: str, kita_ids: np.ndarray, school_ids: np.ndarray,
                 limit_min: float) -> np.ndarray:
    """Minutes from each Kita to the Grundschule of the same position, by ``mode``.

    Bounded Dijkstra runs from the distinct schools on the transposed graph (each seeded
    with the school's access leg, :func:`geo.networks.routing.per_source`), read at the Kitas'
    nodes plus their access legs.

    Parameters
    ----------
    kita_ids, school_ids
        Active, connected offer ids of equal length.
    limit_min
        Search radius, minutes; longer trips are inf.
    """
    kitas = acc.offer_set("kita", mode)
    schools = acc.offer_set("grundschule", mode)
    krow = pd.Index(kitas.ids).get_indexer(kita_ids)
    srow = pd.Index(schools.ids).get_indexer(school_ids)
    graph_t = routing.transpose(acc.network(mode).csr())
    uniq, inv = np.unique(srow, return_inverse=True)
    out = np.full(len(krow), np.inf)
    for part, dist in routing.per_source(graph_t, schools.snap.node[uniq],
                                         schools.snap.seconds[uniq], limit_min * 60.0):
        sel = (inv >= part.start) & (inv < part.stop)
        out[sel] = (dist[inv[sel] - part.start, kitas.snap.node[krow[sel]]]
                    + kitas.snap.seconds[krow[sel]])
    return out / 60.0


def children_transition(acc: Accessibility, mode: str | None = None,
                        max_minutes: float | None = None) -> pd.DataFrame:
    """Per children cell: nearest Kita and Grundschule, their Gemeinden and distance.

    Parameters
    ----------
    mode
        Mode of "nearest" and of the Kita → Grundschule time (default
        ``ReportSettings.transition_mode``).
    max_minutes
        Kita and school further apart than this (minutes) make the cell *affected*
        (default ``ReportSettings.transition_max_min``).

    Returns
    -------
    pandas.DataFrame
        ``cell_id``, ``children_under_10``, ``unit_ags``, ``gemeinde_ags``, ``x``, ``y``
        (EPSG:3035), ``kita_id``, ``kita_minutes``, ``kita_gemeinde_ags``,
        ``grundschule_id``, ``grundschule_minutes``, ``grundschule_gemeinde_ags``,
        ``kita_grundschule_minutes`` (inf beyond the nearest-offer radius
        ``AccessSettings.nearest_max_min`` or where either is unreachable),
        ``other_gemeinde``, ``far_apart``, ``affected`` (bool).
    """
    rs = acc.settings.report
    mode = mode or rs.transition_mode
    max_minutes = rs.transition_max_min if max_minutes is None else max_minutes
    kita = acc.cells("kita", mode)
    school = acc.cells("grundschule", mode)
    gemeinde = offer_gemeinden(acc)
    both = kita["offer_id"].notna().to_numpy() & school["offer_id"].notna().to_numpy()
    pairs = pd.DataFrame({"k": kita["offer_id"][both], "s": school["offer_id"][both]})
    uniq = pairs.drop_duplicates(ignore_index=True)
    uniq["minutes"] = pair_minutes(acc, mode, uniq["k"].to_numpy(), uniq["s"].to_numpy(),
                                   acc.settings.access.nearest_max_min)
    apart = np.full(len(kita), np.inf)
    apart[both] = pairs.merge(uniq, on=["k", "s"], how="left")["minutes"].to_numpy()
    kita_gem = kita["offer_id"].map(gemeinde).to_numpy(dtype=object)
    school_gem = school["offer_id"].map(gemeinde).to_numpy(dtype=object)
    other = both & (kita_gem != school_gem)
    far = ~(apart <= max_minutes)
    return pd.DataFrame({
        "cell_id": kita["cell_id"], "children_under_10": kita["children_under_10"],
        "unit_ags": kita["unit_ags"], "gemeinde_ags": kita["gemeinde_ags"],
        "x": kita["x"], "y": kita["y"],
        "kita_id": kita["offer_id"], "kita_minutes": kita["minutes"],
        "kita_gemeinde_ags": kita_gem,
        "grundschule_id": school["offer_id"], "grundschule_minutes": school["minutes"],
        "grundschule_gemeinde_ags": school_gem,
        "kita_grundschule_minutes": apart,
        "other_gemeinde": other, "far_apart": far, "affected": other | far,
    })
