"""Many regions as tasks on a Dask cluster, each with a halo (``erreichbar batch``).

A *region* is a municipal unit of the county (9-digit ARS) or the county itself (its
5-digit key). Each region is one task (:func:`run_region`):

1. its **halo** (:func:`halo_metres`): ``max(AccessSettings.thresholds_min)`` minutes at
   the fastest speed of the modes run (the fastest edge of their networks, km/h) plus the
   snap cut-off ``AccessSettings.snap_max_m``, capped at ``BatchSettings.halo_cap_m``;
2. its networks: the county's stored networks clipped to the region + halo + snap
   cut-off (:func:`clip_network`; nodes inside, edges with both ends inside);
3. its offers: the active offers within the halo, its census cells: those whose centre
   lies in the region (``unit_ags``);
4. minutes and nearest offer of every children (100 m) and inhabitants (1 km) cell, the
   coverage of the region and its Gemeinden, a minute raster (COG) per category and mode;
5. written atomically to ``<out>/region=<ARS>/`` (``cells.parquet``, ``coverage.parquet``,
   ``minutes_<category>_<mode>.tif``) with a manifest whose content hash (networks,
   layers, settings, halo, modes, categories) lets a rerun skip the region.

Why the halo makes the result exact: a trip of ``T`` minutes at most ``v`` km/h never
leaves the disc of radius ``v·T`` around its home (straight line ≤ network length), so
every trip within the longest studied time uses only streets and offers of the haloed
area; the extra snap cut-off keeps an offer's own nearest node in the clipped network.
Minutes above ``max(thresholds_min)`` are *not* guaranteed (a shorter path might leave
the halo): the cell tables say so per row (``exact``).

:func:`run_batch` maps the tasks onto a Dask ``distributed`` cluster (a ``LocalCluster``
by default, or a scheduler address), retries failed tasks, reports every failure with its
region without stopping the others, and combines the results (:func:`combine`): one table
of all regions at unit and Gemeinde level, an overview map, a VRT mosaic of each minute
raster. Peak memory per task is the resident set size of the worker process (psutil),
sampled while the task runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._io import BuildManifest, atomic_path, clean_stray_tmp, files_digest, write_json
from geo.engine import coverage as cov
from geo.engine.access import Accessibility
from geo.engine.street import StreetEngine
from geo.errors import DataError
from geo.networks.network import Network, load_network, network_dir
from geo.networks.snap import to_metric
from geo.settings import Settings, get_region
from geo.sources.boundaries import load_units
from geo.sources.population import write_cog
from geo.vocabulary import CATEGORIES, METRIC_CRS, STREET_MODES

log = logging.getLogger(__name__)

#: version of the task's outputs (part of the content hash)
_BATCH_VERSION = "1"
#: grids of the cell tables and their weights: Zensus 100 m cells with children under 10,
#: 1 km cells with inhabitants
_GRIDS = {"children": "children_under_10", "inhabitants": "inhabitants"}
#: coverage levels written per region
_LEVELS = ("unit", "gemeinde")


@dataclass(frozen=True)
class RegionTask:
    """One region of a batch: what to compute and where to write it.

    ``halo_m`` in metres; ``fail`` makes the task raise (the tests' killed worker).
    """

    ars: str
    halo_m: float
    modes: tuple[str, ...]
    categories: tuple[str, ...]
    out: Path
    fail: bool = False

    @property
    def folder(self) -> Path:
        """Partition folder of the region: ``<out>/region=<ARS>``."""
        return self.out / f"region={self.ars}"


@dataclass
class TaskResult:
    """Outcome of one region task (JSON-ready via :func:`dataclasses.asdict`).

    ``status`` is ``done``, ``skipped`` (outputs current) or ``failed`` (``error`` says
    why); ``seconds`` wall time; ``peak_rss_mb`` the worker's peak resident memory while
    the task ran (MB); ``attempts`` how often it ran.
    """

    ars: str
    status: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cells: int = 0
    attempts: int = 1
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- halo


def fastest_kmh(settings: Settings, modes: Sequence[str]) -> float:
    """Fastest speed of ``modes`` (km/h): their networks' fastest edge or access speed."""
    from geo.networks.snap import access_speed_kmh

    speeds = []
    for mode in modes:
        net = load_network(settings, mode)
        edge = float(np.max(net.length / np.maximum(net.travel_time, 1e-9))) * 3.6
        speeds.append(max(edge, access_speed_kmh(settings, mode)))
    return max(speeds)


def needed_halo_m(settings: Settings, modes: Sequence[str]) -> float:
    """Halo (metres) that makes every time up to ``max(thresholds_min)`` exact, uncapped.

    ``max(thresholds_min)`` minutes at :func:`fastest_kmh` plus the snap cut-off.
    """
    return (max(settings.access.thresholds_min) / 60.0 * fastest_kmh(settings, modes) * 1000.0
            + settings.access.snap_max_m)


def halo_metres(settings: Settings, modes: Sequence[str]) -> tuple[float, bool]:
    """Halo of every region (metres) and whether it is sufficient (not capped).

    :func:`needed_halo_m`, capped at ``BatchSettings.halo_cap_m``.
    """
    need = needed_halo_m(settings, modes)
    return min(need, settings.batch.halo_cap_m), need <= settings.batch.halo_cap_m


def clip_network(net: Network, area: shapely.Geometry) -> Network:
    """Part of ``net`` inside ``area`` (EPSG:3035): nodes inside, edges with both ends inside.

    Node and edge order and every attribute are kept (a sub-array of each).
    """
    x, y = to_metric(net.lon, net.lat)
    shapely.prepare(area)
    keep = shapely.contains_xy(area, x, y)
    new_index = np.cumsum(keep) - 1
    edges = keep[net.u] & keep[net.v]
    starts, ends = net.geom_offsets[:-1][edges], net.geom_offsets[1:][edges]
    sizes = ends - starts
    vertex = (np.repeat(starts - np.cumsum(np.r_[0, sizes[:-1]]), sizes)
              + np.arange(int(sizes.sum())))
    return Network(
        mode=net.mode, node_id=net.node_id[keep], lon=net.lon[keep], lat=net.lat[keep],
        u=new_index[net.u[edges]].astype(net.u.dtype),
        v=new_index[net.v[edges]].astype(net.v.dtype),
        length=net.length[edges], travel_time=net.travel_time[edges], cls=net.cls[edges],
        oneway=net.oneway[edges], geom_lon=net.geom_lon[vertex], geom_lat=net.geom_lat[vertex],
        geom_offsets=np.r_[0, np.cumsum(sizes)].astype(net.geom_offsets.dtype),
        meta={**net.meta, "clipped": True})


# --------------------------------------------------------------------------- one region


@dataclass(frozen=True)
class CountyInputs:
    """What every region of the county shares, read once and sent to every worker.

    ``offers`` the catalogue (EPSG:4326, all statuses), ``children`` / ``inhabitants`` the
    Zensus cells, ``areas`` the boundaries per level (``county``, ``unit``, ``gemeinde``,
    EPSG:3035).
    """

    offers: gpd.GeoDataFrame
    children: gpd.GeoDataFrame
    inhabitants: gpd.GeoDataFrame
    areas: dict[str, gpd.GeoDataFrame]


def county_inputs(settings: Settings) -> CountyInputs:
    """Read the county's offers, census cells and boundaries (the tasks' shared inputs)."""
    from geo.sources.offers import load_offers
    from geo.sources.population import load_children_100m, load_inhabitants_1km

    return CountyInputs(load_offers(settings), load_children_100m(settings),
                        load_inhabitants_1km(settings),
                        {level: load_units(settings, level) for level in ("county", *_LEVELS)})


def region_shape(settings: Settings, inputs: CountyInputs, ars: str
                 ) -> tuple[shapely.Geometry, str]:
    """Polygon (EPSG:3035) and name of a region: the county or one of its units.

    Raises
    ------
    DataError
        ``ars`` is neither the county's key nor one of its units' ARS.
    """
    county, units = inputs.areas["county"], inputs.areas["unit"]
    if ars == county["ags"].iloc[0]:
        return county.geometry.iloc[0], str(county["name"].iloc[0])
    row = units[units["ags"] == ars]
    if row.empty:
        raise DataError(f"region {ars}: not a unit of {get_region(settings.region).title} "
                        f"({county['ags'].iloc[0]}) nor the county itself; only this county "
                        "has networks and census layers here")
    return row.geometry.iloc[0], str(row["name"].iloc[0])


def task_digest(settings: Settings, task: RegionTask) -> str:
    """Content hash of a task's inputs: stored networks, layers, settings, halo, choices."""
    layers = network_dir(settings).parent / "layers" / "manifest.json"
    inputs = [network_dir(settings) / "manifest.json", *([layers] if layers.is_file() else [])]
    extra = json.dumps([_BATCH_VERSION, task.ars, round(task.halo_m, 3), task.modes,
                        task.categories, settings.access.model_dump_json(),
                        settings.offers.model_dump_json(),
                        settings.population.model_dump_json(), settings.census.name])
    return files_digest(inputs, extra=extra)


def _engine(settings: Settings, task: RegionTask, inputs: CountyInputs,
            shape: shapely.Geometry) -> Accessibility:
    """Build the region's engine: haloed networks and offers, the region's cells only."""
    halo = shapely.buffer(shape, task.halo_m) if task.halo_m > 0 else shape
    net_area = shapely.buffer(halo, settings.access.snap_max_m)
    nets = {m: clip_network(load_network(settings, m), net_area) for m in task.modes}
    offers = inputs.offers
    ox, oy = to_metric(offers["lon"].to_numpy(), offers["lat"].to_numpy())
    shapely.prepare(halo)
    offers = offers[shapely.contains_xy(halo, ox, oy)].reset_index(drop=True)
    cells = [frame[frame["unit_ags"].str.startswith(task.ars)].reset_index(drop=True)
             for frame in (inputs.children, inputs.inhabitants)]
    log.info("region %s: halo %.0f m, %d offers, %d children cells, nodes %s", task.ars,
             task.halo_m, len(offers), len(cells[0]),
             {m: n.n_nodes for m, n in nets.items()})
    return Accessibility(settings, offers=offers, children=cells[0], inhabitants=cells[1],
                         networks=nets)


def coverage_of_cells(settings: Settings, cells: pd.DataFrame, areas: gpd.GeoDataFrame,
                      level: str) -> gpd.GeoDataFrame:
    """Coverage of ``areas`` (one level) from a cell table of one category and mode.

    ``cells`` is the long form of :meth:`Accessibility.cells` of both grids with a
    ``grid`` column (minutes NaN or inf = none); the figures are those of
    :mod:`geo.engine.coverage` for the children (100 m) and inhabitants (1 km) grids.
    """
    a = settings.access
    parts = []
    for grid, column in _GRIDS.items():
        g = cells[cells["grid"] == grid]
        parts.append(cov.summarise(
            g["minutes"].fillna(np.inf).to_numpy(float), g["connected"].to_numpy(bool),
            np.nan_to_num(g[column].to_numpy(float)), cov.area_keys(g, level, areas), grid,
            a.thresholds_min, a.white_spot_min))
    table = cov.table(areas, level, parts)
    table.insert(3, "category", cells["category"].iloc[0])
    table.insert(4, "mode", cells["mode"].iloc[0])
    return table


def _street(acc: Accessibility, mode: str) -> StreetEngine:
    """Return the street engine of ``mode`` (batch modes are street modes)."""
    engine = acc.engine(mode)
    assert isinstance(engine, StreetEngine)
    return engine


def _cells(acc: Accessibility, category: str, mode: str, grid: str, reached: bool
           ) -> pd.DataFrame:
    """Cells of ``grid`` with minutes to the nearest ``category`` offer by ``mode``.

    Where the region and its halo hold no active offer of the category (``reached``
    false) every cell has none: minutes inf, ``offer_id`` None.
    """
    if reached:
        return acc.cells(category, mode, grid).assign(grid=grid)
    snap = _street(acc, mode).cell_snap(grid)
    n = len(snap.node)
    return acc.data.cell_table(grid, {
        "category": category, "mode": mode, "minutes": np.full(n, np.inf),
        "offer_id": np.full(n, None, dtype=object), "connected": snap.connected,
        "access_m": snap.distance_m}).assign(grid=grid)


def _raster(acc: Accessibility, shape: shapely.Geometry, category: str | None, mode: str
            ) -> pd.DataFrame:
    """Minutes of every 100 m INSPIRE cell whose centre lies in ``shape`` (NaN = none).

    ``category`` None: no offer of the category in the region and its halo (all NaN).
    """
    x0, y0, x1, y1 = shape.bounds
    xs = np.arange(np.floor(x0 / 100) * 100 + 50, x1, 100.0)
    ys = np.arange(np.floor(y0 / 100) * 100 + 50, y1, 100.0)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    inside = shapely.contains_xy(shape, gx, gy)
    if category is None:
        minutes = np.full(int(inside.sum()), np.nan)
    else:
        engine = _street(acc, mode)
        minutes = engine.surface(category).at(
            engine.graph.index.snap_xy(gx[inside], gy[inside]))[0] / 60.0
    return pd.DataFrame({"x": gx[inside], "y": gy[inside],
                         "minutes": np.where(np.isfinite(minutes), minutes, np.nan)})


def _compute(settings: Settings, task: RegionTask, inputs: CountyInputs,
             shape: shapely.Geometry) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Cell table and coverage table of the region; writes the minute COGs on the way."""
    acc = _engine(settings, task, inputs, shape)
    areas = {level: inputs.areas[level][inputs.areas[level]["ars"].str.startswith(task.ars)]
             .reset_index(drop=True) for level in _LEVELS}
    active = inputs.offers.loc[inputs.offers["status"] == "active", "category"]
    reached = acc.categories()
    cells, tables = [], []
    for category in (c for c in task.categories if (active == c).any()):
        for mode in task.modes:
            pair = pd.concat([_cells(acc, category, mode, grid, category in reached)
                              for grid in _GRIDS], ignore_index=True)
            cells.append(pair)
            tables += [coverage_of_cells(settings, pair, areas[level], level)
                       for level in _LEVELS]
            write_cog(task.folder / f"minutes_{category}_{mode}.tif",
                      _raster(acc, shape, category if category in reached else None, mode),
                      "minutes", 100, shape.bounds, "float32", -1.0)
    long = pd.concat(cells, ignore_index=True)
    long["exact"] = long["minutes"].to_numpy() <= max(settings.access.thresholds_min)
    long["minutes"] = long["minutes"].where(np.isfinite(long["minutes"]))
    long.insert(0, "region", task.ars)
    coverage = gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), crs=METRIC_CRS)
    coverage.insert(0, "region", task.ars)
    return long, coverage


def run_region(settings: Settings, task: RegionTask, inputs: CountyInputs) -> TaskResult:
    """Compute one region and write its partition (skipped when its outputs are current).

    Raises whatever the computation raises (the batch reports it with the region).
    """
    t0 = time.perf_counter()
    digest = task_digest(settings, task)
    task.folder.mkdir(parents=True, exist_ok=True)
    manifest = BuildManifest(task.folder / "manifest.json")
    cached = manifest.is_current(digest)
    if cached is not None:
        return TaskResult(task.ars, "skipped", round(time.perf_counter() - t0, 2),
                          cells=int(cached.get("cells", 0)))
    manifest.invalidate()
    clean_stray_tmp(task.folder)
    for stale in task.folder.iterdir():  # a former run's outputs (other modes, categories)
        if stale.is_file():
            stale.unlink()
    shape, name = region_shape(settings, inputs, task.ars)
    if task.fail:
        raise RuntimeError(f"region {task.ars}: task made to fail (test)")
    long, coverage = _compute(settings, task, inputs, shape)
    for frame, target in ((gpd.GeoDataFrame(long, geometry=gpd.points_from_xy(
            long["x"], long["y"]), crs=METRIC_CRS), "cells.parquet"),
            (coverage, "coverage.parquet")):
        with atomic_path(task.folder / target) as tmp:
            frame.to_parquet(tmp)
    summary: dict[str, Any] = {"ars": task.ars, "name": name, "halo_m": round(task.halo_m, 1),
               "cells": int((long["grid"] == "children").sum()),
               "modes": list(task.modes), "categories": sorted(set(long["category"]))}
    manifest.record(digest, sorted(p for p in task.folder.iterdir()
                                   if p.is_file() and p != manifest.path), summary)
    return TaskResult(task.ars, "done", round(time.perf_counter() - t0, 2),
                      cells=summary["cells"])


class PeakRss:
    """Context manager: sample this process's resident memory every 50 ms; ``mb`` = peak (MB)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak = 0

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def mb(self) -> float:
        """Peak resident set size so far, MB (10^6 bytes)."""
        return round(max(self.peak, self._proc.memory_info().rss) / 1e6, 1)

    def __enter__(self) -> PeakRss:
        """Start sampling."""
        self.peak = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop sampling; keep the peak."""
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def guarded_region(settings: Settings, task: RegionTask, inputs: CountyInputs,
                   retries: int) -> TaskResult:
    """Run :func:`run_region` up to ``1 + retries`` times; a failure becomes a result.

    Never raises: the error (type and message) is in the result with its region, so one
    failed region never stops the others. Measures the worker's peak RSS (MB).
    """
    t0 = time.perf_counter()
    error = ""
    with PeakRss() as rss:
        for attempt in range(1, retries + 2):
            try:
                result = run_region(settings, task, inputs)
            except Exception as exc:  # noqa: BLE001 - any failure is reported per region
                error = f"{type(exc).__name__}: {exc}"
                log.warning("region %s failed (attempt %d): %s", task.ars, attempt, error)
                log.debug("%s", traceback.format_exc())
                continue
            result.attempts = attempt
            break
        else:
            result = TaskResult(task.ars, "failed", round(time.perf_counter() - t0, 2),
                                attempts=retries + 1, error=error)
    result.peak_rss_mb = rss.mb
    return result


# --------------------------------------------------------------------------- the batch


def resolve_regions(settings: Settings, regions: Sequence[str] | None, land: str | None
                    ) -> list[str]:
    """Region keys of a batch: the given ARS list, or every county of a Land (VG5000).

    Raises
    ------
    DataError
        Neither or both given, a key that is not 5 or 9 digits, or a Land without counties.
    """
    if (regions is None) == (land is None):
        raise DataError("give either --regions ARS[,ARS…] or --land LL")
    if land is not None:
        from geo.sources.boundaries import VG5000_DIR

        if not (len(land) == 2 and land.isdigit()):
            raise DataError(f"--land {land!r}: a Land key is two digits, e.g. '03'")
        path = settings.data_dir / VG5000_DIR / "VG5000_KRS.shp"
        keys = gpd.read_file(path, where=f"ARS LIKE '{land}%'", columns=["ARS"],
                             ignore_geometry=True)["ARS"]
        if keys.empty:
            raise DataError(f"--land {land}: no county with that key in {path}")
        return sorted(keys)
    bad = [r for r in regions or () if not (r.isdigit() and len(r) in (5, 9))]
    if bad:
        raise DataError(f"--regions: {', '.join(map(repr, bad))} is not a 5-digit county "
                        "or 9-digit unit ARS")
    return list(dict.fromkeys(regions or ()))


def _client(settings: Settings, scheduler: str | None, workers: int) -> Any:
    """Dask client: the scheduler at ``scheduler`` or a new LocalCluster of ``workers``."""
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           memory_limit=settings.batch.memory_limit, dashboard_address=None)
    return Client(cluster)


def _run_tasks(settings: Settings, tasks: Sequence[RegionTask], scheduler: str | None,
               workers: int) -> list[TaskResult]:
    """Submit every task to the cluster; collect one result per task, failures included."""
    from distributed import as_completed
    from tqdm import tqdm

    results: list[TaskResult] = []
    with _client(settings, scheduler, workers) as client:
        shared = client.scatter(county_inputs(settings), broadcast=True)
        futures = {client.submit(guarded_region, settings, t, shared, settings.batch.retries,
                                 key=f"region-{t.ars}-{time.time_ns()}", pure=False): t
                   for t in tasks}
        for future in tqdm(as_completed(futures), total=len(futures), desc="regions",
                           unit="region"):
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - a lost worker: report the region
                results.append(TaskResult(futures[future].ars, "failed",
                                          error=f"{type(exc).__name__}: {exc}"))
    return sorted(results, key=lambda r: r.ars)


def run_batch(settings: Settings, regions: Sequence[str], out: Path,
              modes: Sequence[str] = STREET_MODES, categories: Sequence[str] | None = None,
              halo_m: float | None = None, scheduler: str | None = None,
              workers: int | None = None, fail: Sequence[str] = ()) -> dict[str, Any]:
    """Run every region as a Dask task, then combine; return the JSON summary.

    Parameters
    ----------
    settings
        Settings (region, data, access, batch).
    regions
        Region keys (:func:`resolve_regions`).
    out
        Dataset folder: ``region=<ARS>/`` partitions and the combined outputs.
    modes, categories
        Street modes and categories (default: every category with active offers).
    halo_m
        Halo in metres (default :func:`halo_metres`).
    scheduler, workers
        Address of an existing Dask scheduler, or the size of a new LocalCluster
        (default ``BatchSettings.workers``).
    fail
        Regions whose task raises (to prove that a failure stops nothing else).

    Returns
    -------
    dict
        ``regions``, ``done``, ``skipped``, ``failed`` (``[{region, error}]``),
        ``seconds``, ``peak_rss_mb`` per region, ``halo_m``, ``halo_sufficient``,
        ``workers``, ``outputs``.
    """
    t0 = time.perf_counter()
    unknown = [m for m in modes if m not in STREET_MODES]
    if unknown:
        raise DataError(f"--mode {unknown[0]!r}: batch modes are {', '.join(STREET_MODES)}")
    if halo_m is not None and not halo_m >= 0:
        raise DataError(f"--halo-m {halo_m}: the halo is a distance in metres, 0 or more")
    if halo_m is None:
        halo_m, _ = halo_metres(settings, modes)
    sufficient = halo_m >= needed_halo_m(settings, modes)
    cats = tuple(categories or CATEGORIES)
    out = Path(out)
    tasks = [RegionTask(r, float(halo_m), tuple(modes), cats, out, r in fail) for r in regions]
    n_workers = workers or settings.batch.workers
    results = _run_tasks(settings, tasks, scheduler, n_workers)
    from geo.products.batch_combine import combine

    done = [r for r in results if r.status != "failed"]
    outputs = combine(settings, out, [r.ars for r in done]) if done else {}
    summary = {
        "regions": len(results), "done": sum(r.status == "done" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": [{"region": r.ars, "error": r.error} for r in results
                   if r.status == "failed"],
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": {r.ars: r.peak_rss_mb for r in results},
        "task_seconds": {r.ars: r.seconds for r in results},
        "halo_m": round(float(halo_m), 1), "halo_sufficient": sufficient,
        "workers": n_workers if not scheduler else scheduler,
        "outputs": {k: str(v) for k, v in outputs.items()}}
    write_json(out / "batch.json", {**summary, "tasks": [asdict(r) for r in results]})
    return summary
