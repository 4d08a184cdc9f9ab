"""Download an OSM extract for a region: a Geofabrik PBF clipped to the region, or Overpass.

For users online. Results go to ``<work_dir>/raw/osm/``:

* ``--via geofabrik`` streams ``https://download.geofabrik.de/<region.geofabrik>-latest.osm.pbf``
  (checked against Geofabrik's ``.md5`` file), keeps it as a cache (``<name>-latest.osm.pbf``
  plus a ``.meta.json`` with its MD5, ETag and Last-Modified) and clips it with pyosmium to
  the region's bbox into ``<region>.osm.pbf``. A second run asks the server whether the
  extract changed (``.md5`` file, else ETag/Last-Modified) and downloads only if it did.
* ``--via overpass`` asks an Overpass API server (the one osmnx uses by default) for the
  region's ways tagged ``highway`` and its built-up ``landuse`` areas, written as
  ``<region>.osm`` XML. Overpass has no version to compare, so the file is reused until
  ``force``.

The clip keeps nodes inside the bbox, every way with at least one node inside (with all of
its nodes: "complete ways", as ``osmium extract -s complete_ways``), multipolygon
relations touching the bbox with all their member ways (so landuse areas stay closed) and
other relations touching the bbox without completing them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import osmium
from tqdm import tqdm

from geo._io import (
    atomic_path,
    clean_stray_tmp,
    redact_http_logs,
    redact_url,
    scrub,
    write_json,
)
from geo.errors import DataError, DownloadError, LimitError, RegionError
from geo.settings import Region, Settings, get_region
from geo.sources.osm import BUILT_UP_LANDUSE, BBox

log = logging.getLogger(__name__)
redact_http_logs()  # httpx logs every request URL at INFO: never with its secrets

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Download:
    """What :func:`download_region` produced."""

    region: str
    path: Path  #: the region's extract (.osm.pbf for Geofabrik, .osm for Overpass)
    bytes: int  #: size of ``path``
    cached: bool  #: True when nothing was downloaded (the cached copy is current)
    seconds: float  #: wall time

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary for the CLI."""
        return {**asdict(self), "path": str(self.path), "seconds": round(self.seconds, 2)}


def make_client(settings: Settings) -> httpx.Client:
    """Make an HTTP client with the configured timeout and an identifying User-Agent."""
    return httpx.Client(timeout=settings.download.timeout_s, follow_redirects=True,
                        headers={"User-Agent": settings.download.user_agent})


def download_region(settings: Settings, via: str = "geofabrik",
                    client: httpx.Client | None = None, force: bool = False) -> Download:
    """Download (or reuse) an OSM extract covering ``settings.region``.

    Parameters
    ----------
    settings
        Region name and ``download`` settings; files go to ``settings.raw_dir / "osm"``.
    via
        ``"geofabrik"`` (PBF, clipped to the region bbox) or ``"overpass"`` (.osm XML).
    client
        HTTP client to use (tests pass one with a recorded transport); default
        :func:`make_client`.
    force
        Download again even when the cached copy is current.

    Returns
    -------
    Download
        Path and size of the region's extract and whether the cache was used.

    Raises
    ------
    DownloadError
        The server refused, the transfer failed or the data is unusable.
    RegionError
        Unknown region, or (Geofabrik) the region has no Geofabrik extract configured.
    """
    t0 = time.perf_counter()
    region = get_region(settings.region)
    folder = settings.raw_dir / "osm"
    clean_stray_tmp(folder)  # partial downloads of a killed run
    own_client = client is None
    client = client or make_client(settings)
    try:
        if via == "geofabrik":
            path, cached = _via_geofabrik(region, settings, client, folder, force)
        elif via == "overpass":
            path, cached = _via_overpass(region, settings, client, folder, force)
        else:
            raise DownloadError(f"unknown download source {via!r}; use geofabrik or overpass")
    finally:
        if own_client:
            client.close()
    result = Download(region=region.name, path=path, bytes=path.stat().st_size,
                      cached=cached, seconds=time.perf_counter() - t0)
    log.info("%s extract for %s: %s (%.1f MB, %s) in %.1f s", via, region.name, path,
             result.bytes / 1e6, "cached" if cached else "downloaded", result.seconds)
    return result


def geofabrik_url(region: Region, settings: Settings) -> str:
    """URL of the region's Geofabrik extract (``…/<geofabrik>-latest.osm.pbf``)."""
    if not region.geofabrik:
        raise RegionError(f"region {region.name!r} has no Geofabrik extract configured; "
                          f"use --via overpass")
    return f"{settings.download.geofabrik_url.rstrip('/')}/{region.geofabrik}-latest.osm.pbf"


