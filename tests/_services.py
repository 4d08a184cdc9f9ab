"""One loaded API :class:`~api.services.Services` per test session, shared by the API, map and
browser tests (loading the engine, offers and address index takes ≈30 s on a cold cache)."""

from __future__ import annotations

from api.services import Services
from geo.settings import Settings

_LOADED: dict[str, Services] = {}


def services_for(settings: Settings) -> Services:
    """The services on ``settings`` (loaded on the first call of the session)."""
    key = str(settings.work_dir)
    if key not in _LOADED:
        _LOADED[key] = Services.load(settings)
    return _LOADED[key]
