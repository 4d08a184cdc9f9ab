"""The ``erreichbar`` command line: one entry point for every job.

Each command prints progress on stderr and, where documented, a JSON summary as its
last line on stdout. Errors in the user's input or data end with one line on stderr
and exit code 2 — never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from geo.errors import ErreichbarError
from geo.settings import Settings
from geo.vocabulary import Category, StreetMode, Weight

app = typer.Typer(help="Erreichbar: who can reach the family offers of a county, and how fast.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
network_app = typer.Typer(help="Street networks (walk, bike, car) from OSM data.",
                          no_args_is_help=True)
app.add_typer(network_app, name="network")
gtfs_app = typer.Typer(help="Public-transport timetables (GTFS): load, validate, clip.",
                       no_args_is_help=True)
app.add_typer(gtfs_app, name="gtfs")
transit_app = typer.Typer(help="Public-transport routing on a loaded GTFS feed.",
                          no_args_is_help=True)
app.add_typer(transit_app, name="transit")
layers_app = typer.Typer(help="Data layers: boundaries, population grids, offer catalogue.",
                         no_args_is_help=True)
app.add_typer(layers_app, name="layers")
access_app = typer.Typer(help="Travel times to the nearest offers, coverage, supply.",
                         no_args_is_help=True)
app.add_typer(access_app, name="access")
maps_app = typer.Typer(help="Folium maps (HTML, offline) of travel times and white spots.",
                       no_args_is_help=True)
app.add_typer(maps_app, name="maps")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="ERREICHBAR_DATA_DIR",
                 help="folder with the input data [default: ../shared/data beside the repo]"),
]
RegionOpt = Annotated[str | None, typer.Option(
    "--region", help="study region [default: ERREICHBAR_REGION or the settings' default]")]
#: Format and folder of the printable documents (reports, family guides).
DocFormat = Annotated[str, typer.Option("--format", help="'html' or 'pdf' (A4)")]
DocOut = Annotated[Path | None, typer.Option(help="output folder [default: data/reports]")]


def make_settings(data_dir: Path | None, region: str | None) -> Settings:
    """Read the settings from the environment, overridden by the CLI options given."""
    overrides: dict[str, Any] = {}
    if region is not None:
        overrides["region"] = region
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def emit(summary: dict[str, Any]) -> None:
    """Print the command's JSON summary as the last line on stdout."""
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")


@network_app.command("build")
def network_build(
    data_dir: DataDir = None,
    region: RegionOpt = None,
    source: Annotated[str, typer.Option(
        help="'tiles' (county vector tiles), 'city-tiles' or a path to an .osm.pbf/.osm"),
    ] = "tiles",
    force: Annotated[bool, typer.Option(help="rebuild even when inputs are unchanged")] = False,
) -> None:
    """Build walk, bike and car networks and store them in data/processed/."""
    from geo.networks import network

    settings = make_settings(data_dir, region)
    emit(network.build_networks(settings, source=source, force=force))


@network_app.command("download")
def network_download(
    data_dir: DataDir = None,
    region: RegionOpt = None,
    via: Annotated[str, typer.Option(
        help="'geofabrik' (PBF clipped to the region) or 'overpass' (.osm XML)")] = "geofabrik",
    force: Annotated[bool, typer.Option(help="download even when the cache is current")] = False,
) -> None:
    """Download an OSM extract of the region into data/raw/osm/ (needs internet)."""
    from geo.sources import download

    settings = make_settings(data_dir, region)
    emit(download.download_region(settings, via=via, force=force).summary())