def _via_geofabrik(region: Region, settings: Settings, client: httpx.Client, folder: Path,
                   force: bool) -> tuple[Path, bool]:
    """Fetch the Geofabrik extract if it changed, then clip it to the region bbox."""
    url = geofabrik_url(region, settings)
    raw = folder / url.rsplit("/", 1)[1]
    meta_path = raw.with_name(raw.name + ".meta.json")
    meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
    cached = raw.exists() and bool(meta) and not force and _is_current(client, url, meta)
    if not cached:
        meta = _fetch_pbf(client, url, raw, settings.limits.osm_download_max_bytes)
        write_json(meta_path, meta)
    out = folder / f"{region.name}.osm.pbf"
    clip_meta = {"source_md5": meta["md5"], "bbox": list(region.bbox)}
    clip_meta_path = out.with_name(out.name + ".meta.json")
    if (out.exists() and clip_meta_path.exists()
            and json.loads(clip_meta_path.read_text("utf-8")) == clip_meta):
        log.info("%s is already clipped from this extract", out)
    else:
        clip_extract(raw, out, region.bbox)
        write_json(clip_meta_path, clip_meta)
    return out, cached


def _is_current(client: httpx.Client, url: str, meta: dict[str, str]) -> bool:
    """Ask the server whether the cached extract is current (.md5 file, else ETag/date).

    Offline (no connection), the cached copy is used with a warning.
    """
    try:
        remote_md5 = _remote_md5(client, url)
        if remote_md5 is not None:
            return remote_md5 == meta.get("md5")
        head = client.head(url)
        head.raise_for_status()
    except httpx.TransportError as exc:
        log.warning("cannot reach %s (%s); using the cached extract", redact_url(url),
                    scrub(str(exc), url))
        return True
    except httpx.HTTPStatusError as exc:
        raise DownloadError(f"{redact_url(url)}: server answered "
                            f"{exc.response.status_code}") from None
    etag, modified = head.headers.get("etag"), head.headers.get("last-modified")
    return bool(etag or modified) and (etag, modified) == (meta.get("etag"),
                                                           meta.get("last_modified"))


def _remote_md5(client: httpx.Client, url: str) -> str | None:
    """Return the MD5 Geofabrik publishes beside ``url`` (``<url>.md5``), or None if none."""
    response = client.get(url + ".md5")
    if response.status_code != 200:
        return None
    digest = response.text.split()[0].lower() if response.text.strip() else ""
    if len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
        raise DownloadError(f"{redact_url(url)}.md5: not an MD5 checksum file")
    return digest


def _fetch_pbf(client: httpx.Client, url: str, target: Path, max_bytes: int
               ) -> dict[str, str]:
    """Stream ``url`` to ``target`` and check it against the server's MD5.

    At most ``max_bytes`` bytes are accepted.

    Returns
    -------
    dict
        ``url`` (credentials redacted), ``md5``, ``etag``, ``last_modified`` of the file.
    """
    try:
        expected = _remote_md5(client, url)
    except httpx.TransportError as exc:
        raise DownloadError(f"{redact_url(url)}: cannot connect ({scrub(str(exc), url)})"
                            ) from None
    headers, md5 = _stream(client, client.build_request("GET", url), target, max_bytes,
                           check=lambda digest: expected is None or digest == expected)
    return {"url": redact_url(url), "md5": md5, "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified")}


def _stream(client: httpx.Client, request: httpx.Request, target: Path, max_bytes: int,
            check: Callable[[str], bool] | None = None) -> tuple[httpx.Headers, str]:
    """Stream a response body atomically to ``target`` with a progress bar.

    Parameters
    ----------
    max_bytes
        Largest body accepted, bytes (``settings.limits.osm_download_max_bytes``); the
        transfer stops beyond it with a LimitError and nothing is kept.
    check
        Optional ``callable(md5_hex) -> bool``; False discards the file (DownloadError).

    Returns
    -------
    tuple
        Response headers and the MD5 (hex) of the body.
    """
    url = str(request.url)
    log.info("downloading %s → %s", redact_url(url), target)
    try:
        response = client.send(request, stream=True)
        try:
            return save_response(response, target, max_bytes, check)
        finally:
            response.close()
    except httpx.TransportError as exc:
        raise DownloadError(f"{redact_url(url)}: download failed ({scrub(str(exc), url)})"
                            ) from None


