"""The generated maps (``erreichbar maps build``): their names and the pages."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.errors import RequestError, echo
from api.guards import page_headers
from api.models import ErrorBody, MapList
from geo.products.maps import map_names

router = APIRouter(tags=["maps"])

_MAP_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@router.get("/maps", response_model=MapList)
def maps_index(settings: SettingsDep) -> MapList:
    """Names of the generated maps (``erreichbar maps build``)."""
    return MapList(maps=map_names(settings.maps.out_dir))


@router.get("/maps/{name}", response_class=HTMLResponse, responses={404: {"model": ErrorBody}})
def map_page(name: str, settings: SettingsDep) -> FileResponse:
    """One generated map (HTML, works offline).

    Only files that really lie in the maps folder are served: a symbolic link out of it
    is not found.
    """
    folder = settings.maps.out_dir.resolve()
    stem = name.removesuffix(".html")
    path = (folder / f"{stem}.html").resolve()
    if not _MAP_NAME.match(stem) or path.parent != folder or not path.is_file():
        raise RequestError(404, ["path", "name"], f"no map {echo(name)}; build maps with "
                           "'erreichbar maps build'", "not_found", map_names(folder))
    return FileResponse(path, media_type="text/html", headers=page_headers("map"))
