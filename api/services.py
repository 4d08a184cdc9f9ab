"""What the API loads once: the engine, the address index and the offer tables.

:class:`Services` is built at startup (the app's lifespan) or handed in by tests and
benchmarks; the routers reach it through :func:`api.deps.get_services`.

Which travel modes a region answers follows from the data it has (:meth:`Services.modes`):
a street mode needs its built network, transit a loaded timetable. A region with street
data (vector tiles) is ready once its networks are built; a region without (the Enzkreis:
a timetable, boundaries and census grids only) once a timetable is loaded
(:meth:`Services.missing`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from api.models import OfferProperties, PointGeometry
from geo.engine.access import Accessibility
from geo.errors import DataError, ErreichbarError
from geo.networks import routing
from geo.networks.network import network_dir
from geo.networks.snap import to_metric
from geo.products.chain import ChainData
from geo.products.siting import completeness
from geo.products.transit_status import timetable_status
from geo.products.transition import offer_gemeinden
from geo.settings import Settings, get_region
from geo.sources.addresses import offer_addresses
from geo.sources.boundaries import vg5000_files
from geo.sources.geocode import Geocoder
from geo.vocabulary import STREET_MODES, Mode

log = logging.getLogger(__name__)

#: How to build each piece of derived data the travel-time endpoints need.
BUILD_HINTS: dict[str, str] = {
    f"network_{mode}": "run `erreichbar network build` (or `make build`)" for mode in STREET_MODES}


def check_inputs(settings: Settings) -> None:
    """Refuse a data directory without the region's inputs (boundaries, vector tiles).

    Raises
    ------
    DataError
        Naming the directory and the first missing files.
    """
    region = get_region(settings.region)
    tiles = [settings.data_dir / t.path for t in (region.tiles,) if t is not None]
    missing = [p for p in [*vg5000_files(settings.data_dir), *tiles] if not p.exists()]
    if missing:
        raise DataError(f"data directory {settings.data_dir} lacks {len(missing)} input(s) of "
                        f"{region.title}, e.g. {missing[0]}; give --data-dir the folder with "
                        "the real data (../shared/data)")


def plain(value: Any) -> Any:
    """NaN/None → None, numpy scalars → Python scalars (for pydantic)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return None if isinstance(value, float) and not np.isfinite(value) else value