def save_response(response: httpx.Response, target: Path, max_bytes: int,
          check: Callable[[str], bool] | None,
          limit: str = "limits.osm_download_max_bytes") -> tuple[httpx.Headers, str]:
    """Write a streamed 200 response (at most ``max_bytes`` bytes) to ``target`` atomically.

    ``limit`` names the setting behind ``max_bytes`` in the LimitError message. Return the
    response headers and the MD5 (hex) of the body.
    """
    url = redact_url(str(response.request.url))
    digest = hashlib.md5(usedforsecurity=False)
    if response.status_code != 200:
        raise DownloadError(f"{url}: server answered {response.status_code} "
                            f"{response.reason_phrase}")
    total = int(response.headers.get("content-length", 0)) or None
    if total is not None and total > max_bytes:
        raise LimitError(f"{url}: the server announces {total:,} bytes, more than the "
                         f"{max_bytes:,} allowed ({limit})")
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as f, tqdm(total=total, unit="B", unit_scale=True,
                                        desc=target.name, disable=None) as bar:
            for block in response.iter_bytes(_BLOCK):
                if f.tell() + len(block) > max_bytes:
                    raise LimitError(f"{url}: more than {max_bytes:,} bytes, stopped "
                                     f"({limit})")
                f.write(block)
                digest.update(block)
                bar.update(len(block))
        size = tmp.stat().st_size
        if total is not None and size != total:
            raise DownloadError(f"{url}: transfer ended after {size:,} of {total:,} bytes; "
                                f"try again")
        if check is not None and not check(digest.hexdigest()):
            raise DownloadError(f"{url}: MD5 of the download does not match the server's "
                                f"checksum; try again")
    return response.headers, digest.hexdigest()


def clip_extract(src: Path, dst: Path, bbox: BBox) -> Path:
    """Copy the part of an OSM file that touches ``bbox`` to ``dst`` (pyosmium, no CLI tool).

    Parameters
    ----------
    src
        Source extract (any format pyosmium reads).
    dst
        Output; the format follows the name (``.osm.pbf``, ``.osm``, …); written atomically.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``, WGS84 degrees.

    Returns
    -------
    Path
        ``dst``.

    Notes
    -----
    Nodes inside the box, ways with a node inside plus all their nodes, multipolygon
    relations touching the box plus all their member ways, other relations touching the box
    (members not completed). The header keeps the source's replication timestamp (the
    data vintage) and gets the bbox. Reading every node of the source in Python costs
    about a microsecond per node (a Land extract: minutes).
    """
    t0 = time.perf_counter()
    min_lon, min_lat, max_lon, max_lat = bbox
    try:
        keep = _select(src, bbox)
        header = osmium.io.Header()
        stamp = _replication_timestamp(src)
        if stamp:
            header.set("osmosis_replication_timestamp", stamp)
        header.add_box(osmium.osm.Box(osmium.osm.Location(min_lon, min_lat),
                                      osmium.osm.Location(max_lon, max_lat)))
        header.set("generator", "erreichbar (pyosmium)")
        with atomic_path(dst) as tmp:  # osmium takes the format from the name: say it
            target = osmium.io.File(str(tmp), _suffix(dst).lstrip("."))
            with osmium.SimpleWriter(target, header=header, overwrite=True) as writer:
                for obj in osmium.FileProcessor(src):
                    if obj.id in keep[obj.type_str()]:
                        writer.add(obj)
    except RuntimeError as exc:
        raise DataError(f"{src}: cannot clip, not a readable OSM file ({exc})") from None
    log.info("clipped %s to bbox %s → %s (%.1f MB) in %.1f s", src, bbox, dst,
             dst.stat().st_size / 1e6, time.perf_counter() - t0)
    return dst


