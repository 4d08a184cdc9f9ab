"""Where need and distance meet: a priority table per Gemeinde.

"Wo Bedarf und Entfernung zusammenkommen": for every Gemeinde its children under 10 and
families with minors, its single-parent families (the family type with by far the highest
SGB II rate), their share, the walk and bike coverage of Kita, Grundschule and
Familienzentrum weighted by children and by single-parent families, and a rank.

The rank formula (documented in the reports)::

    unerreicht(G) = 1/|K×M| · Σ_{k∈K, m∈M} Σ_{Zellen z in G} w_z · [t_z,k,m > T]

with K = the core categories (:data:`CORE_CATEGORIES`), M = walk and bike, T = the
white-spot threshold (``AccessSettings.white_spot_min``, 15 minutes) and w_z = the
single-parent families of cell z: the number of single-parent families that, on average
over the three offers and two modes, have no such offer within T. Rank 1 is the largest;
ties go to the Gemeinde with more unreached children. It combines need (how many families)
with distance (which share lives beyond T) in one count of families, so it can be read and
checked by hand; the shares beside it show how much of it is distance.

Caveats stated with the table: the 100 m family counts are SAFE-perturbed and cells with
fewer than 3 families are suppressed (counted as 0 here, so sums are lower bounds); the
share of single-parent families divides two such sums and is approximate.
"""

from __future__ import annotations

import logging
import time
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo._io import atomic_path, neutralise_frame
from geo.engine.access import Accessibility
from geo.products import maps
from geo.vocabulary import Weight

log = logging.getLogger(__name__)

#: Offers of the prevention chain whose reach decides the rank.
CORE_CATEGORIES: Final = ("kita", "grundschule", "familienzentrum")
#: Modes without a car: the families this table is about have none.
CORE_MODES: Final = ("walk", "bike")
#: Weights of the coverage columns: children and single-parent families.
TABLE_WEIGHTS: Final = (Weight.children_under_10, Weight.single_parent_families)
#: The rank formula in German, as the reports print it.
FORMULA: Final = (
    "Rang nach der Zahl der Alleinerziehenden-Familien, die ein Angebot nicht in "
    "höchstens 15 Minuten erreichen – gemittelt über Kita, Grundschule und Familienzentrum, "
    "zu Fuß und mit dem Rad (bei Gleichstand: mehr Kinder unter 10 ohne Angebot zuerst)")


def _beyond(acc: Accessibility, category: str, mode: str, weight: Weight,
            minutes: float) -> pd.DataFrame:
    """Weight per Gemeinde in total and beyond ``minutes`` of the nearest offer.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``gemeinde_ags``: ``total`` and ``beyond`` (persons or families; not
        connected and unreachable cells count as beyond).
    """
    cells = acc.cells(category, mode, weight=weight)
    w = cells[weight.value].fillna(0.0).to_numpy(dtype=float)
    far = ~(cells["minutes"].to_numpy() <= minutes)
    frame = pd.DataFrame({"gemeinde_ags": cells["gemeinde_ags"].to_numpy(), "total": w,
                          "beyond": np.where(far, w, 0.0)})
    return frame.groupby("gemeinde_ags").sum()