@dataclass
class Services:
    """The engine, the address index and derived offer tables of one region."""

    settings: Settings
    engine: Accessibility
    geocoder: Geocoder
    offers: pd.DataFrame  #: catalogue with ``gemeinde`` (name) and ``gemeinde_ags``
    gemeinden: dict[str, Any]  #: GeoJSON of the Gemeinden (ags, name), WGS84
    by_id: dict[str, tuple[OfferProperties, PointGeometry]] = field(default_factory=dict)
    warm: list[str] = field(default_factory=list)
    _chain: ChainData | None = field(default=None, init=False, repr=False)
    _timetable: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _incomplete: list[str] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        """Index the offers by id."""
        self.by_id = {row["id"]: (self.offer_properties(row),
                                  PointGeometry(coordinates=(row["lon"], row["lat"])))
                      for _, row in self.offers.iterrows()}

    def chain(self) -> ChainData:
        """Return the prevention chain's figures of the engine (built once, then kept)."""
        with self._lock:
            if self._chain is None:
                self._chain = ChainData(self.engine)
            return self._chain

    def _timetable_status(self) -> dict[str, Any]:
        """Return the region's timetable status (read once, as the engine loads the feed once)."""
        with self._lock:
            if self._timetable is None:
                self._timetable = timetable_status(self.settings)
            return self._timetable

    def timetable(self) -> str:
        """Return the state of the region's timetable (none, long_distance_only, loaded).

        See :func:`geo.products.transit_status.timetable_status`.
        """
        return str(self._timetable_status()["state"])

    def timetable_days(self) -> tuple[dt.date, dt.date] | None:
        """Return the loaded timetable's first and last service day (None without one)."""
        days = self._timetable_status().get("days")
        return None if days is None else (days[0], days[1])

    def incomplete_gemeinden(self) -> list[str]:
        """Gemeinden whose Kita data the reports' completeness check flags (computed once).

        The check is :func:`geo.products.siting.completeness` (active Kitas per 100 children
        under 10 against the county median), the same the reports show.
        """
        with self._lock:
            if self._incomplete is None:
                table = completeness(self.engine)
                self._incomplete = [str(n) for n in table.loc[table["flagged"], "name"]]
            return list(self._incomplete)

    @classmethod
    def load(cls, settings: Settings) -> Services:
        """Load offers, boundaries and the address index (≈15 s; networks load lazily).

        An offer's Gemeinde is the report's (:func:`geo.products.transition.offer_gemeinden`),
        its address its own or the nearest house number's
        (:func:`geo.sources.addresses.offer_addresses`).
        """
        engine = Accessibility(settings)
        gemeinden = engine.units("gemeinde")
        table = pd.DataFrame(engine.offers.drop(columns="geometry"))
        table["gemeinde_ags"] = table["id"].map(offer_gemeinden(engine))
        table["gemeinde"] = table["gemeinde_ags"].map(gemeinden.set_index("ags")["name"])
        outline = gemeinden[["ags", "name", "geometry"]].to_crs("EPSG:4326")
        geocoder = Geocoder(settings)  # after the engine: no offers, no address index
        table = table.join(offer_addresses(table, geocoder))
        return cls(settings, engine, geocoder, table, json.loads(outline.to_json(drop_id=True)))

    def has_streets(self) -> bool:
        """Whether the data directory has street data of the region (its vector tiles)."""
        region = self.engine.region
        return region.tiles is not None or region.city_tiles is not None

    def modes(self) -> list[str]:
        """Return the modes that can answer, in vocabulary order.

        Each street mode whose network is built (from tiles or an OSM extract), and transit
        when a timetable is loaded (:meth:`timetable` not ``none``).
        """
        folder = network_dir(self.settings)
        street = [str(m) for m in STREET_MODES if (folder / f"{m}.npz").is_file()]
        return [*street, *([str(Mode.transit)] if self.timetable() != "none" else [])]

    def missing(self) -> dict[str, str]:
        """Return the derived data not built yet → how to build it (empty when ready).

        With street data: the networks of the street modes. Without (no tiles): nothing
        while some mode can answer, else the timetable.
        """
        folder = network_dir(self.settings)
        if self.has_streets():
            return {need: hint for need, hint in BUILD_HINTS.items()
                    if not (folder / f"{need.removeprefix('network_')}.npz").is_file()}
        if self.modes():
            return {}
        return {"timetable": f"run `erreichbar gtfs load --region {self.settings.region}` "
                             "(the region has no street data, so only public transport)"}

    def inside(self, lon: float, lat: float) -> bool:
        """Whether a WGS84 point lies in the region.

        Inside means within :attr:`~geo.settings.OfferSettings.region_tolerance_m` of the
        county, as for offers and the engine's query points.
        """
        x, y = to_metric(np.array([lon]), np.array([lat]))
        return bool(self.engine.data.inside(x, y)[0])

    def warm_up(self) -> None:
        """Build the nearest table of every category × street mode (background thread).

        Only the modes the region has (:meth:`modes`); transit has no table.
        """
        active = self.offers[self.offers["status"] == "active"]
        street = [m for m in self.modes() if m in STREET_MODES]
        for category in self.engine.categories():
            offers = active[active["category"] == category]
            for mode in street:
                try:
                    self.engine.nearest_many(offers["lon"].to_numpy()[:1],
                                             offers["lat"].to_numpy()[:1], category, mode, 1)
                except ErreichbarError as exc:
                    log.warning("warm-up %s/%s: %s", category, mode, exc)
                    continue
                self.warm.append(f"{category}/{mode}")
        routing.load_times_to()  # the search of /nearest's other modes (api.reach)
        log.info("nearest tables ready: %d", len(self.warm))

    def offer_properties(self, row: pd.Series, open_: bool | None = None) -> OfferProperties:
        """Catalogue row → :class:`OfferProperties`."""
        data = {k: plain(row.get(k)) for k in OfferProperties.model_fields
                if k not in ("open", "matches")}
        return OfferProperties(**data, open=open_)
