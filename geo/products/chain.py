"""The prevention chain made visible: which stages of a child's life each Gemeinde covers.

The stages (:class:`geo.settings.ChainStage`, table in :class:`geo.settings.ChainSettings`)
run from pregnancy to primary school: Frühe Hilfen, Krippe, Kindergarten, the Kita →
Grundschule transition, Grundschule and Hort, and the offers for all ages (Familienzentrum,
Beratung, Familienbildung). For every Gemeinde, stage and mode without a car (walk, bike;
transit when a timetable is loaded) :func:`chain_matrix` gives

* ``reach_share``: children under 10 (Zensus 100 m cells) who reach at least one offer of
  the stage within its time budget, over all children of the Gemeinde — the minimum over
  the stage's categories of :meth:`Accessibility.cells` minutes. Offers outside the
  stage's ages do not count: where a category has active offers outside them, the minutes
  come from an engine on the catalogue without those offers (the facade's constructor
  takes an offer catalogue), so they stay the engine's own;
* ``median_minutes``: children-weighted median of those minutes over the cells with a
  finite time (the engine's definition, :mod:`geo.engine.coverage`);
* ``offers`` and ``traeger``: distinct active offers (and their Träger) that some
  populated cell of the Gemeinde reaches within the budget. Exact: one Dijkstra per offer
  on the transposed network, bounded by the budget, seeded with the offer's access leg
  (:func:`geo.networks.routing.per_source`), read at the cells' nodes plus the cells'
  access legs — the engine's trip model, offer by offer instead of nearest only;
* ``gap``: ``reach_share`` below :attr:`ChainSettings.gap_share` (a broken link);
* ``reach_share_with_planned`` / ``gap_with_planned``: the same after activating the
  planned Familienzentren (:meth:`Accessibility.what_if`), for stages with Familienzentren.

The transition stage reuses :func:`geo.products.transition.children_transition`: a child's
link is intact when its nearest Kita and nearest Grundschule lie in the same Gemeinde and
at most the budget apart.

Offer ages: the offer's own ``age_from``/``age_to`` where given (``age_source`` =
``offer``), else a name rule (``name``: Krippe), else the category default
(``category``); :func:`offer_ages`.

Transit: cells come from the engine's transit mode; its offer counts are the distinct
nearest offers within the budget (a lower bound, ``offers_exact`` = False) and the
transition is street modes only. Without a timetable the mode is skipped with the
engine's message.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from geo._io import atomic_path
from geo.engine.access import Accessibility, AccessInputError
from geo.errors import EmptyResultError, ErreichbarError, RegionError
from geo.networks import routing
from geo.networks.snap import NodeIndex, Snap
from geo.products import maps, transition
from geo.settings import ChainStage, Settings
from geo.vocabulary import WGS84, Mode, Status, label

log = logging.getLogger(__name__)

#: Colours of 0, 1, 2, … broken links (ColorBrewer YlOrRd, 7 classes; last = 6 or more).
GAP_COLOURS: Final = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
                      "#b10026")
#: Where an offer's ages come from (:func:`offer_ages`).
AGE_SOURCES: Final = ("offer", "name", "category")
#: Columns of the chain matrix, in order.
COLUMNS: Final = (
    "gemeinde_ags", "gemeinde", "stage", "stage_label", "kind", "mode", "budget_min",
    "age_from", "age_to", "categories", "children", "children_reached", "reach_share",
    "median_minutes", "offers", "traeger", "offers_exact", "offers_age_offer",
    "offers_age_name", "offers_age_category", "age_source", "gap",
    "reach_share_with_planned", "gap_with_planned")


def stage_label(stage: ChainStage, lang: str = "de") -> str:
    """Return the label of ``stage``: its own (settings) or the vocabulary's ``stage`` label."""
    if stage.label and lang == "de":
        return stage.label
    return label("stage", stage.key, lang)


