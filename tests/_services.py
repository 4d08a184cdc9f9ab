"""Test helpers shared by modules: one loaded API :class:`~api.services.Services` per work dir
and session, and work dirs linked to the session's built data (:func:`linked_work`)."""

from __future__ import annotations

from pathlib import Path

from api.services import Services
from geo.settings import Settings

_LOADED: dict[str, Services] = {}


def services_for(settings: Settings) -> Services:
    """The services on ``settings`` (loaded on the first call of the session)."""
    key = str(settings.work_dir)
    if key not in _LOADED:
        _LOADED[key] = Services.load(settings)
    return _LOADED[key]


def linked_work(settings: Settings, work: Path) -> Settings:
    """``settings`` on a new work dir that shares the session's built data (symlinks).

    The region's networks, base map, address index and layers and the decoded-tile cache
    are linked where the session has built them, so only what a test adds (a timetable, say)
    is its own; loading API services there then takes seconds, not the ≈30 s of a cold dir.
    """
    ours, theirs = work / "processed", settings.work_dir / "processed"
    (ours / settings.region).mkdir(parents=True)
    for part in ("network", "basemap", "geocode", "layers"):
        if (theirs / settings.region / part).is_dir():
            (ours / settings.region / part).symlink_to(theirs / settings.region / part)
    if (theirs / "tiles-cache").is_dir():
        (ours / "tiles-cache").symlink_to(theirs / "tiles-cache")
    return settings.model_copy(update={"work_dir": work})
