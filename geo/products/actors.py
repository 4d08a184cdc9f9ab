"""The network of Familienzentren (Akteursnetz): catchments, partners, distances, links.

For every active Familienzentrum (FZ) :func:`actor_network` gives

* its **catchment** by walk and by bike: the children cells whose nearest FZ it is
  (:meth:`Accessibility.cells` ``offer_id``); catchments partition the children who reach
  any FZ at all (cells without one are counted apart, never dropped);
* its **potential partners**: the active offers of ``ChainSettings.partner_categories``
  whose own nearest FZ it is (:meth:`Accessibility.nearest_many`, k = 1, the same
  assignment as the cells') and their Träger;
* the **network travel time** to every other FZ by ``ChainSettings.actor_mode`` (bike):
  one Dijkstra per FZ on the transposed network seeded with its access leg
  (:func:`geo.networks.routing.per_source`), read at the other FZ's node plus its access
  leg — the engine's trip model, directed (one-way streets);
* **pairs**: catchments that *touch* (two cells of different catchments are neighbours on
  the 100 m grid, 8-neighbourhood, populated cells only) and *overlapping reach* (children
  within the all-ages stage's budget of both, from
  :meth:`geo.products.chain.ChainData.reach`);
* **planned** FZ: per planned FZ, the Gemeinden whose chain stages with Familienzentren
  gain children and whose gap it would close (:meth:`Accessibility.what_if`).

Outputs (:func:`write_actors`): tables (parquet + CSV), GraphML (networkx), GeoJSON (centres
and links) and a folium map with lines weighted by minutes.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from geo._io import atomic_path, atomic_write
from geo.engine.access import Accessibility
from geo.networks import routing
from geo.products import maps
from geo.products.chain import ChainData, chain_dir, summarise_reach, write_table
from geo.products.transition import offer_gemeinden
from geo.settings import Settings
from geo.vocabulary import WGS84, Status, label

log = logging.getLogger(__name__)

#: Grid steps (metres) of the 8 neighbours of a 100 m cell.
NEIGHBOURS: Final = tuple((dx, dy) for dx in (-100, 0, 100) for dy in (-100, 0, 100)
                          if (dx, dy) != (0, 0))
#: Modes of the catchments.
CATCHMENT_MODES: Final = ("walk", "bike")


@dataclass(frozen=True)
class ActorNetwork:
    """The result of :func:`actor_network` (tables described there)."""

    centres: pd.DataFrame
    catchments: pd.DataFrame
    partners: pd.DataFrame
    minutes: pd.DataFrame
    pairs: pd.DataFrame
    planned: pd.DataFrame
    not_reached: dict[str, float]


def catchments(acc: Accessibility) -> tuple[pd.DataFrame, dict[str, float]]:
    """Return the catchment cells of every active Familienzentrum by walk and by bike.

    Returns
    -------
    tuple
        Long form (``mode``, ``cell_id``, ``fz_id``, ``minutes``, ``children_under_10``,
        ``gemeinde_ags``, ``x``, ``y`` EPSG:3035 metres) of the cells with a nearest FZ,
        and per mode the children reaching no FZ (not connected or none in reach).
    """
    parts, lost = [], {}
    for mode in CATCHMENT_MODES:
        cells = acc.cells("familienzentrum", mode)
        has = cells["offer_id"].notna()
        lost[mode] = float(cells.loc[~has, "children_under_10"].sum())
        parts.append(cells.loc[has, ["mode", "cell_id", "offer_id", "minutes",
                                     "children_under_10", "gemeinde_ags", "x", "y"]]
                     .rename(columns={"offer_id": "fz_id"}))
    return pd.concat(parts, ignore_index=True), lost


def partners(acc: Accessibility) -> pd.DataFrame:
    """Return the potential partners of each Familienzentrum, by walk and by bike.

    Every active offer of ``ChainSettings.partner_categories`` belongs to the FZ nearest to
    it (:meth:`Accessibility.nearest_many`, k = 1; offers beyond
    ``AccessSettings.nearest_max_min`` belong to none).

    Returns
    -------
    pandas.DataFrame
        ``mode``, ``fz_id``, ``offer_id``, ``name``, ``category``, ``traeger``, ``minutes``
        (offer → FZ).
    """
    offers = acc.offers
    offers = offers[(offers["status"] == Status.active)
                    & offers["category"].isin(acc.settings.chain.partner_categories)]
    offers = offers.reset_index(drop=True)
    parts = []
    for mode in CATCHMENT_MODES:
        near = acc.nearest_many(offers["lon"].to_numpy(), offers["lat"].to_numpy(),
                                "familienzentrum", mode, k=1)
        rows = offers.loc[near["point"], ["id", "name", "category", "traeger"]]
        parts.append(pd.DataFrame({"mode": mode, "fz_id": near["offer_id"].to_numpy(),
                                   "offer_id": rows["id"].to_numpy(),
                                   "name": rows["name"].to_numpy(),
                                   "category": rows["category"].to_numpy(),
                                   "traeger": rows["traeger"].to_numpy(),
                                   "minutes": near["minutes"].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def centre_minutes(data: ChainData, mode: str, limit_min: float = 180.0) -> pd.DataFrame:
    """Return the network minutes between every two active Familienzentren by ``mode``.

    Returns
    -------
    pandas.DataFrame
        Square, index = from, columns = to (FZ ids); inf beyond ``limit_min`` or where
        an FZ is not connected; 0 on the diagonal.
    """
    offers = data.acc.offer_set("familienzentrum", mode)
    ids, snap = offers.ids, offers.snap
    seeds = offers.seeds
    out = np.full((len(ids), len(ids)), np.inf)
    for part, dist in routing.per_source(data.graph_t(mode), snap.node[seeds],
                                         snap.seconds[seeds], limit_min * 60.0):
        to = seeds[part]
        out[np.ix_(seeds, to)] = (dist[:, snap.node[seeds]].T + snap.seconds[seeds, None]) / 60.0
    out[~(out <= limit_min)] = np.inf
    np.fill_diagonal(out, 0.0)
    return pd.DataFrame(out, index=pd.Index(ids, name="from"), columns=pd.Index(ids, name="to"))


def touching(catch: pd.DataFrame) -> pd.DataFrame:
    """Return pairs of catchments that touch: neighbouring 100 m cells (8-neighbourhood).

    Returns
    -------
    pandas.DataFrame
        ``mode``, ``a``, ``b`` (FZ ids, a < b), ``cells`` (neighbouring cell pairs).
    """
    keys = catch[["mode", "x", "y", "fz_id"]].copy()
    keys[["x", "y"]] = keys[["x", "y"]].round().astype(np.int64)
    found = []
    for dx, dy in NEIGHBOURS:
        moved = keys.assign(x=keys["x"] + dx, y=keys["y"] + dy)
        hit = moved.merge(keys, on=["mode", "x", "y"], suffixes=("_a", "_b"))
        found.append(hit.loc[hit["fz_id_a"] < hit["fz_id_b"], ["mode", "fz_id_a", "fz_id_b"]])
    pairs = pd.concat(found, ignore_index=True).rename(columns={"fz_id_a": "a", "fz_id_b": "b"})
    return pairs.groupby(["mode", "a", "b"], as_index=False).size().rename(
        columns={"size": "cells"})


def overlap(data: ChainData, mode: str, ids: np.ndarray) -> pd.DataFrame:
    """Return the children within the all-ages budget of both FZ of each pair.

    The budget is the largest of the stages with Familienzentren (30 min by default).

    Returns
    -------
    pandas.DataFrame
        Square FZ × FZ (ids), children under 10.
    """
    budget = max(s.budget_min for s in data.settings.chain.stages
                 if "familienzentrum" in s.categories)
    reach = data.reach("familienzentrum", mode, budget)
    inside = (reach.minutes <= budget).astype(float)
    weighted = inside * data.cells["children_under_10"].to_numpy(float)[:, None]
    both = pd.DataFrame(inside.T @ weighted, index=reach.offer_ids, columns=reach.offer_ids)
    return both.reindex(index=ids, columns=ids, fill_value=0.0)


def pair_table(data: ChainData, minutes: pd.DataFrame, touch: pd.DataFrame) -> pd.DataFrame:
    """Return one row per unordered pair of active Familienzentren.

    Columns ``a``, ``b`` (ids, a < b), ``minutes_ab``, ``minutes_ba`` (network minutes by
    the actor mode, directed), ``minutes`` (the mean of both), ``touch_walk``,
    ``touch_bike`` (catchments touch), ``overlap_children_walk``,
    ``overlap_children_bike`` (children within the all-ages budget of both) and ``link``
    (at most ``ChainSettings.actor_link_max_min`` apart or touching by the actor mode).
    """
    ids = minutes.index.to_numpy()
    i, j = np.triu_indices(len(ids), k=1)
    m = minutes.to_numpy()
    out = pd.DataFrame({"a": ids[i], "b": ids[j], "minutes_ab": m[i, j], "minutes_ba": m[j, i]})
    swap = out["a"] > out["b"]
    out.loc[swap, ["a", "b", "minutes_ab", "minutes_ba"]] = \
        out.loc[swap, ["b", "a", "minutes_ba", "minutes_ab"]].to_numpy()
    out["minutes"] = (out["minutes_ab"] + out["minutes_ba"]) / 2.0
    for mode in CATCHMENT_MODES:
        hit = touch[touch["mode"] == mode].set_index(["a", "b"])["cells"]
        out[f"touch_{mode}"] = pd.MultiIndex.from_frame(out[["a", "b"]]).isin(hit.index)
        both = overlap(data, mode, ids).to_numpy()
        out[f"overlap_children_{mode}"] = both[i, j]
    cs = data.settings.chain
    out["link"] = (out["minutes"] <= cs.actor_link_max_min) | out[f"touch_{cs.actor_mode}"]
    return out


def planned_effects(data: ChainData) -> pd.DataFrame:
    """Return what each planned Familienzentrum would change in the chain, per Gemeinde.

    For every planned FZ alone (:meth:`ChainData.planned_minutes`), every stage with
    Familienzentren and mode walk/bike: the Gemeinden whose children gain.

    Returns
    -------
    pandas.DataFrame
        ``planned_id``, ``name``, ``mode``, ``stage``, ``gemeinde_ags``,
        ``reach_share``, ``reach_share_after``, ``children_gained``, ``closes_gap``.
    """
    cols = ["planned_id", "name", "mode", "stage", "gemeinde_ags", "reach_share",
            "reach_share_after", "children_gained", "closes_gap"]
    cells, gap = data.cells, data.settings.chain.gap_share
    rows = []
    for stage in data.settings.chain.stages:
        planned = data.stage_offers(stage, Status.planned)
        planned = planned[planned["category"] == "familienzentrum"]
        for mode in CATCHMENT_MODES:
            if stage.kind != "offers" or planned.empty:
                continue
            args = (cells["gemeinde_ags"].to_numpy(), cells["children_under_10"].to_numpy())
            before = summarise_reach(*args, data.stage_minutes(stage, mode), stage.budget_min)
            for k in range(len(planned)):
                after = data.planned_minutes(stage, mode, planned.iloc[[k]])
                if after is None:
                    continue
                now = summarise_reach(*args, after, stage.budget_min)
                gained = now["children_reached"] - before["children_reached"]
                hit = gained[gained > 0].index
                rows.append(pd.DataFrame({
                    "planned_id": planned["id"].iloc[k], "name": planned["name"].iloc[k],
                    "mode": mode, "stage": stage.key, "gemeinde_ags": hit,
                    "reach_share": before.loc[hit, "reach_share"].to_numpy(),
                    "reach_share_after": now.loc[hit, "reach_share"].to_numpy(),
                    "children_gained": gained.loc[hit].to_numpy(),
                    "closes_gap": ((before.loc[hit, "reach_share"] < gap)
                                   & (now.loc[hit, "reach_share"] >= gap)).to_numpy()}))
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def _centre_table(data: ChainData, catch: pd.DataFrame, part: pd.DataFrame,
                  minutes: pd.DataFrame) -> pd.DataFrame:
    """Return one row per active Familienzentrum (see :func:`actor_network`)."""
    cs = data.settings.chain
    offers = data.acc.offers.set_index("id")
    ids = minutes.index
    out = offers.loc[ids, ["name", "traeger", "lon", "lat"]].rename_axis("fz_id").reset_index()
    out.insert(2, "gemeinde_ags", offer_gemeinden(data.acc).loc[ids].to_numpy())
    gem_name = data.gemeinden["name"]
    out.insert(3, "gemeinde", gem_name.reindex(out["gemeinde_ags"]).to_numpy())
    for mode in CATCHMENT_MODES:
        mine = catch[catch["mode"] == mode].groupby("fz_id")
        out[f"children_{mode}"] = mine["children_under_10"].sum().reindex(ids).fillna(0) \
            .to_numpy()
        out[f"cells_{mode}"] = mine.size().reindex(ids).fillna(0).astype(int).to_numpy()
        p = part[part["mode"] == mode].groupby("fz_id")
        out[f"partners_{mode}"] = p["offer_id"].nunique().reindex(ids).fillna(0).astype(int) \
            .to_numpy()
        out[f"partner_traeger_{mode}"] = p["traeger"].nunique().reindex(ids).fillna(0) \
            .astype(int).to_numpy()
    mode = cs.actor_mode
    mine = part[part["mode"] == mode]
    counts = pd.crosstab(mine["fz_id"], mine["category"]).reindex(ids, fill_value=0)
    for category in cs.partner_categories:
        out[f"partners_{mode}_{category}"] = (counts[category] if category in counts
                                              else pd.Series(0, index=ids)).to_numpy()
    names = mine.dropna(subset=["traeger"]).groupby("fz_id")["traeger"] \
        .agg(lambda t: "; ".join(sorted(set(t))))
    out[f"partner_traeger_names_{mode}"] = names.reindex(ids).fillna("").to_numpy()
    other = minutes.to_numpy(copy=True)
    np.fill_diagonal(other, np.inf)
    nearest = other.argmin(axis=1)
    out[f"nearest_fz_{mode}"] = ids.to_numpy()[nearest]
    out[f"nearest_fz_minutes_{mode}"] = other[np.arange(len(ids)), nearest]
    out[f"fz_within_{cs.actor_near_min:g}min_{mode}"] = (other <= cs.actor_near_min).sum(axis=1)
    return out


def actor_network(data: ChainData) -> ActorNetwork:
    """Compute the Akteursnetz of the active Familienzentren (see the module doc).

    Returns
    -------
    ActorNetwork
        ``centres`` (per FZ: name, Träger, Gemeinde, lon/lat, catchment children and cells
        and partners per mode, partners per category and their Träger by the actor mode,
        the nearest other FZ and its minutes, the FZ within ``actor_near_min``),
        ``catchments`` (:func:`catchments`), ``partners`` (:func:`partners`), ``minutes``
        (:func:`centre_minutes`, actor mode), ``pairs`` (:func:`pair_table`), ``planned``
        (:func:`planned_effects`) and ``not_reached`` (children per mode without an FZ).
    """
    mode = data.settings.chain.actor_mode
    catch, lost = catchments(data.acc)
    part = partners(data.acc)
    minutes = centre_minutes(data, mode)
    pairs = pair_table(data, minutes, touching(catch))
    return ActorNetwork(_centre_table(data, catch, part, minutes), catch, part, minutes, pairs,
                        planned_effects(data), lost)


# ---------------------------------------------------------------------- outputs


def _plain(value: Any) -> Any:
    """Return ``value`` as a GraphML attribute: numpy scalars unwrapped, missing → ``""``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return value


