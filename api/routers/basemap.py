"""The offline base map: tiles, labels and the page script (:mod:`geo.products.basemap`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from api.deps import SettingsDep
from api.errors import RequestError, echo
from api.models import ErrorBody
from geo.errors import DataError
from geo.messages import text
from geo.products.basemap import BaseMap, basemap_for, is_built, script
from geo.settings import Settings

router = APIRouter(tags=["basemap"])


def _basemap(settings: Settings) -> BaseMap:
    """Return the built base map, or 503 naming the build command."""
    try:
        return basemap_for(settings)
    except DataError:
        raise RequestError(503, [], text("basemap.not_built"), "not_built") from None


def _cache(settings: Settings) -> dict[str, str]:
    """Cache headers of tiles and labels (they change only with a new build)."""
    return {"Cache-Control": f"public, max-age={settings.basemap.max_age_s}"}


@router.get("/basemap/labels", responses={422: {"model": ErrorBody}, 503: {"model": ErrorBody}})
def basemap_labels(
        settings: SettingsDep,
        bbox: Annotated[str, Query(max_length=120, description=(
            "west,south,east,north in WGS84 degrees (the map's view)"))],
        zoom: Annotated[int, Query(ge=0, le=22, description="the map's zoom")]) -> JSONResponse:
    """Place and street names in the view, thinned so that none overlap.

    ``labels``: ``text``, ``kind`` (``place``/``street``), ``class``, ``lon``, ``lat``,
    ``size`` (font px) and ``angle`` (degrees clockwise, along the street).
    """
    try:
        w, s, e, n = (float(v) for v in bbox.split(","))
    except ValueError:
        raise RequestError(422, ["query", "bbox"], f"bbox {echo(bbox)}: want four numbers "
                           "west,south,east,north", "invalid") from None
    if not (-180 <= w < e <= 180 and -85 < s < n < 85):
        raise RequestError(422, ["query", "bbox"], f"bbox {echo(bbox)}: want west < east, "
                           "south < north, in degrees", "invalid")
    basemap = _basemap(settings)
    found = basemap.labels((w, s, e, n), zoom) if zoom >= settings.basemap.min_zoom else []
    return JSONResponse({"zoom": zoom, "labels": [lb.as_json() for lb in found]},
                        headers=_cache(settings))


@router.get("/basemap/{z}/{x}/{y}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody},
                       503: {"model": ErrorBody}})
def basemap_tile(settings: SettingsDep, z: Annotated[int, Path(ge=0, le=30)],
                 x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)]) -> Response:
    """One 256-pixel base-map tile (XYZ scheme); 404 outside the zooms or the region."""
    data = _basemap(settings).tile(z, x, y)
    if data is None:
        cfg = settings.basemap
        raise RequestError(404, ["path"], text("basemap.out_of_range", z=z, x=x, y=y,
                                                min_zoom=cfg.min_zoom, max_zoom=cfg.max_zoom),
                           "not_found")
    return Response(data, media_type="image/png", headers=_cache(settings))


@router.get("/basemap.js", include_in_schema=False)
def basemap_script(settings: SettingsDep) -> Response:
    """Serve the script defining ``window.erreichbarBaseMap(map)``, configured for the region.

    Without a built base map the script asks for no tiles; it is then not cached, so that
    a page finds the base map as soon as it is built.
    """
    cache = _cache(settings) if is_built(settings) else {"Cache-Control": "no-cache"}
    return Response(script(settings), media_type="text/javascript",
                    headers={"X-Content-Type-Options": "nosniff", **cache})
