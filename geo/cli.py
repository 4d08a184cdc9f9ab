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

app = typer.Typer(help="Erreichbar: who can reach the family offers of a county, and how fast.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
network_app = typer.Typer(help="Street networks (walk, bike, car) from OSM data.",
                          no_args_is_help=True)
app.add_typer(network_app, name="network")
layers_app = typer.Typer(help="Data layers: boundaries, population grids, offer catalogue.",
                         no_args_is_help=True)
app.add_typer(layers_app, name="layers")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="ERREICHBAR_DATA_DIR",
                 help="folder with the input data [default: ../shared/data beside the repo]"),
]
RegionOpt = Annotated[str, typer.Option("--region", envvar="ERREICHBAR_REGION",
                                        help="study region")]


def make_settings(data_dir: Path | None, region: str) -> Settings:
    """Settings from the environment, overridden by the CLI options."""
    overrides: dict[str, Any] = {"region": region}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def emit(summary: dict[str, Any]) -> None:
    """Print the command's JSON summary as the last line on stdout."""
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")


@network_app.command("build")
def network_build(
    data_dir: DataDir = None,
    region: RegionOpt = "goettingen",
    source: Annotated[str, typer.Option(
        help="'tiles' (county vector tiles), 'city-tiles' or a path to an .osm.pbf/.osm")] = "tiles",
    force: Annotated[bool, typer.Option(help="rebuild even when inputs are unchanged")] = False,
) -> None:
    """Build walk, bike and car networks and store them in data/processed/."""
    from geo import network

    settings = make_settings(data_dir, region)
    emit(network.build_networks(settings, source=source, force=force))


@layers_app.command("build")
def layers_build(
    data_dir: DataDir = None,
    region: RegionOpt = "goettingen",
    offers: Annotated[Path | None, typer.Option(
        help="the county's own offer list (.csv/.xlsx/.geojson, see "
             "geo/data/offer_template.csv), added to the default offers")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even when inputs are unchanged")] = False,
) -> None:
    """Build boundaries, population grids and the offer catalogue into data/processed/."""
    from geo import layers

    settings = make_settings(data_dir, region)
    emit(layers.build_layers(settings, offers_file=offers, force=force))


@layers_app.command("check-offers")
def layers_check_offers(
    path: Annotated[Path, typer.Argument(help="offer file (.csv/.xlsx/.geojson)")],
    data_dir: DataDir = None,
    region: RegionOpt = "goettingen",
    out: Annotated[Path | None, typer.Option(
        help="also write the checked offers (.geojson/.parquet/.csv)")] = None,
) -> None:
    """Check an offer file row by row; print offers per category, or every bad row."""
    from geo import offers

    settings = make_settings(data_dir, region)
    frame = offers.read_offer_file(path, settings)
    if out is not None:
        offers.write_offers(frame, out)
    emit({"offers": len(frame), "categories": frame["category"].value_counts().to_dict()})


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