def offer_ages(offers: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Age range (years) of every offer and where it comes from.

    Parameters
    ----------
    offers
        Catalogue with ``id``, ``name``, ``category``, ``age_from``, ``age_to``.
    settings
        ``chain.category_ages`` (defaults) and ``chain.name_ages`` (name rules).

    Returns
    -------
    pandas.DataFrame
        Indexed by offer id: ``age_from``, ``age_to`` (years) and ``age_source``
        (``offer``: the offer's own value, the missing bound from the default; ``name``: a
        name rule, the first matching one; ``category``: the category default).
    """
    cs = settings.chain
    cat = offers["category"].astype(str)
    default = cat.map(lambda c: cs.category_ages.get(c, (0.0, 18.0)))
    lo = default.str[0].astype(float)
    hi = default.str[1].astype(float)
    source = pd.Series("category", index=offers.index, dtype=object)
    names = offers["name"].fillna("").astype(str)
    for rule in reversed(cs.name_ages):  # earlier rules win: applied last
        hit = ((cat == rule.category)
               & names.str.contains(rule.pattern, case=False, regex=True)
               & ~names.str.contains(rule.unless, case=False, regex=True))
        lo, hi = lo.mask(hit, rule.age_from), hi.mask(hit, rule.age_to)
        source = source.mask(hit, "name")
    own_lo = pd.to_numeric(offers["age_from"], errors="coerce")
    own_hi = pd.to_numeric(offers["age_to"], errors="coerce")
    own = own_lo.notna() | own_hi.notna()
    lo = own_lo.where(own_lo.notna(), lo)
    hi = own_hi.where(own_hi.notna(), hi)
    source = source.mask(own, "offer")
    return pd.DataFrame({"age_from": lo.to_numpy(), "age_to": hi.to_numpy(),
                         "age_source": source.to_numpy()}, index=offers["id"].to_numpy())


def in_stage(ages: pd.DataFrame, categories: pd.Series, stage: ChainStage) -> np.ndarray:
    """Return, per offer, whether it belongs to ``stage``.

    It does when its category is one of the stage's and its age range ``[age_from,
    age_to]`` (years) overlaps ``[stage.age_from, stage.age_to)``.
    """
    return (categories.isin(stage.categories).to_numpy()
            & (ages["age_from"].to_numpy() < stage.age_to)
            & (ages["age_to"].to_numpy() > stage.age_from))


def _weighted_median(key: np.ndarray, minutes: np.ndarray, weight: np.ndarray) -> pd.Series:
    """Return the children-weighted median minutes per key over cells with a finite time.

    The median is the smallest time at which the cumulative weight reaches half of the
    key's finite weight (the engine's definition, :mod:`geo.engine.coverage`).
    """
    frame = pd.DataFrame({"key": key, "minutes": minutes, "weight": weight.astype(float)})
    frame = frame[np.isfinite(frame["minutes"])].sort_values(["key", "minutes"])
    grouped = frame.groupby("key", sort=False)["weight"]
    hit = frame[grouped.cumsum() >= 0.5 * grouped.transform("sum") - 1e-9]
    return hit.groupby("key")["minutes"].first()


def summarise_reach(gemeinde: np.ndarray, children: np.ndarray, minutes: np.ndarray,
                    budget_min: float) -> pd.DataFrame:
    """Children, children reached, reach share and median minutes per Gemeinde.

    Parameters
    ----------
    gemeinde
        AGS per cell.
    children
        Children under 10 per cell.
    minutes
        Minutes per cell (inf = unreachable or not connected).
    budget_min
        Time budget, minutes: a cell is reached when its minutes are at most this.

    Returns
    -------
    pandas.DataFrame
        Indexed by AGS: ``children``, ``children_reached``, ``reach_share`` (0–1),
        ``median_minutes`` (NaN where no cell has a finite time).
    """
    weight = pd.Series(children.astype(float))
    total = weight.groupby(gemeinde).sum()
    reached = weight.where(minutes <= budget_min, 0.0).groupby(gemeinde).sum()
    out = pd.DataFrame({"children": total, "children_reached": reached})
    out["reach_share"] = out["children_reached"] / out["children"].where(out["children"] > 0)
    out["median_minutes"] = _weighted_median(gemeinde, minutes, children)
    out.index.name = "gemeinde_ags"
    return out


@dataclass(frozen=True)
class OfferReach:
    """Minutes from every children cell to each offer of one category and mode.

    Times above ``limit_min`` are inf; rows are the cells of :attr:`ChainData.cells`.
    """

    offer_ids: np.ndarray  #: object (str) per column
    minutes: np.ndarray  #: float64, cells × offers
    limit_min: float


@dataclass
class ChainData:
    """The figures of the chain for one engine, computed on first use and kept.

    Parameters
    ----------
    acc
        A loaded engine (:class:`geo.engine.access.Accessibility`).
    """

    acc: Accessibility
    _snaps: dict[str, Snap] = field(default_factory=dict)
    _graphs: dict[str, csr_matrix] = field(default_factory=dict)
    _reach: dict[tuple[str, str, float], OfferReach] = field(default_factory=dict)
    _engines: dict[frozenset[str], Accessibility] = field(default_factory=dict)
    _stage_cells: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """The engine's settings."""
        return self.acc.settings

    @cached_property
    def cells(self) -> pd.DataFrame:
        """Children cells in the engine's order.

        Columns ``cell_id``, ``children_under_10``, ``unit_ags``, ``gemeinde_ags``, ``x``,
        ``y`` (EPSG:3035 centres, metres).
        """
        frame = self.acc.cell_frame("children")
        return pd.DataFrame(frame[["cell_id", "children_under_10", "unit_ags", "gemeinde_ags",
                                   "x", "y"]]).reset_index(drop=True)

    @cached_property
    def ages(self) -> pd.DataFrame:
        """:func:`offer_ages` of the catalogue (all statuses), indexed by offer id."""
        return offer_ages(self.acc.offers, self.settings)

    @cached_property
    def gemeinden(self) -> gpd.GeoDataFrame:
        """Gemeinden of the region (EPSG:3035), indexed by AGS."""
        return self.acc.units("gemeinde").set_index("ags", drop=False)

    def stage(self, key: str) -> ChainStage:
        """Return the stage called ``key`` (AccessInputError naming the stages otherwise)."""
        for stage in self.settings.chain.stages:
            if stage.key == key:
                return stage
        raise AccessInputError(f"unknown stage {key!r}; stages: "
                               + ", ".join(s.key for s in self.settings.chain.stages))

    def stage_offers(self, stage: ChainStage, status: str = Status.active) -> pd.DataFrame:
        """Return the offers of ``stage`` with ``status``.

        Catalogue columns (no geometry) with ``age_from``, ``age_to`` and ``age_source`` of
        :func:`offer_ages`.
        """
        offers = self.acc.offers.reset_index(drop=True)
        ages = self.ages.loc[offers["id"]].reset_index(drop=True)
        keep = in_stage(ages, offers["category"], stage) & (offers["status"] == status).to_numpy()
        out = offers.drop(columns=["age_from", "age_to"]).join(ages)[keep]
        return pd.DataFrame(out.drop(columns="geometry")).reset_index(drop=True)

    def engine_for(self, stage: ChainStage) -> Accessibility:
        """Return the engine whose nearest offers are the stage's.

        That is the shared engine when every active offer of the stage's categories is of
        the stage's ages, else an engine on the catalogue without the others (same settings
        and cells; its networks load in well under a second).
        """
        offers = self.acc.offers
        active = offers[(offers["status"] == Status.active)
                        & offers["category"].isin(stage.categories)]
        ok = in_stage(self.ages.loc[active["id"]], active["category"], stage)
        drop = frozenset(active["id"].to_numpy()[~ok])
        if not drop:
            return self.acc
        if drop not in self._engines:
            log.info("stage %s: %d offers of other ages left out", stage.key, len(drop))
            self._engines[drop] = Accessibility(
                self.settings, offers=offers[~offers["id"].isin(drop)].reset_index(drop=True),
                children=self.acc.cell_frame("children"))
        return self._engines[drop]

    def snap(self, mode: str) -> Snap:
        """Join the children cells to the network of ``mode``.

        The engine's snapping (:class:`geo.networks.snap.NodeIndex` of
        :meth:`Accessibility.network`) on the cells' EPSG:3035 centres, as
        :meth:`Accessibility.cells` does: :meth:`Accessibility.snap` takes WGS84, and the
        round trip would move the centres by up to 0.3 mm.
        """
        if mode not in self._snaps:
            index = NodeIndex(self.acc.network(mode), self.settings)
            self._snaps[mode] = index.snap_xy(self.cells["x"].to_numpy(float),
                                              self.cells["y"].to_numpy(float))
        return self._snaps[mode]

    def graph_t(self, mode: str) -> csr_matrix:
        """Return the transposed travel-time graph of ``mode`` (seconds), towards offers."""
        if mode not in self._graphs:
            self._graphs[mode] = routing.transpose(self.acc.network(mode).csr())
        return self._graphs[mode]

    def reach(self, category: str, mode: str, limit_min: float) -> OfferReach:
        """Return the minutes from every children cell to each active offer (cached).

        Offers of ``category`` by a street ``mode``; times above ``limit_min`` are inf. One
        bounded Dijkstra per offer on the transposed graph seeded with the offer's access
        leg, read at the cells' nodes plus their access legs: the trip of
        :meth:`Accessibility.cells`, for each offer instead of the nearest.
        """
        key = (category, mode, float(limit_min))
        if key not in self._reach:
            try:
                offers = self.acc.offer_set(category, mode)
            except EmptyResultError:
                self._reach[key] = OfferReach(np.array([], dtype=object),
                                              np.full((len(self.cells), 0), np.inf), limit_min)
                return self._reach[key]
            seeds = offers.seeds
            snap = self.snap(mode)
            conn = np.flatnonzero(snap.connected)
            out = np.full((len(self.cells), len(seeds)), np.inf)
            for part, dist in routing.per_source(self.graph_t(mode), offers.snap.node[seeds],
                                                 offers.snap.seconds[seeds], limit_min * 60.0):
                out[conn, part] = ((dist[:, snap.node[conn]].T + snap.seconds[conn, None])
                                   / 60.0)
            out[~(out <= limit_min)] = np.inf
            self._reach[key] = OfferReach(offers.ids[seeds], out, limit_min)
        return self._reach[key]

    # ------------------------------------------------------------------ per stage

    def stage_minutes(self, stage: ChainStage, mode: str) -> np.ndarray:
        """Return the minutes from every children cell to the nearest offer of ``stage``.

        The minimum over the stage's categories of :meth:`Accessibility.cells` by ``mode``
        of :meth:`engine_for` (inf = none reachable or not connected).

        Raises
        ------
        DataError
            Mode ``transit`` and no timetable is loaded.
        """
        key = (stage.key, mode)
        if key not in self._stage_cells:
            engine = self.engine_for(stage)
            best = np.full(len(self.cells), np.inf)
            for category in stage.categories:
                try:
                    minutes = engine.cells(category, mode)["minutes"].to_numpy(float)
                except EmptyResultError:
                    continue
                best = np.minimum(best, minutes)
            self._stage_cells[key] = best
        return self._stage_cells[key]

    def reachable(self, stage: ChainStage, mode: str) -> pd.DataFrame:
        """Return the active offers of ``stage`` each Gemeinde's children reach in time.

        Returns
        -------
        pandas.DataFrame
            ``gemeinde_ags``, ``offer_id``, ``minutes`` (the best over the Gemeinde's
            populated cells). Street modes: every such offer (:meth:`reach`); transit: the
            nearest offers of the cells within the budget (a lower bound).
        """
        budget, cells = stage.budget_min, self.cells
        if not self.acc.engine(mode).has_network:
            engine = self.engine_for(stage)
            parts = []
            for category in stage.categories:
                try:
                    frame = engine.cells(category, mode)
                except EmptyResultError:
                    continue
                parts.append(frame.loc[frame["minutes"] <= budget,
                                       ["gemeinde_ags", "offer_id", "minutes"]])
            found = (pd.concat(parts, ignore_index=True) if parts
                     else pd.DataFrame(columns=["gemeinde_ags", "offer_id", "minutes"]))
        else:
            eligible = set(self.stage_offers(stage)["id"])
            ids, mins = [], []
            for category in stage.categories:
                r = self.reach(category, mode, budget)
                keep = np.isin(r.offer_ids, list(eligible))
                ids.append(r.offer_ids[keep])
                mins.append(r.minutes[:, keep])
            offer_ids, minutes = np.concatenate(ids), np.hstack(mins)
            row, col = np.nonzero(minutes <= budget)
            found = pd.DataFrame({"gemeinde_ags": cells["gemeinde_ags"].to_numpy()[row],
                                  "offer_id": offer_ids[col], "minutes": minutes[row, col]})
        return (found.groupby(["gemeinde_ags", "offer_id"], as_index=False)["minutes"].min()
                .astype({"minutes": float}))

    def planned_minutes(self, stage: ChainStage, mode: str,
                        planned: pd.DataFrame | None = None) -> np.ndarray | None:
        """Return the stage minutes per cell with planned Familienzentren active.

        None where the stage has no Familienzentren or none is planned.
        :meth:`Accessibility.what_if` (transit too) adds the planned sites (default: every
        planned Familienzentrum of the stage; else the rows of ``planned``, with ``lon``,
        ``lat``) to the active Familienzentren; a cell whose time falls takes the new
        site's time when it beats the stage's.
        """
        if "familienzentrum" not in stage.categories:
            return None
        if planned is None:
            planned = self.stage_offers(stage, Status.planned)
            planned = planned[planned["category"] == "familienzentrum"]
        if planned.empty:
            return None
        try:
            result = self.acc.what_if("familienzentrum", mode,
                                      add=list(zip(planned["lon"], planned["lat"], strict=True)))
        except ErreichbarError as exc:
            self.skipped[f"planned/{mode}"] = str(exc)
            log.warning("planned Familienzentren by %s: %s", mode, exc)
            return None
        minutes = self.stage_minutes(stage, mode).copy()
        pos = pd.Index(self.cells["cell_id"]).get_indexer(result.cells["cell_id"])
        minutes[pos] = np.minimum(minutes[pos], result.cells["minutes_after"].to_numpy(float))
        return minutes

    # ------------------------------------------------------------------ matrix

    def _counts(self, found: pd.DataFrame) -> pd.DataFrame:
        """Count distinct offers, Träger and offers per age source per Gemeinde.

        ``found`` has ``gemeinde_ags`` and ``offer_id``.
        """
        offers = self.acc.offers.set_index("id")
        traeger = offers["traeger"].astype("string").str.strip().replace("", pd.NA)
        frame = found.assign(traeger=traeger.reindex(found["offer_id"]).to_numpy(),
                             source=self.ages["age_source"].reindex(found["offer_id"]).to_numpy())
        by = frame.groupby("gemeinde_ags")
        out = pd.DataFrame({"offers": by["offer_id"].nunique(),
                            "traeger": by["traeger"].nunique()})
        sources = pd.crosstab(frame["gemeinde_ags"], frame["source"])
        for source in AGE_SOURCES:
            out[f"offers_age_{source}"] = (sources[source] if source in sources
                                           else pd.Series(0, index=out.index))
        flags = out[[f"offers_age_{s}" for s in AGE_SOURCES]] > 0
        out["age_source"] = flags.dot(pd.Series([f"{s}+" for s in AGE_SOURCES],
                                                index=flags.columns)).str.rstrip("+")
        return out

    def _offer_rows(self, stage: ChainStage, mode: str) -> pd.DataFrame:
        """Return the matrix rows of an offer stage: one per Gemeinde."""
        cells = self.cells
        gem = cells["gemeinde_ags"].to_numpy()
        children = cells["children_under_10"].to_numpy()
        rows = summarise_reach(gem, children, self.stage_minutes(stage, mode), stage.budget_min)
        rows = rows.join(self._counts(self.reachable(stage, mode)))
        planned = self.planned_minutes(stage, mode)
        if planned is not None:
            rows["reach_share_with_planned"] = summarise_reach(
                gem, children, planned, stage.budget_min)["reach_share"]
        return rows

    def _transition_rows(self, stage: ChainStage, mode: str) -> pd.DataFrame:
        """Return the matrix rows of the Kita → Grundschule transition (street modes).

        A cell's link is intact when its nearest Kita and Grundschule are in the same
        Gemeinde and at most the budget apart
        (:func:`geo.products.transition.children_transition`); the median is that of the
        Kita → Grundschule minutes.
        """
        tr = transition.children_transition(self.acc, mode, max_minutes=stage.budget_min)
        gem = tr["gemeinde_ags"].to_numpy()
        children = tr["children_under_10"].to_numpy()
        apart = tr["kita_grundschule_minutes"].to_numpy(float)
        link = np.where(tr["other_gemeinde"].to_numpy(), np.inf, apart)
        rows = summarise_reach(gem, children, link, stage.budget_min)
        rows["median_minutes"] = _weighted_median(gem, apart, children)
        ok = tr[~tr["affected"]]
        found = pd.concat([ok[["gemeinde_ags", "kita_id"]].rename(columns={"kita_id": "offer_id"}),
                           ok[["gemeinde_ags", "grundschule_id"]]
                           .rename(columns={"grundschule_id": "offer_id"})]).drop_duplicates()
        return rows.join(self._counts(found))

    def matrix(self, mode: str) -> pd.DataFrame:
        """Return the chain matrix of one mode: a row per Gemeinde and stage (cached).

        Raises
        ------
        DataError
            Mode ``transit`` and no timetable is loaded (the engine's message).
        AccessInputError
            A mode that is not one of ``walk``, ``bike``, ``transit``.
        """
        if mode not in (Mode.walk, Mode.bike, Mode.transit):
            raise AccessInputError(f"the chain is for modes without a car; mode {mode!r} is "
                                   "not one of walk, bike, transit")
        if mode not in self._matrices:
            parts = []
            for stage in self.settings.chain.stages:
                if stage.kind == "transition" and not self.acc.engine(mode).has_network:
                    self.skipped[f"{stage.key}/{mode}"] = "the transition is for street modes"
                    continue
                rows = (self._transition_rows(stage, mode) if stage.kind == "transition"
                        else self._offer_rows(stage, mode))
                parts.append(self._describe(rows, stage, mode))
            self._matrices[mode] = pd.concat(parts, ignore_index=True)[list(COLUMNS)]
        return self._matrices[mode]

    def _describe(self, rows: pd.DataFrame, stage: ChainStage, mode: str) -> pd.DataFrame:
        """Add stage columns, names and gaps to the rows of one stage and mode."""
        gap_share = self.settings.chain.gap_share
        out = rows.reindex(self.gemeinden.index).rename_axis("gemeinde_ags").reset_index()
        out["gemeinde"] = self.gemeinden["name"].to_numpy()
        counts = ["children", "children_reached", "offers", "traeger", "offers_age_offer",
                  "offers_age_name", "offers_age_category"]
        out[counts] = out[counts].fillna(0).astype({c: int for c in counts[2:]})
        out["age_source"] = out["age_source"].fillna("")
        out["offers_exact"] = self.acc.engine(mode).has_network
        if "reach_share_with_planned" not in out:
            out["reach_share_with_planned"] = np.nan
        out["gap"] = out["reach_share"] < gap_share
        out["gap_with_planned"] = (out["reach_share_with_planned"] < gap_share).where(
            out["reach_share_with_planned"].notna())
        return out.assign(stage=stage.key, stage_label=stage_label(stage), kind=stage.kind,
                          mode=str(mode), budget_min=stage.budget_min, age_from=stage.age_from,
                          age_to=stage.age_to, categories=", ".join(stage.categories))