def to_graph(net: ActorNetwork) -> nx.Graph:
    """Return the network as an undirected networkx graph.

    A node per active FZ (table columns as attributes), an edge per linked pair
    (``minutes`` = mean of both directions, actor mode).
    """
    graph = nx.Graph()
    for row in net.centres.to_dict("records"):
        graph.add_node(row["fz_id"], **{k: _plain(v) for k, v in row.items() if k != "fz_id"})
    for row in net.pairs[net.pairs["link"]].to_dict("records"):
        graph.add_edge(row["a"], row["b"],
                       **{k: _plain(v) for k, v in row.items() if k not in ("a", "b")})
    return graph


def to_geojson(net: ActorNetwork) -> gpd.GeoDataFrame:
    """Return centres (points) and links (lines, with minutes) as one GeoDataFrame (WGS84)."""
    centres = net.centres.set_index("fz_id")
    links = net.pairs[net.pairs["link"]]
    lines = shapely.linestrings(np.stack([
        centres.loc[links["a"], ["lon", "lat"]].to_numpy(),
        centres.loc[links["b"], ["lon", "lat"]].to_numpy()], axis=1)) if len(links) else []
    points = gpd.GeoDataFrame(net.centres.assign(kind="familienzentrum"),
                              geometry=gpd.points_from_xy(net.centres["lon"], net.centres["lat"]),
                              crs=WGS84)
    edges = gpd.GeoDataFrame(links.assign(kind="link"), geometry=list(lines), crs=WGS84)
    both = pd.concat([points, edges], ignore_index=True)
    return gpd.GeoDataFrame(both.replace([np.inf, -np.inf], np.nan), geometry="geometry",
                            crs=WGS84)