def _select(src: Path, bbox: BBox) -> dict[str, set[int]]:
    """Ids of the nodes ('n'), ways ('w') and relations ('r') :func:`clip_extract` keeps.

    Python sets, not ``osmium.IdTracker``: its dense bitsets allocate a block per id range
    touched, which for the scattered ids of a small area costs seconds and gigabytes.
    """
    x0, y0, x1, y1 = (round(v * 1e7) for v in bbox)  # osmium's fixed-point coordinates
    inside: set[int] = set()
    nodes: set[int] = set()
    ways: set[int] = set()
    relations: set[int] = set()
    member_ways: set[int] = set()  # of multipolygons touching the box
    for obj in osmium.FileProcessor(src):
        if isinstance(obj, osmium.osm.Node):
            loc = obj.location
            if x0 <= loc.x <= x1 and y0 <= loc.y <= y1:
                inside.add(obj.id)
        elif isinstance(obj, osmium.osm.Way):
            refs = [n.ref for n in obj.nodes]
            if not inside.isdisjoint(refs):
                ways.add(obj.id)
                nodes.update(refs)
        elif isinstance(obj, osmium.osm.Relation):
            members = [(m.type, m.ref) for m in obj.members]
            if any(ref in (inside if kind == "n" else ways if kind == "w" else relations)
                   for kind, ref in members):
                relations.add(obj.id)
                if obj.tags.get("type") == "multipolygon":
                    member_ways.update(ref for kind, ref in members if kind == "w")
    missing = member_ways - ways
    if missing:  # complete the multipolygons: their other ways and those ways' nodes
        for way in osmium.FileProcessor(src, osmium.osm.WAY):
            if isinstance(way, osmium.osm.Way) and way.id in missing:
                ways.add(way.id)
                nodes.update(n.ref for n in way.nodes)
    return {"n": nodes | inside, "w": ways, "r": relations}


def _suffix(path: Path) -> str:
    """Return the OSM format ending of ``path`` (``.osm.pbf``, ``.osm``, ``.osm.bz2`` …)."""
    name = path.name.lower()
    for ending in (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf", ".o5m"):
        if name.endswith(ending):
            return ending
    raise DataError(f"{path}: unknown OSM file type")


def _replication_timestamp(path: Path) -> str:
    """Return the header's ``osmosis_replication_timestamp`` ('' if none)."""
    reader = osmium.io.Reader(str(path), osmium.osm.NOTHING)
    try:
        return reader.header().get("osmosis_replication_timestamp") or ""
    finally:
        reader.close()


def overpass_query(bbox: BBox, timeout_s: int) -> str:
    """Overpass QL for the transport ways and built-up landuse areas in ``bbox``.

    Ways tagged ``highway`` and ``landuse`` ways/multipolygons of
    :data:`geo.sources.osm.BUILT_UP_LANDUSE` that intersect the box, with all their nodes (and
    member ways), as OSM XML with metadata (timestamps give the vintage).
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    box = f"({min_lat},{min_lon},{max_lat},{max_lon})"
    landuse = "|".join(sorted(BUILT_UP_LANDUSE))
    return (f"[out:xml][timeout:{timeout_s}];\n"
            f"(\n  way[\"highway\"]{box};\n"
            f"  way[\"landuse\"~\"^({landuse})$\"]{box};\n"
            f"  relation[\"type\"=\"multipolygon\"][\"landuse\"~\"^({landuse})$\"]{box};\n"
            f");\n(._;>;);\nout meta;\n")


def _via_overpass(region: Region, settings: Settings, client: httpx.Client, folder: Path,
                  force: bool) -> tuple[Path, bool]:
    """Ask Overpass for the region (reusing an earlier answer to the same query)."""
    query = overpass_query(region.bbox, settings.download.overpass_timeout_s)
    out = folder / f"{region.name}.osm"
    meta_path = out.with_name(out.name + ".meta.json")
    meta = {"url": redact_url(settings.download.overpass_url), "query": query}
    if (not force and out.exists() and meta_path.exists()
            and json.loads(meta_path.read_text("utf-8")) == meta):
        return out, True
    request = client.build_request("POST", settings.download.overpass_url,
                                   data={"data": query},
                                   timeout=settings.download.overpass_timeout_s + 60)
    _stream(client, request, out, settings.limits.osm_download_max_bytes)
    _check_overpass(out)
    write_json(meta_path, meta)
    return out, False


def _check_overpass(path: Path) -> None:
    """Raise DownloadError (and drop the file) if Overpass sent no data or a runtime error."""
    with open(path, "rb") as f:
        head = f.read(512)
        f.seek(max(0, path.stat().st_size - 4096))
        tail = f.read()
    problem = None
    if b"<osm" not in head:
        problem = "the answer is not OSM XML"
    elif b"runtime error" in tail or b"runtime remark" in tail:
        start = tail.find(b"<remark>")
        problem = tail[start + 8: tail.find(b"</remark>")].decode(errors="replace").strip() \
            if start >= 0 else "runtime error"
    if problem:
        path.unlink()
        raise DownloadError(f"Overpass: {problem}; try again later or use --via geofabrik")