def chain_matrix(data: ChainData, modes: Sequence[str] | None = None) -> pd.DataFrame:
    """Return the chain matrix of every Gemeinde, stage and mode (:data:`COLUMNS`).

    Parameters
    ----------
    data
        The chain figures of an engine.
    modes
        Modes (default ``ChainSettings.modes``). A mode whose data is missing (an optional
        one: transit without a timetable, :meth:`Accessibility.missing`) is left out and
        ``data.skipped[mode]`` holds the engine's message.

    Returns
    -------
    pandas.DataFrame
        Long form, one row per Gemeinde × stage × mode.
    """
    parts = []
    for mode in modes or data.settings.chain.modes:
        why = data.acc.missing(mode)
        if why is not None:
            data.skipped[str(mode)] = why
            log.warning("mode %s skipped: %s", mode, why)
            continue
        parts.append(data.matrix(mode))
    if not parts:
        raise EmptyResultError("no mode of the chain could be computed: "
                               + "; ".join(f"{k}: {v}" for k, v in data.skipped.items()))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------- one Gemeinde


def find_gemeinde(data: ChainData, query: str) -> str:
    """Return the AGS of a Gemeinde named by its AGS or name.

    Names are matched case-insensitively: exactly, else by a unique prefix.

    Raises
    ------
    RegionError
        No or several Gemeinden match; the message lists them.
    """
    gem = data.gemeinden
    q = query.strip()
    lower, ql = gem["name"].str.lower(), q.lower()
    for hit in (gem.index == q, (lower == ql).to_numpy(), lower.str.startswith(ql).to_numpy()):
        if hit.sum() == 1:
            return str(gem.index[hit][0])
    raise RegionError(f"Gemeinde {query!r} not found or not unique; Gemeinden: "
                      + "; ".join(f"{n} ({a})" for a, n in zip(gem.index, gem["name"],
                                                               strict=True)))