def priority_table(acc: Accessibility) -> pd.DataFrame:
    """Rank the Gemeinden of the engine's region by need and distance, rank 1 first.

    Parameters
    ----------
    acc
        The engine (walk and bike networks, the children and need grids).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``ags``, ``name``, ``unit_ags``, ``children_under_10``,
        ``families_with_minors``, ``single_parent_families`` (families),
        ``single_parent_share`` (0–1, approximate), per category and mode
        ``<category>_<mode>_<weight>_share`` (0–1 of the weight within
        ``white_spot_min`` minutes), ``unreached_single_parent_families`` and
        ``unreached_children`` (mean over categories × modes, see the module docstring).
    """
    limit = acc.settings.access.white_spot_min
    gemeinden = acc.units("gemeinde")
    table = pd.DataFrame({"ags": gemeinden["ags"].to_numpy(),
                          "name": gemeinden["name"].to_numpy(),
                          "unit_ags": gemeinden["unit_ags"].to_numpy()}).set_index("ags",
                                                                                    drop=False)
    need = acc.cell_frame("need").groupby("gemeinde_ags")
    children = acc.cell_frame("children").groupby("gemeinde_ags")["children_under_10"].sum()
    table["children_under_10"] = children.reindex(table.index).fillna(0).astype(np.int64)
    for column in ("families_with_minors", "single_parent_families"):
        table[column] = need[column].sum().reindex(table.index).fillna(0.0)
    table["single_parent_share"] = (table["single_parent_families"]
                                    / table["families_with_minors"].where(
                                        table["families_with_minors"] > 0))
    unreached = {w: np.zeros(len(table)) for w in TABLE_WEIGHTS}
    for category in CORE_CATEGORIES:
        for mode in CORE_MODES:
            for weight in TABLE_WEIGHTS:
                part = _beyond(acc, category, mode, weight, limit).reindex(table.index)
                part = part.fillna(0.0)
                share = 1 - part["beyond"] / part["total"].where(part["total"] > 0)
                table[f"{category}_{mode}_{weight.value}_share"] = share
                unreached[weight] += part["beyond"].to_numpy()
    runs = len(CORE_CATEGORIES) * len(CORE_MODES)
    table["unreached_single_parent_families"] = (
        unreached[Weight.single_parent_families] / runs)
    table["unreached_children"] = unreached[Weight.children_under_10] / runs
    table = table.sort_values(["unreached_single_parent_families", "unreached_children"],
                              ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def priority_dir(acc: Accessibility) -> Path:
    """Folder of the priority table of the engine's region."""
    return acc.settings.processed_dir / acc.region.name / "priority"


def write_priority(acc: Accessibility) -> dict[str, Any]:
    """Compute and store the priority table (``priority.parquet`` and a formula-safe CSV).

    Returns
    -------
    dict
        JSON summary: ``gemeinden``, ``top`` (the first five rows: rank, name, families
        and shares), ``formula``, ``outputs``, ``seconds``.
    """
    t0 = time.perf_counter()
    table = priority_table(acc)
    out = priority_dir(acc)
    with atomic_path(out / "priority.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(out / "priority.csv") as tmp:
        neutralise_frame(table).to_csv(tmp, index=False)
    target = maps.save_map(priority_map(acc, table),
                           acc.settings.maps.out_dir / "bedarf-und-entfernung.html")
    log.info("priority table of %d Gemeinden written to %s, map %s", len(table), out, target)
    top = table.head(5)
    return {
        "gemeinden": len(table),
        "top": [{"rank": int(r["rank"]), "name": r["name"],
                 "single_parent_families": round(float(r["single_parent_families"])),
                 "single_parent_share": round(float(r["single_parent_share"]), 3),
                 "children_under_10": int(r["children_under_10"]),
                 "unreached_single_parent_families":
                     round(float(r["unreached_single_parent_families"]), 1)}
                for _, r in top.iterrows()],
        "formula": FORMULA,
        "outputs": [str(out / "priority.parquet"), str(out / "priority.csv"), str(target)],
        "seconds": round(time.perf_counter() - t0, 2),
    }


#: Colours of the map classes of unreached single-parent families (ColorBrewer Purples,
#: deliberately not the green-to-red of the travel-time scale: this is need, not time).
MAP_COLOURS: Final = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")


def priority_map(acc: Accessibility, table: pd.DataFrame) -> folium.Map:
    """Map the priority table: Gemeinden shaded by unreached single-parent families.

    Parameters
    ----------
    acc
        The engine (region, settings, Gemeinde polygons).
    table
        :func:`priority_table` of the same engine.
    """
    gemeinden = acc.units("gemeinde").set_index("ags")
    value = table.set_index("ags")["unreached_single_parent_families"]
    edges = np.quantile(value, [0.2, 0.4, 0.6, 0.8])
    colour = np.asarray(MAP_COLOURS)[np.searchsorted(edges, value.to_numpy(), side="right")]
    shown = gpd.GeoDataFrame({
        "Rang": table["rank"].to_numpy(), "Gemeinde": table["name"].to_numpy(),
        "Alleinerziehende ohne Angebot ≤ 15 min (Mittel)":
            table["unreached_single_parent_families"].round(1).to_numpy(),
        "Alleinerziehende (Familien)": table["single_parent_families"].round().astype(int)
        .to_numpy(),
        "Kinder unter 10": table["children_under_10"].to_numpy(),
        "colour": colour,
    }, geometry=gemeinden.loc[table["ags"]].geometry.to_crs("EPSG:4326").to_numpy(),
        crs="EPSG:4326")
    legend = ("<b>Alleinerziehenden-Familien ohne Kita, Grundschule oder Familienzentrum in "
              "15 min (zu Fuß/Rad, Mittel)</b>" + "".join(
                  f'<div><i style="display:inline-block;width:14px;height:14px;'
                  f'background:{c};margin-right:6px;vertical-align:middle"></i>'
                  f"{label}</div>" for c, label in zip(MAP_COLOURS, _class_labels(edges),
                                                       strict=True)))
    m = maps.new_map(acc.settings, "Wo Bedarf und Entfernung zusammenkommen – "
                      f"{acc.region.title}", legend)
    fields = [c for c in shown.columns if c not in ("geometry", "colour")]
    folium.GeoJson(
        shown, name="Wo Bedarf und Entfernung zusammenkommen",
        style_function=lambda f: {"color": "#252525", "weight": 1,
                                  "fillColor": f["properties"]["colour"], "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[f"{f}:" for f in fields],
                                      sticky=True)).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _class_labels(edges: np.ndarray) -> list[str]:
    """Labels of the five map classes bounded by ``edges`` (families, one decimal)."""
    bounds = [f"{e:.1f}".replace(".", ",") for e in edges]
    return ([f"bis {bounds[0]}"] + [f"{a} – {b}" for a, b in pairwise(bounds)]
            + [f"über {bounds[-1]}"])