def actor_map(data: ChainData, net: ActorNetwork) -> folium.Map:
    """Draw the Familienzentren and their links (thicker and darker = fewer minutes)."""
    cs = data.settings.chain
    mode = cs.actor_mode
    title = (f"Akteursnetz der Familienzentren {label('mode', mode)}: Verbindungen bis "
             f"{cs.actor_link_max_min:g} min oder mit angrenzenden Einzugsgebieten – "
             f"{data.acc.region.title}")
    legend = ("<b>Minuten zwischen Familienzentren</b>"
              + "".join(f'<div><i style="display:inline-block;width:24px;height:{w}px;'
                        f'background:{c};margin-right:6px;vertical-align:middle"></i>{t}</div>'
                        for w, c, t in ((6, "#08306b", "≤ 10"), (4, "#2171b5", "10–20"),
                                        (2, "#6baed6", "> 20"))))
    m = maps.new_map(data.settings, title, legend)
    centres = net.centres.set_index("fz_id")
    layer = folium.FeatureGroup(name="Verbindungen (Minuten)")
    for row in net.pairs[net.pairs["link"]].itertuples():
        width, colour = ((6, "#08306b") if row.minutes <= 10 else
                         (4, "#2171b5") if row.minutes <= 20 else (2, "#6baed6"))
        a, b = centres.loc[row.a], centres.loc[row.b]
        folium.PolyLine([[a["lat"], a["lon"]], [b["lat"], b["lon"]]], weight=width,
                        color=colour, opacity=0.8,
                        tooltip=f"{html.escape(str(a['name']))} ↔ {html.escape(str(b['name']))}: "
                                f"{row.minutes:.0f} min").add_to(layer)
    layer.add_to(m)
    points = folium.FeatureGroup(name="Familienzentren")
    offers = data.acc.offers
    planned = offers[(offers["category"] == "familienzentrum")
                     & (offers["status"] == Status.planned)]
    for frame, colour in ((offers.set_index("id").loc[centres.index].reset_index(), "#08306b"),
                          (planned, "#e6550d")):
        for _, offer in frame.iterrows():
            marker = folium.CircleMarker([offer["lat"], offer["lon"]], radius=7, color=colour,
                                         fill=True, fill_opacity=0.9,
                                         tooltip=html.escape(str(offer["name"])))
            marker.add_child(maps.Popup(maps.offer_popup(offer)))
            marker.add_to(points)
    points.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def write_actors(settings: Settings, acc: Accessibility | None = None,
                 map_dir: Path | None = None) -> dict[str, Any]:
    """Compute the Akteursnetz and write its tables, GraphML, GeoJSON and map.

    Writes to ``<processed>/<region>/chain/``: ``familienzentren``, ``fz_paare``,
    ``fz_partner``, ``fz_geplant`` (parquet + CSV), ``akteursnetz.graphml``,
    ``akteursnetz.geojson``; and ``akteursnetz-<actor mode>.html`` to ``map_dir``
    (default ``MapSettings.out_dir``).

    Returns
    -------
    dict
        CLI summary: ``familienzentren``, ``mode``, ``within_min``, ``with_fz_within``
        (centres with another FZ within ``actor_near_min``), ``links``, ``touching``,
        ``catchment_children`` and ``not_reached`` per mode, ``planned`` (per planned FZ
        the Gemeinden whose gap it closes), ``outputs``, ``seconds``.
    """
    t0 = time.perf_counter()
    data = ChainData(acc or Accessibility(settings))
    net = actor_network(data)
    cs = settings.chain
    folder = chain_dir(settings)
    outputs = write_table(net.centres, folder / "familienzentren")
    outputs += write_table(net.pairs, folder / "fz_paare")
    outputs += write_table(net.partners, folder / "fz_partner")
    outputs += write_table(net.planned, folder / "fz_geplant")
    graphml = folder / "akteursnetz.graphml"
    with atomic_path(graphml) as tmp:
        nx.write_graphml(to_graph(net), tmp)
    geojson = atomic_write(folder / "akteursnetz.geojson",
                           lambda p: p.write_text(to_geojson(net).to_json(), "utf-8"))
    page = maps.save_map(actor_map(data, net),
                      (map_dir or settings.maps.out_dir) / f"akteursnetz-{cs.actor_mode}.html")
    near = f"fz_within_{cs.actor_near_min:g}min_{cs.actor_mode}"
    closing = net.planned[net.planned["closes_gap"]]
    return {
        "familienzentren": len(net.centres), "mode": cs.actor_mode,
        "within_min": cs.actor_near_min,
        "with_fz_within": int((net.centres[near] > 0).sum()),
        "links": int(net.pairs["link"].sum()),
        "touching": {m: int(net.pairs[f"touch_{m}"].sum()) for m in CATCHMENT_MODES},
        "catchment_children": {m: float(net.catchments.loc[net.catchments["mode"] == m,
                                                           "children_under_10"].sum())
                               for m in CATCHMENT_MODES},
        "not_reached": net.not_reached,
        "planned": {name: sorted(set(g["gemeinde_ags"] + "/" + g["mode"] + "/" + g["stage"]))
                    for name, g in closing.groupby("name")},
        "outputs": [str(p) for p in [*outputs, graphml, geojson, page]],
        "seconds": round(time.perf_counter() - t0, 1)}