@layers_app.command("build")
def layers_build(
    data_dir: DataDir = None,
    region: RegionOpt = None,
    offers: Annotated[Path | None, typer.Option(
        help="the county's own offer list (.csv/.xlsx/.geojson, see "
             "geo/sources/data/offer_template.csv), added to the default offers")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even when inputs are unchanged")] = False,
    population: Annotated[Path | None, typer.Option(
        help="the county's own population table (.csv/.xlsx: Gemeinde AGS, unit ARS or unit "
             "name; inhabitants and/or children_under_10; date): census cells are scaled to "
             "its totals [default: ERREICHBAR_POPULATION__OWN_FILE]")] = None,
) -> None:
    """Build boundaries, population grids and the offer catalogue into data/processed/."""
    from geo.sources import layers

    settings = make_settings(data_dir, region)
    emit(layers.build_layers(settings, offers_file=offers, force=force,
                             population_file=population))


@layers_app.command("check-population")
def layers_check_population(
    path: Annotated[Path, typer.Argument(help="population table (.csv/.xlsx)")],
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Check a population table row by row.

    Prints its areas, totals and dates, or every bad row.
    """
    from geo.sources import population_table
    from geo.sources.boundaries import load_units

    settings = make_settings(data_dir, region)
    table = population_table.read_population_table(
        path, load_units(settings, "unit"), load_units(settings, "gemeinde"))
    emit({**table.summary(),
          "population_basis": population_table.describe_basis(settings.census, table)})


@layers_app.command("download")
def layers_download(
    feature: Annotated[list[str] | None, typer.Option(
        help="census feature to fetch (repeatable): Einwohner, unter18_A, Auslaender_A, "
             "HHGroesse_D, Leerstandsquote, ALTER_10JG, FAMTYP_KIND, STAATSANGE_KURZ "
             "[default: all]")] = None,
    force: Annotated[bool, typer.Option(help="download even when the cache is current")] = False,
    data_dir: DataDir = None,
) -> None:
    """Download the Zensus 2022 grids from Destatis into data/raw/zensus2022/.

    Needs internet; use them with ERREICHBAR_CENSUS__NAME=zensus2022.
    """
    from geo.sources import census_download

    settings = make_settings(data_dir, None)  # the grids cover all of Germany
    emit(census_download.download_census(settings, features=feature, force=force).summary())


@layers_app.command("check-offers")
def layers_check_offers(
    path: Annotated[Path, typer.Argument(help="offer file (.csv/.xlsx/.geojson)")],
    data_dir: DataDir = None,
    region: RegionOpt = None,
    out: Annotated[Path | None, typer.Option(
        help="also write the checked offers (.geojson/.parquet/.csv)")] = None,
) -> None:
    """Check an offer file row by row; print offers per category, or every bad row."""
    from geo.sources import offers

    settings = make_settings(data_dir, region)
    try:
        frame = offers.read_offer_file(path, settings)
    except offers.OfferFileError as exc:  # one `error:` line per bad row and field
        sys.stderr.writelines(f"error: {line}\n" for line in exc.lines())
        raise typer.Exit(2) from None
    if out is not None:
        offers.write_offers(frame, out)
    emit({"offers": len(frame), "categories": frame["category"].value_counts().to_dict()})


@gtfs_app.command("load")
def gtfs_load(
    sources: Annotated[list[str] | None, typer.Argument(
        help="GTFS .zip/folders or http(s) URLs, merged (default: the region's official "
        "feeds, downloaded when online)")] = None,
    region: Annotated[str | None, typer.Option(
        help="clip to this region and store it as the region's timetable")] = None,
    data_dir: DataDir = None,
) -> None:
    """Load GTFS feeds (given, or the region's own), clip, merge and store them."""
    from geo.sources import gtfs, gtfs_region

    settings = make_settings(data_dir, region)
    if not sources and region is None:
        region = settings.region
    feed, summary = gtfs_region.load(settings, region, sources or ())
    path = gtfs.store_feed(feed, settings, region, extra={
        "feeds": [{k: f[k] for k in ("name", "title", "source", "origin", "attribution",
                                     "first_day", "last_day")} for f in summary["feeds"]]})
    emit({**summary, "path": str(path)})


@transit_app.command("earliest")
def transit_earliest(
    from_stop: Annotated[str, typer.Option(
        "--from", help="stop or station id, or a stop/station name")],
    to_stop: Annotated[str, typer.Option(
        "--to", help="stop or station id, or a name (arrives at any platform)")],
    depart: Annotated[str, typer.Option(help="departure, YYYY-MM-DDTHH:MM (local time)")],
    feed_path: Annotated[Path | None, typer.Option(
        "--feed", help="GTFS feed (default: the feed loaded for --region)")] = None,
    max_transfers: Annotated[int | None, typer.Option(
        help="changes of vehicle (default: transit.max_transfers, 3)")] = None,
    region: RegionOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Earliest arrival from one stop to another, with the legs of the journey."""
    import datetime as dt

    from geo.errors import DataError
    from geo.transit.query import describe_legs, earliest_arrival, resolve_stops

    settings = make_settings(data_dir, region)
    try:
        when = dt.datetime.strptime(depart, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise DataError(f"--depart {depart!r} is not YYYY-MM-DDTHH:MM") from None
    feed = _feed(feed_path, settings, region)
    result = earliest_arrival(feed, resolve_stops(feed, from_stop),
                              when.hour * 3600 + when.minute * 60, when.date(), max_transfers,
                              settings=settings.transit)
    legs = describe_legs(result.journey(resolve_stops(feed, to_stop)), feed, when.date())
    arrival = legs[-1]["arrival"] if legs else when.isoformat(timespec="seconds")
    emit({"arrival": arrival, "legs": legs})


def _feed(feed_path: Path | None, settings: Settings, region: str | None) -> Any:
    """Return the feed at ``--feed``, else the one loaded for the region.

    Without either, the 'no timetable' error says how to load one.
    """
    from geo.sources import gtfs

    return (gtfs.load_feed(feed_path, settings) if feed_path
            else gtfs.load_region_feed(settings, region or settings.region))


def _day(text: str, option: str) -> Any:
    import datetime as dt

    from geo.errors import DataError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{option} {text!r} is not YYYY-MM-DD") from None


@transit_app.command("there-and-back")
def transit_there_and_back(
    from_lat: Annotated[float, typer.Option(help="home, latitude (WGS84 degrees)")],
    from_lon: Annotated[float, typer.Option(help="home, longitude")],
    to_lat: Annotated[float, typer.Option(help="offer, latitude")],
    to_lon: Annotated[float, typer.Option(help="offer, longitude")],
    date: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    arrive_by: Annotated[str | None, typer.Option(
        help="be at the offer by HH:MM (default: opening time from --opening-hours)")] = None,
    leave_after: Annotated[str | None, typer.Option(
        help="leave the offer at HH:MM (default: closing time from --opening-hours)")] = None,
    opening_hours: Annotated[str | None, typer.Option(
        help="the offer's OSM opening_hours, e.g. 'Tu 09:00-11:00'")] = None,
    feed_path: Annotated[Path | None, typer.Option(
        "--feed", help="GTFS feed (default: the feed loaded for --region)")] = None,
    region: RegionOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Reach an offer by walk and public transport and get home the same day.

    Arrive before it opens, leave after it closes: outbound and return journeys with
    their legs.
    """
    import numpy as np

    from geo.networks.snap import to_metric
    from geo.transit import trip
    from geo.transit.timetable import parse_clock

    settings = make_settings(data_dir, region)
    day = _day(date, "--date")
    feed = _feed(feed_path, settings, region)
    x, y = to_metric(np.array([from_lon, to_lon]), np.array([from_lat, to_lat]))
    answer = trip.there_and_back(
        feed, np.array([x[0], y[0]]), np.array([x[1], y[1]]), day,
        None if arrive_by is None else parse_clock(arrive_by, "--arrive-by"),
        None if leave_after is None else parse_clock(leave_after, "--leave-after"),
        opening_hours=opening_hours, settings=settings.transit)
    emit(answer.summary())


@transit_app.command("quality")
def transit_quality(
    date: Annotated[str, typer.Option(help="service day, YYYY-MM-DD (a weekday: ARE)")],
    feed_path: Annotated[Path | None, typer.Option(
        "--feed", help="GTFS feed (default: the feed loaded for --region)")] = None,
    region: RegionOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Compute ÖV-Güteklassen A–F (ARE, 06:00–20:00) and children per class.

    Class areas and the share of children under 10 per class and Gemeinde →
    data/processed/<region>/transit/.
    """
    import geopandas as gpd

    from geo._io import atomic_path
    from geo.sources.boundaries import load_units
    from geo.sources.population import load_children_100m
    from geo.transit.quality import gueteklassen, gueteklassen_shares

    settings = make_settings(data_dir, region)
    day = _day(date, "--date")
    feed = _feed(feed_path, settings, region)
    klassen = gueteklassen(feed, day)
    gemeinden = load_units(settings, "gemeinde")
    table = gueteklassen_shares(klassen, load_children_100m(settings), gemeinden)
    folder = settings.processed_dir / settings.region / "transit"
    folder.mkdir(parents=True, exist_ok=True)
    areas, shares = folder / "gueteklassen.parquet", folder / "gueteklassen_gemeinden.parquet"
    with atomic_path(areas) as tmp:
        klassen.to_parquet(tmp)
    with atomic_path(shares) as tmp:
        gpd.GeoDataFrame(table.merge(gemeinden[["ags", "geometry"]], on="ags"),
                         geometry="geometry", crs=gemeinden.crs).to_parquet(tmp)
    total = table["children_under_10"].sum()
    county = {c.removeprefix("share_"): round(float(
        (table[c].fillna(0) * table["children_under_10"]).sum() / total), 4) if total else None
        for c in table.columns if c.startswith("share_")}
    emit({"date": day.isoformat(), "classes": klassen["klasse"].tolist(),
          "gemeinden": len(table), "children_under_10": int(total),
          "children_share": county, "outputs": [str(areas), str(shares)]})


@app.command("report")
def report(
    unit: Annotated[list[str] | None, typer.Option(
        help="municipal unit: name (e.g. 'Rosdorf') or key (ARS, or a Gemeinde's AGS); "
             "repeatable")] = None,
    every: Annotated[bool, typer.Option("--all", help="every unit and the county overview")]
    = False,
    fmt: DocFormat = "html",
    out: DocOut = None,
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Mobility report per unit: population, offers, coverage, maps, white spots, transition."""
    from geo.products import report as report_mod

    settings = make_settings(data_dir, region)
    emit(report_mod.write_reports(settings, unit or [], every=every, fmt_=fmt, out=out))


@app.command("sites")
def sites(
    category: Annotated[Category, typer.Option(help="offer category, e.g. familienzentrum")],
    mode: Annotated[StreetMode, typer.Option(help="travel mode")] = StreetMode.bike,
    minutes: Annotated[float, typer.Option(help="time budget, minutes")] = 15.0,
    k: Annotated[int, typer.Option(help="number of new sites")] = 3,
    weight: Annotated[Weight, typer.Option(
        help="what to bring within reach: children, or a need layer")] = Weight.children_under_10,
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Best new sites: the k places that bring the most children (or families) within reach."""
    from geo.engine.access import Accessibility
    from geo.products import siting

    settings = make_settings(data_dir, region)
    emit(siting.best_sites(Accessibility(settings), category, mode, minutes, k,
                           weight=weight).summary())


@app.command("priority")
def priority(
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Where need and distance meet: Gemeinden ranked by single-parent families out of reach.

    Writes data/processed/<region>/priority/priority.{parquet,csv}; prints the top five.
    """
    from geo.engine.access import Accessibility
    from geo.products import priority as priority_mod

    settings = make_settings(data_dir, region)
    emit(priority_mod.write_priority(Accessibility(settings)))


@access_app.command("compute")
def access_compute(
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Nearest-offer times for every category and mode: GeoTIFFs, coverage and cell tables."""
    from geo.products.compute import compute

    settings = make_settings(data_dir, region)
    emit(compute(settings))


@maps_app.command("build")
def maps_build(
    data_dir: DataDir = None,
    region: RegionOpt = None,
    category: Annotated[list[str] | None, typer.Option(
        help="category to map (repeatable) [default: MapSettings.categories]")] = None,
    mode: Annotated[list[str] | None, typer.Option(
        help="walk, bike or car (repeatable) [default: all]")] = None,
) -> None:
    """Write a travel-time map per category and mode and the white-spot overview to maps/."""
    from geo.products import maps
    from geo.vocabulary import STREET_MODES

    settings = make_settings(data_dir, region)
    emit(maps.build_maps(settings, categories=category, modes=mode or STREET_MODES))


basemap_app = typer.Typer(help="The offline base map (raster tiles from the OSM vector tiles).",
                          no_args_is_help=True)
app.add_typer(basemap_app, name="basemap")


@basemap_app.command("build")
def basemap_build(
    data_dir: DataDir = None,
    region: RegionOpt = None,
    force: Annotated[bool, typer.Option(help="rebuild even if up to date")] = False,
) -> None:
    """Draw the base map's features and low-zoom tiles into data/processed/<region>/basemap/."""
    from geo.products.basemap import build_basemap

    emit(build_basemap(make_settings(data_dir, region), force=force))


@app.command("chain")
def chain(
    gemeinde: Annotated[str | None, typer.Option(
        help="Gemeinde (name or AGS) whose chain the JSON line shows")] = None,
    mode: Annotated[list[str] | None, typer.Option(
        help="walk, bike or transit (repeatable) [default: ChainSettings.modes; transit only "
             "with a loaded timetable]")] = None,
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Prevention chain: per Gemeinde and stage, the children who reach an offer in time.

    Gaps, table (data/processed/<region>/chain/) and map (maps/praeventionskette-<mode>.html).
    """
    from geo.products import chain as chain_mod

    settings = make_settings(data_dir, region)
    emit(chain_mod.write_chain(settings, gemeinde=gemeinde, modes=mode))


@app.command("actors")
def actors(
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Network of the Familienzentren: catchments, partners, travel times, planned centres.

    Tables, GraphML and GeoJSON in data/processed/<region>/chain/, map in maps/.
    """
    from geo.products import actors as actors_mod

    settings = make_settings(data_dir, region)
    emit(actors_mod.write_actors(settings))


@app.command("guide")
def guide(
    gemeinde: Annotated[str, typer.Option(help="Gemeinde (name or AGS)")],
    fmt: DocFormat = "html",
    out: DocOut = None,
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Family guide of a Gemeinde: per stage the offers families reach, nearest first."""
    from geo.products import guide as guide_mod

    settings = make_settings(data_dir, region)
    emit(guide_mod.write_guide(settings, gemeinde, fmt_=fmt, out=out))


@app.command("batch")
def batch(
    regions: Annotated[str | None, typer.Option(
        help="comma-separated region keys: the county (5-digit ARS) or its units (9-digit)")
        ] = None,
    land: Annotated[str | None, typer.Option(help="every county of a Land, e.g. 03")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="address of a running Dask scheduler, e.g. tcp://host:8786 [default: a "
        "LocalCluster]")] = None,
    workers: Annotated[int | None, typer.Option(
        help="LocalCluster workers [default: BatchSettings.workers, 2]")] = None,
    out: Annotated[Path | None, typer.Option(
        help="dataset folder [default: data/processed/<region>/batch]")] = None,
    halo_m: Annotated[float | None, typer.Option(
        help="halo in metres [default: max minutes × fastest speed + snap cut-off, capped]")
        ] = None,
    mode: Annotated[list[StreetMode] | None, typer.Option(
        help="walk, bike or car (repeatable) [default: all]")] = None,
    category: Annotated[list[Category] | None, typer.Option(
        help="category (repeatable) [default: every category with active offers]")] = None,
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Many regions as Dask tasks with a halo; one combined table, map and VRT mosaic."""
    from geo.networks.network import network_dir
    from geo.products import batch as batch_mod
    from geo.vocabulary import STREET_MODES

    settings = make_settings(data_dir, region)
    keys = batch_mod.resolve_regions(
        settings, [r.strip() for r in regions.split(",")] if regions is not None else None,
        land)
    emit(batch_mod.run_batch(
        settings, keys, out or network_dir(settings).parent / "batch",
        modes=[m.value for m in mode] if mode else STREET_MODES,
        categories=[c.value for c in category] if category else None, halo_m=halo_m,
        scheduler=scheduler, workers=workers))


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(
        help="bind address [default: ApiSettings.host, 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port [default: ApiSettings.port, 8000]")] = None,
    workers: Annotated[int | None, typer.Option(
        help="worker processes [default: ApiSettings.workers, 1]")] = None,
    data_dir: DataDir = None,
    region: RegionOpt = None,
) -> None:
    """Serve the API, the family page and the maps (uvicorn, no access log)."""
    from api.server import serve as run_server

    run_server(make_settings(data_dir, region), host, port, workers)


def main() -> None:
    """Console-script entry point: run the app, turning data errors into one line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        app()
    except ErreichbarError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
