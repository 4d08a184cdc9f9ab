"""Quality of the offer catalogue: duplicate Kitas, unnamed offers, incomplete Gemeinden.

The tile POIs are what OpenStreetMap mappers entered; the same Kita may be mapped twice
(a node and the building, or two mappers), and rural areas are mapped less completely than
the city. This module says so instead of hiding it:

* :func:`dedupe` merges offers of the same category (``OfferSettings.dedupe_categories``,
  Kita and Hort) lying within ``OfferSettings.match_distance_m`` (100 m) whose names are
  the same after :func:`name_key` (case, punctuation and generic words such as
  "Kindertagesstätte" or "am" left out: "Kindergarten am Sieberdamm" = "Sieberdamm"). The
  offer from the newer source (``source_date``, the 2026 tiles over the 2021 ones) wins;
  between equals the longer name. Distinguishing words are kept, so "Krippe" and
  "Kindergarten" of one parish, "… I" and "… II" or a "(Nebenstelle)" stay apart. The
  merged pairs are returned, never silently dropped.
* :func:`is_unnamed` tells offers without a name ("Kindergarten (ohne Namen)").
* :func:`completeness` compares active Kitas per 100 children per Gemeinde with the
  county median. The census has no children under 6 on its 100 m grid; children under 10
  are what there is, and the ratio says so in its name.
"""

from __future__ import annotations

import logging
import re
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.settings import Settings
from geo.vocabulary import METRIC_CRS

log = logging.getLogger(__name__)

#: Suffix of the names given to offers that have none in their source.
UNNAMED: Final = "(ohne Namen)"
#: Words that say what kind of house an offer is, not which one (left out by name_key).
GENERIC_WORDS: Final = frozenset({
    "kindergarten", "kindertagesstätte", "kindertagesstaette", "kita",
    "kindertageseinrichtung", "am", "an", "der", "die", "das", "im", "in", "zum", "zur"})
#: Columns of the merged-pairs table of :func:`dedupe`.
MERGED_COLUMNS: Final = ("category", "kept_id", "kept_name", "kept_source_date",
                         "dropped_id", "dropped_name", "dropped_source_date", "distance_m")


def is_unnamed(names: pd.Series) -> np.ndarray:
    """Return whether each offer name is a placeholder for a missing one ("… (ohne Namen)")."""
    return names.fillna(UNNAMED).astype(str).str.endswith(UNNAMED).to_numpy(bool)


def name_key(name: str) -> str:
    """Return the comparable form of an offer name: lower case, words, no generic words.

    ``"Kindergarten am Sieberdamm"`` and ``"Sieberdamm"`` both give ``"sieberdamm"``;
    an unnamed offer keeps its placeholder (two unnamed Kitas 100 m apart are the same
    name; an unnamed and a named one are not).
    """
    words = re.findall(r"\w+", name.lower())
    return " ".join(w for w in words if w not in GENERIC_WORDS) or name.lower()


def _pairs(frame: gpd.GeoDataFrame, distance_m: float) -> pd.DataFrame:
    """Pairs (row positions) of one category within ``distance_m`` with the same name key."""
    xy = np.column_stack([frame.geometry.x, frame.geometry.y])
    pairs = cKDTree(xy).query_pairs(distance_m, output_type="ndarray")
    keys = frame["name"].map(name_key).to_numpy()
    same = keys[pairs[:, 0]] == keys[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    pairs = pairs[same]
    return pd.DataFrame({"a": pairs[:, 0], "b": pairs[:, 1],
                         "distance_m": np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)})


def dedupe(offers: gpd.GeoDataFrame, settings: Settings
           ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Merge duplicate offers of the dedupe categories; return the rest and the pairs.

    Parameters
    ----------
    offers
        Catalogue rows (EPSG:4326) with ``id``, ``name``, ``category``, ``source_date``.
    settings
        ``offers.dedupe_categories`` and ``offers.match_distance_m`` (metres).

    Returns
    -------
    kept, merged
        The offers without the dropped duplicates (order kept), and one row per dropped
        offer (:data:`MERGED_COLUMNS`): the offer it was merged into and their distance
        (metres, EPSG:3035). A group of three counts two rows.
    """
    rule = settings.offers
    merged = []
    drop: list[str] = []
    for category in rule.dedupe_categories:
        frame = offers[offers["category"] == category].to_crs(METRIC_CRS).reset_index(drop=True)
        pairs = _pairs(frame, rule.match_distance_m)
        if pairs.empty:
            continue
        n = len(frame)
        graph = coo_matrix((np.ones(len(pairs)), (pairs["a"], pairs["b"])), shape=(n, n))
        _, group = connected_components(graph, directed=False)
        rank = frame.assign(group=group, named=~is_unnamed(frame["name"]),
                            length=frame["name"].str.len()).sort_values(
            ["source_date", "named", "length", "id"], ascending=[False, False, False, True])
        loser = rank.duplicated("group")  # the newest, named, longest of each group wins
        winner = rank[~loser].set_index("group")
        for pos, row in rank[loser].iterrows():
            best = winner.loc[row["group"]]
            merged.append({
                "category": category, "kept_id": best["id"], "kept_name": best["name"],
                "kept_source_date": best["source_date"], "dropped_id": row["id"],
                "dropped_name": row["name"], "dropped_source_date": row["source_date"],
                "distance_m": float(best.geometry.distance(frame.geometry.iloc[pos]))})
            drop.append(str(row["id"]))
    table = pd.DataFrame(merged, columns=list(MERGED_COLUMNS))
    log.info("%d duplicate offers merged (%s within %.0f m, same name)", len(table),
             ", ".join(rule.dedupe_categories), rule.match_distance_m)
    return offers[~offers["id"].isin(drop)], table


def completeness(kitas: pd.Series, children: pd.Series, names: pd.Series,
                 settings: Settings) -> pd.DataFrame:
    """Kitas per 100 children under 10 per Gemeinde against the county median.

    Parameters
    ----------
    kitas
        Active Kitas per Gemeinde (AGS index; Gemeinden without a Kita may be missing).
    children
        Children under 10 per Gemeinde (census 100 m cells; AGS index, every Gemeinde).
        The census grid has no under-6 group: under 10 is the nearest published one.
    names
        Gemeinde name per AGS.
    settings
        ``offers.completeness_share``: a Gemeinde below this share of the median is flagged.

    Returns
    -------
    pandas.DataFrame
        Per Gemeinde (index order of ``children``): ``ags``, ``name``,
        ``children_under_10``, ``kitas``, ``kitas_per_100_children_under_10``,
        ``county_median`` (median over Gemeinden with children), ``flagged`` (bool; a
        Gemeinde with children and no Kita is flagged too) and ``message`` (German, empty
        when not flagged).
    """
    n = kitas.reindex(children.index).fillna(0).astype(int)
    ratio = (100.0 * n / children).where(children > 0)
    median = float(ratio.median())
    flagged = (ratio < settings.offers.completeness_share * median).fillna(False).to_numpy()
    out = pd.DataFrame({"ags": children.index.astype(str),
                        "name": names.reindex(children.index).to_numpy(),
                        "children_under_10": children.to_numpy(float), "kitas": n.to_numpy(),
                        "kitas_per_100_children_under_10": ratio.to_numpy(),
                        "county_median": median, "flagged": flagged})
    from geo.messages import text

    out["message"] = np.where(flagged, text("report.quality.incomplete"), "")
    return out
