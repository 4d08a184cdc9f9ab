"""What a family asks of a found offer beyond its minutes: other modes, address, hours.

Used by ``/nearest`` (:mod:`api.routers.travel`):

* :func:`other_modes` — minutes to given offers by every street mode (and by transit when
  that is the asked mode: transit has no table, one search per point takes seconds), read
  from the engine's nearest-offer tables (the ``k_max`` nearest per street node, built once
  per category and mode); an offer not among them is found by one forward search from the
  point that stops at the last such offer (:meth:`geo.engine.access.Accessibility.minutes_to`).
  The same trip model either way: access leg, network, the offer's access leg.
* :func:`nearest_anyway` — the nearest offer beyond ``nearest_max_min`` (one unbounded
  forward Dijkstra), and :func:`suggest_mode` — the first mode without a car, then the car,
  that reaches an offer within it.
* :func:`add_facts` — address, ``open_now`` and ``open_today`` (Europe/Berlin,
  :mod:`geo.sources.hours`) and ``other_modes`` of each listed offer.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from api.models import NearestOffer
from api.services import Services
from geo.errors import ErreichbarError
from geo.messages import text
from geo.networks.snap import to_metric
from geo.products.guide import minutes_from
from geo.sources import hours
from geo.vocabulary import STREET_MODES, Mode

#: Modes tried by :func:`suggest_mode`, in this order: without a car first.
SUGGEST_ORDER: Final = (Mode.walk, Mode.bike, Mode.transit, Mode.car)


def _minutes(value: float, limit: float) -> float | None:
    return round(float(value), 2) if np.isfinite(value) and value <= limit else None


def other_modes(s: Services, lon: float, lat: float, category: str, offer_ids: list[str],
                mode: str, minutes: list[float]) -> list[dict[str, float | None]]:
    """Return, per offer, the minutes from the point (WGS84) by each street mode and ``mode``.

    Only the street modes the region has (:meth:`Services.modes`).

    ``minutes`` are the offers' minutes by the asked ``mode``, already known. None where
    the offer lies beyond ``AccessSettings.nearest_max_min`` by that mode or the point is
    not connected to its network (see module docstring).
    """
    limit = s.settings.access.nearest_max_min
    out: list[dict[str, float | None]] = [{mode: _minutes(m, limit)} for m in minutes]
    loaded = s.modes()
    for other in STREET_MODES:  # transit has no table: a search per point takes seconds
        if other == mode or other not in loaded:
            continue
        try:
            found = s.engine.minutes_to(lon, lat, category, other, offer_ids)
        except ErreichbarError:  # no offer of the category connected to the mode's network
            found = np.full(len(offer_ids), np.inf)
        for row, value in zip(out, found.tolist(), strict=True):
            row[str(other)] = _minutes(value, limit)
    return out


def nearest_anyway(s: Services, lon: float, lat: float, category: str,
                   mode: str) -> NearestOffer | None:
    """Return the nearest active offer of ``category`` by a street ``mode``, however far.

    One unbounded forward Dijkstra from the point (WGS84); None for transit or when no
    offer is connected.
    """
    if mode not in STREET_MODES:
        return None
    active = s.offers[(s.offers["status"] == "active") & (s.offers["category"] == category)]
    if active.empty:
        return None
    x, y = to_metric(np.array([lon]), np.array([lat]))
    minutes = minutes_from(s.chain(), float(x[0]), float(y[0]), active["id"].reset_index(
        drop=True), mode, np.inf)
    if not np.isfinite(minutes).any():
        return None
    best = int(np.argmin(minutes))
    offer, location = s.by_id[str(active["id"].iloc[best])]
    return NearestOffer(rank=1, offer=offer, location=location,
                        minutes=round(float(minutes[best]), 2))


def suggest_mode(s: Services, lon: float, lat: float, category: str, mode: str) -> str | None:
    """Return the first mode of :data:`SUGGEST_ORDER` but ``mode`` that reaches an offer in time.

    In time: within ``AccessSettings.nearest_max_min`` (the engine's nearest-offer tables).
    """
    loaded = s.modes()
    for other in SUGGEST_ORDER:
        if other == mode or other not in loaded:
            continue
        try:
            found = s.engine.nearest_many(np.array([lon]), np.array([lat]), category, other, 1)
        except ErreichbarError:
            continue
        if len(found):
            return str(other)
    return None


def add_facts(s: Services, found: list[NearestOffer], lon: float, lat: float, category: str,
              mode: str, lang: str) -> None:
    """Fill in address, opening state (now, Europe/Berlin) and other modes of each offer.

    ``found`` are offers of ``category`` with their minutes by ``mode`` from the point.
    """
    if not found:
        return
    now = hours.local_now()
    closed = text("api.closed_today", lang)
    minutes = other_modes(s, lon, lat, category, [f.offer.id for f in found], mode,
                          [f.minutes for f in found])
    for item, by_mode in zip(found, minutes, strict=True):
        item.address, item.address_source = item.offer.address, item.offer.address_source
        item.open_now = hours.is_open(item.offer.opening_hours, now)
        item.open_today = hours.day_text(item.offer.opening_hours, now.date(), closed)
        item.other_modes = by_mode