def _json_value(value: Any) -> Any:
    """Convert a matrix cell to JSON: numpy scalars unwrapped, NaN/inf → None, rounded."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if np.isfinite(value) else None
    return value


def gemeinde_chain(data: ChainData, gemeinde: str, mode: str = Mode.bike) -> dict[str, Any]:
    """Return the chain of one Gemeinde and mode as JSON (``GET /chain?gemeinde=&mode=``).

    Parameters
    ----------
    data
        The chain figures of an engine (keep one per process: the matrix is computed once
        per mode for every Gemeinde, ≈10–30 s, then answered from memory).
    gemeinde
        AGS or name (see :func:`find_gemeinde`).
    mode
        ``walk``, ``bike`` or ``transit``.

    Returns
    -------
    dict
        ``gemeinde`` (``ags``, ``name``, ``children``), ``mode``, ``gap_share``, ``stages``
        (per stage: ``stage``, ``label``, ``age_from``, ``age_to`` (years), ``categories``,
        ``budget_min``, ``reach_share``, ``children_reached``, ``median_minutes``,
        ``offers``, ``traeger``, ``offers_exact``, ``age_source``, ``gap``,
        ``reach_share_with_planned``, ``gap_with_planned``), ``gaps`` (stage keys),
        ``census`` and ``skipped`` (stages left out, with the reason).

    Raises
    ------
    RegionError
        Unknown Gemeinde.
    DataError
        Mode ``transit`` without a timetable (the engine's message).
    """
    ags = find_gemeinde(data, gemeinde)
    table = data.matrix(mode)
    rows = table[table["gemeinde_ags"] == ags]
    stages = [{"stage": r.stage, "label": r.stage_label, "age_from": r.age_from,
               "age_to": r.age_to, "categories": r.categories.split(", "),
               **{k: _json_value(getattr(r, k)) for k in (
                   "budget_min", "reach_share", "children_reached", "median_minutes", "offers",
                   "traeger", "offers_exact", "age_source", "gap", "reach_share_with_planned",
                   "gap_with_planned")}} for r in rows.itertuples()]
    return {"gemeinde": {"ags": ags, "name": str(data.gemeinden.loc[ags, "name"]),
                         "children": _json_value(float(rows["children"].iloc[0]))},
            "mode": str(mode), "gap_share": data.settings.chain.gap_share, "stages": stages,
            "gaps": [s["stage"] for s in stages if s["gap"]],
            "census": data.settings.census.title,
            "skipped": {k: v for k, v in data.skipped.items() if k.endswith(f"/{mode}")}}


# ---------------------------------------------------------------------- map and files


def _gap_legend(n_stages: int) -> str:
    """Return the HTML legend of the broken-link classes 0 … ``n_stages``."""
    rows = [f'<div><i style="display:inline-block;width:14px;height:14px;'
            f'background:{GAP_COLOURS[min(n, len(GAP_COLOURS) - 1)]};margin-right:6px;'
            f'vertical-align:middle"></i>{n}</div>' for n in range(n_stages + 1)]
    return "<b>Unterbrochene Glieder der Kette</b>" + "".join(rows)


def chain_map(data: ChainData, mode: str) -> folium.Map:
    """Draw the Gemeinden coloured by their number of broken links (gaps) by ``mode``.

    A tooltip gives every stage's reach share; base map, attribution and offline assets
    come from :mod:`geo.products.maps`.
    """
    table = data.matrix(mode)
    stages = list(dict.fromkeys(table["stage"]))
    share = table.pivot(index="gemeinde_ags", columns="stage", values="reach_share")[stages]
    gaps = table.groupby("gemeinde_ags")["gap"].sum().astype(int)
    gem = data.gemeinden
    broken = table[table["gap"]].groupby("gemeinde_ags")["stage_label"].agg("; ".join)
    shown = gpd.GeoDataFrame({
        "Gemeinde": gem["name"].to_numpy(),
        "Kinder unter 10": table.groupby("gemeinde_ags")["children"].first()
        .reindex(gem.index).round().astype(int).to_numpy(),
        "Unterbrochen": gaps.reindex(gem.index).to_numpy(),
        "Lücken": broken.reindex(gem.index).fillna("keine").map(html.escape).to_numpy(),
        **{stage_label(data.stage(s)): share[s].reindex(gem.index).map(
            lambda v: "–" if pd.isna(v) else f"{v * 100:.0f} %").to_numpy() for s in stages},
    }, geometry=gem.geometry.to_crs(WGS84).to_numpy(), crs=WGS84)
    title = (f"Präventionskette {label('mode', mode)}: unterbrochene Glieder je Gemeinde "
             f"(weniger als {data.settings.chain.gap_share * 100:.0f} % der Kinder unter 10 "
             f"in Reichweite) – {data.acc.region.title}")
    m = maps.new_map(data.settings, title, _gap_legend(len(stages)))
    fields = [c for c in shown.columns if c != "geometry"]
    folium.GeoJson(
        shown, name="Gemeinden (unterbrochene Glieder)",
        style_function=lambda f: {
            "color": "#252525", "weight": 1, "fillOpacity": 0.7,
            "fillColor": GAP_COLOURS[min(int(f["properties"]["Unterbrochen"]),
                                         len(GAP_COLOURS) - 1)]},
        highlight_function=lambda _: {"weight": 3},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[f"{f}:" for f in fields],
                                      sticky=True)).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def chain_dir(settings: Settings) -> Path:
    """Return the folder of the chain outputs: ``<processed>/<region>/chain``."""
    return settings.processed_dir / settings.region / "chain"


def write_table(frame: pd.DataFrame, stem: Path) -> list[Path]:
    """Write ``frame`` as ``<stem>.parquet`` and ``<stem>.csv`` (atomic writes)."""
    out = []
    for suffix in (".parquet", ".csv"):
        target = stem.with_suffix(suffix)
        with atomic_path(target) as tmp:
            if suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
        out.append(target)
    return out


def stage_offer_table(data: ChainData) -> pd.DataFrame:
    """Return the active and planned offers of every offer stage with their ages."""
    cols = ["id", "name", "category", "status", "traeger", "age_from", "age_to",
            "age_source", "source"]
    return pd.concat([data.stage_offers(stage, status)[cols].assign(stage=stage.key)
                      for stage in data.settings.chain.stages if stage.kind == "offers"
                      for status in (Status.active, Status.planned)], ignore_index=True)


def most_gaps(table: pd.DataFrame, n: int = 5) -> list[dict[str, Any]]:
    """Return the ``n`` Gemeinden with the most gaps in ``table`` (one mode).

    Most children first among equals; each with ``ags``, ``name``, ``gaps``, ``stages``.
    """
    by = table.groupby(["gemeinde_ags", "gemeinde"])
    top = pd.DataFrame({"gaps": by["gap"].sum(), "children": by["children"].first()}) \
        .sort_values(["gaps", "children"], ascending=False).head(n)
    return [{"ags": ags, "name": name, "gaps": int(r.gaps),
             "stages": table.loc[(table["gemeinde_ags"] == ags) & table["gap"], "stage"].tolist()}
            for (ags, name), r in top.iterrows()]


def write_chain(settings: Settings, acc: Accessibility | None = None,
                gemeinde: str | None = None, modes: Sequence[str] | None = None,
                map_dir: Path | None = None) -> dict[str, Any]:
    """Compute the chain matrix and write its table, stage offers and maps.

    Writes ``chain_matrix.{parquet,csv}`` and ``stage_offers.{parquet,csv}`` to
    :func:`chain_dir` and ``praeventionskette-<mode>.html`` per mode to ``map_dir``
    (default ``MapSettings.out_dir``).

    Parameters
    ----------
    settings
        Settings (``chain``, region, paths).
    acc
        An engine to reuse (default: a new one).
    gemeinde
        A Gemeinde (AGS or name) whose matrix the summary shows.
    modes
        Modes (default ``ChainSettings.modes``; transit is skipped without a timetable).
    map_dir
        Folder of the maps.

    Returns
    -------
    dict
        CLI summary: ``gemeinden``, ``stages``, ``modes``, ``skipped``, ``gap_share``,
        ``most_gaps`` per mode, ``gemeinde`` (per mode, if asked), ``census``, ``outputs``,
        ``seconds``.
    """
    t0 = time.perf_counter()
    data = ChainData(acc or Accessibility(settings))
    table = chain_matrix(data, modes)
    folder = chain_dir(settings)
    outputs = write_table(table, folder / "chain_matrix")
    outputs += write_table(stage_offer_table(data), folder / "stage_offers")
    done = list(dict.fromkeys(table["mode"]))
    for mode in done:
        target = (map_dir or settings.maps.out_dir) / f"praeventionskette-{mode}.html"
        outputs.append(maps.save_map(chain_map(data, mode), target))
        log.info("wrote %s", target)
    summary: dict[str, Any] = {
        "gemeinden": int(table["gemeinde_ags"].nunique()),
        "stages": [s.key for s in settings.chain.stages], "modes": done,
        "skipped": data.skipped, "gap_share": settings.chain.gap_share,
        "most_gaps": {m: most_gaps(table[table["mode"] == m]) for m in done}}
    if gemeinde is not None:
        summary["gemeinde"] = {m: gemeinde_chain(data, gemeinde, m) for m in done}
    summary.update(census=settings.census.title, outputs=[str(p) for p in outputs],
                   seconds=round(time.perf_counter() - t0, 1))
    return summary


def chain_section(data: ChainData, unit_ags: str, mode: str | None = None) -> dict[str, Any]:
    """Return the context of ``templates/chain_section.html`` for one municipal unit.

    Parameters
    ----------
    data
        The chain figures of an engine.
    unit_ags
        ARS of the municipal unit (its Gemeinden get a row each).
    mode
        ``walk`` or ``bike`` (default ``ChainSettings.map_mode``).

    Returns
    -------
    dict
        ``mode`` (German), ``gap_share`` (text), ``stages`` (``label``, ``budget``),
        ``planned`` (whether any planned column is filled) and ``rows`` (per Gemeinde:
        ``name`` and per stage ``key``, ``value`` (share 0–1), ``text``, ``gap``,
        ``planned`` (text or None)).
    """
    mode = mode or data.settings.chain.map_mode
    table = data.matrix(mode)
    gem = data.gemeinden
    table = table[table["gemeinde_ags"].isin(gem.index[gem["unit_ags"] == unit_ags])]
    stages = [s for s in data.settings.chain.stages if s.key in set(table["stage"])]
    rows = []
    for ags, part in table.groupby("gemeinde_ags", sort=False):
        by = part.set_index("stage")
        rows.append({"name": str(gem.loc[ags, "name"]), "cells": [{
            "key": f"chain|{ags}|{s.key}|{mode}",
            "value": repr(float(by.loc[s.key, "reach_share"])),
            "text": report_fmt(by.loc[s.key, "reach_share"]), "gap": bool(by.loc[s.key, "gap"]),
            "planned": (None if pd.isna(by.loc[s.key, "reach_share_with_planned"])
                        else report_fmt(by.loc[s.key, "reach_share_with_planned"]))}
            for s in stages]})
    return {"mode": label("mode", mode),
            "gap_share": report_fmt(data.settings.chain.gap_share),
            "stages": [{"label": stage_label(s), "budget": f"{s.budget_min:g}"} for s in stages],
            "planned": table["reach_share_with_planned"].notna().any(),
            "rows": sorted(rows, key=lambda r: r["name"])}


def report_fmt(share: float) -> str:
    """Format a share (0–1) the reports' way (``72,4 %``; NaN → ``–``)."""
    from geo.products.report import fmt

    return fmt(float(share), "pct")
