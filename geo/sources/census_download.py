"""Download the Zensus 2022 grids from Destatis and convert them to the 2011 grid layout.

For users online: ``erreichbar layers download [--feature Einwohner ...] [--force]``.
Destatis publishes the Zensus 2022 results "in Gitterzellen" as one zipped CSV per feature
(``<census.download_url>/<archive>``, e.g. ``Zensus2022_Bevoelkerungszahl.zip``), each zip
holding the 100 m, 1 km and 10 km grids. The CSVs are semicolon separated with the columns
``GITTER_ID_<res>`` (INSPIRE id, lower-left corner), ``x_mp_<res>``/``y_mp_<res>`` (cell
centre, EPSG:3035 metres), one column per value or category (a total ``Insgesamt_…``
first where there are categories) and sometimes ``werterlaeuternde_Zeichen`` (``KLAMMERN``
= the value is of limited reliability). ``–`` marks a suppressed value; decimals have a
comma. Encoding is UTF-8 or Windows-1252.

Archives are cached in ``<work_dir>/raw/zensus2022/`` with their ETag and Last-Modified
(``<archive>.meta.json``); a second run asks the server with a conditional request
(``If-None-Match`` / ``If-Modified-Since``) and downloads only if the archive changed (304
= cached). Offline, a cached archive is used with a warning.

Each archive is converted (atomically) to the layout of the 2011 files, so that the readers
of :mod:`geo.sources.population` and :mod:`geo.sources.need` read either census:

* continuous 1 km features → ``continuous_<feature>.parquet`` with ``<feature>``, ``x``,
  ``y`` (suppressed = -1, as in the 2011 files);
* category 100 m features → ``<theme>_<feature>_<code>.parquet`` with ``value``,
  ``quality`` (0, 1 = flagged ``KLAMMERN``), ``x``, ``y``, only the published cells. The
  category columns are taken in their order after the total (code = position, 1-based, the
  2011 codebook's order); their number is checked and the column behind each code is
  recorded in ``<archive>.converted.json``.
"""

from __future__ import annotations

import json
import logging
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo._io import atomic_path, write_json
from geo.errors import DataError, DownloadError
from geo.settings import Settings
from geo.sources.download import make_client, save_response

log = logging.getLogger(__name__)

#: Bumped when the converted layout changes (a cached archive is converted again).
CONVERT_VERSION: Final = 1
#: Rows parsed at a time (the 100 m CSVs have millions of rows).
CHUNK_ROWS: Final = 500_000
#: Texts Destatis uses for a suppressed or missing value.
SUPPRESSED: Final = frozenset({"", "–", "-", "—", ".", "x", "X", "/"})


@dataclass(frozen=True)
class GridFeature:
    """One Zensus 2022 grid feature and how it maps to the 2011 layout.

    Attributes
    ----------
    name
        Feature name, as in the 2011 files (``Einwohner``, ``FAMTYP_KIND`` …).
    archive
        File name of the Destatis download.
    resolution
        Grid read from the archive: ``1km`` or ``100m``.
    kind
        ``continuous`` (one value per cell) or ``categories`` (counts per category).
    categories
        Number of category columns expected after the total (``categories`` only).
    keep
        Category codes written (1-based positions).
    theme
        Prefix of category files (``demography``, ``families``).
    integer
        Continuous values are whole numbers (inhabitants).
    """

    name: str
    archive: str
    resolution: Literal["1km", "100m"]
    kind: Literal["continuous", "categories"]
    categories: int = 0
    keep: tuple[int, ...] = ()
    theme: str = ""
    integer: bool = False

    def outputs(self) -> list[str]:
        """File names this feature is converted to."""
        if self.kind == "continuous":
            return [f"continuous_{self.name}.parquet"]
        return [f"{self.theme}_{self.name}_{code}.parquet" for code in self.keep]


#: The features the population and need layers read, by name.
FEATURES: Final[dict[str, GridFeature]] = {f.name: f for f in (
    GridFeature("Einwohner", "Zensus2022_Bevoelkerungszahl.zip", "1km", "continuous",
                integer=True),
    GridFeature("unter18_A", "Anteil_unter_18-jaehrige_in_Gitterzellen.zip", "1km",
                "continuous"),
    GridFeature("Auslaender_A", "Auslaenderanteil_in_Gitterzellen.zip", "1km", "continuous"),
    GridFeature("HHGroesse_D", "Durchschnittliche_Haushaltsgroesse_in_Gitterzellen.zip", "1km",
                "continuous"),
    GridFeature("Leerstandsquote", "Leerstandsquote_in_Gitterzellen.zip", "1km", "continuous"),
    GridFeature("ALTER_10JG", "Alter_in_10er-Jahresgruppen.zip", "100m", "categories",
                categories=9, keep=(1,), theme="demography"),
    GridFeature("FAMTYP_KIND", "Typ_der_Kernfamilie_nach_Kindern.zip", "100m", "categories",
                categories=13, keep=(2, 5, 8, 10, 12), theme="families"),
    GridFeature("STAATSANGE_KURZ", "Zensus2022_Staatsangehoerigkeit_in_Gitterzellen.zip",
                "100m", "categories", categories=2, keep=(2,), theme="demography"),
)}


@dataclass(frozen=True)
class CensusDownload:
    """What :func:`download_census` produced, per feature."""

    features: list[str]
    paths: dict[str, list[Path]] = field(default_factory=dict)  #: converted parquet files
    bytes: dict[str, int] = field(default_factory=dict)  #: size of the cached archive
    cached: dict[str, bool] = field(default_factory=dict)  #: True: nothing downloaded
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary for the CLI."""
        return {"features": self.features,
                "paths": {k: [str(p) for p in v] for k, v in self.paths.items()},
                "bytes": self.bytes, "cached": self.cached,
                "seconds": round(self.seconds, 2)}


def download_census(settings: Settings, features: list[str] | None = None,
                    client: httpx.Client | None = None, force: bool = False) -> CensusDownload:
    """Download (or revalidate) Zensus 2022 grid archives and convert them to parquet.

    Parameters
    ----------
    settings
        ``census.download_url`` and ``download`` settings; files go to
        ``settings.raw_dir / "zensus2022"`` (read there when ``census.name`` is
        ``zensus2022``).
    features
        Names from :data:`FEATURES`; None = all of them.
    client
        HTTP client (tests pass one with a mock transport); default
        :func:`geo.sources.download.make_client`.
    force
        Download again even when the cached archive is current.

    Returns
    -------
    CensusDownload
        Converted files, archive sizes (bytes) and whether each came from the cache.

    Raises
    ------
    DataError
        Unknown feature; an archive is not a zip or its CSV is not the expected layout
        (the message names the URL).
    DownloadError
        The server refused or the transfer failed.
    LimitError
        An archive is larger than ``settings.limits.census_download_max_bytes``.
    """
    t0 = time.perf_counter()
    names = list(features or FEATURES)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise DataError(f"unknown census feature(s) {', '.join(map(repr, unknown))}; known: "
                        f"{', '.join(FEATURES)}")
    folder = settings.raw_dir / "zensus2022"
    paths: dict[str, list[Path]] = {}
    sizes: dict[str, int] = {}
    cached: dict[str, bool] = {}
    own_client = client is None
    client = client or make_client(settings)
    try:
        for name in names:
            feature = FEATURES[name]
            url = f"{settings.census.download_url.rstrip('/')}/{feature.archive}"
            archive = folder / feature.archive
            cached[name] = fetch_archive(client, url, archive, force,
                                         max_bytes=settings.limits.census_download_max_bytes)
            paths[name] = convert_archive(archive, feature, folder, url)
            sizes[name] = archive.stat().st_size
    finally:
        if own_client:
            client.close()
    return CensusDownload(features=names, paths=paths, bytes=sizes, cached=cached,
                          seconds=time.perf_counter() - t0)


def _meta_path(archive: Path, kind: str) -> Path:
    """``<archive>.<kind>.json`` beside the archive (``meta`` or ``converted``)."""
    return archive.with_name(f"{archive.name}.{kind}.json")


def fetch_archive(client: httpx.Client, url: str, target: Path, force: bool = False, *,
                  max_bytes: int) -> bool:
    """Download ``url`` to ``target`` unless the cached copy is current (conditional GET).

    Parameters
    ----------
    client
        HTTP client.
    url
        The archive's URL.
    target
        Cache path; ``<target>.meta.json`` keeps the ETag, Last-Modified and MD5.
    force
        Download without asking whether the cached copy is current.
    max_bytes
        Largest archive accepted, bytes (``settings.limits.census_download_max_bytes``); the
        transfer stops beyond it with a LimitError and nothing is kept.

    Returns
    -------
    bool
        True when the cached copy was kept (server answered 304, or it is unreachable).

    Raises
    ------
    DownloadError
        The server answered neither 200 nor 304, or the transfer failed.
    LimitError
        The archive is larger than ``max_bytes``.
    """
    meta_path = _meta_path(target, "meta")
    meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else {}
    revalidate = target.is_file() and bool(meta) and not force
    headers = {}
    if revalidate and meta.get("etag"):
        headers["If-None-Match"] = meta["etag"]
    if revalidate and meta.get("last_modified"):
        headers["If-Modified-Since"] = meta["last_modified"]
    try:
        response = client.send(client.build_request("GET", url, headers=headers), stream=True)
    except httpx.TransportError as exc:
        if revalidate:
            log.warning("cannot reach %s (%s); using the cached %s", url, exc, target)
            return True
        raise DownloadError(f"{url}: cannot connect ({exc})") from None
    try:
        if response.status_code == 304 and headers:
            log.info("%s is current (304 Not Modified)", target)
            return True
        answer, md5 = save_response(response, target, max_bytes, None,
                            limit="limits.census_download_max_bytes")
    except httpx.TransportError as exc:
        raise DownloadError(f"{url}: download failed ({exc})") from None
    finally:
        response.close()
    write_json(meta_path, {"url": url, "etag": answer.get("etag"),
                           "last_modified": answer.get("last-modified"), "md5": md5})
    return False


def convert_archive(archive: Path, feature: GridFeature, folder: Path, url: str) -> list[Path]:
    """Convert a downloaded archive to the 2011 parquet layout (skipped if done already).

    Parameters
    ----------
    archive
        The cached zip.
    feature
        What it holds (:data:`FEATURES`).
    folder
        Output folder.
    url
        Where the archive came from (named in errors).

    Returns
    -------
    list of Path
        The parquet files (:meth:`GridFeature.outputs`).

    Raises
    ------
    DataError
        Not a zip (the archive and its metadata are removed), no CSV of the feature's
        resolution, unexpected columns or values.
    """
    meta = json.loads(_meta_path(archive, "meta").read_text("utf-8"))
    done_path = _meta_path(archive, "converted")
    outputs = [folder / name for name in feature.outputs()]
    stamp = {"version": CONVERT_VERSION, "md5": meta.get("md5"), "feature": feature.name}
    if done_path.is_file() and all(p.is_file() for p in outputs):
        done = json.loads(done_path.read_text("utf-8"))
        if {k: done.get(k) for k in stamp} == stamp:
            return outputs
    try:
        with zipfile.ZipFile(archive) as zipped:
            member = _member(zipped, feature, url)
            tables, columns = _parse_member(zipped, member, feature, url)
    except zipfile.BadZipFile as exc:
        archive.unlink(missing_ok=True)
        _meta_path(archive, "meta").unlink(missing_ok=True)
        raise DataError(f"{url}: the download is not a valid zip archive ({exc}); it was "
                        "removed, run the download again") from None
    for path, table in zip(outputs, tables, strict=True):
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        log.info("%s: %d cells → %s", feature.name, table.num_rows, path)
    write_json(done_path, {**stamp, "url": url, "member": member, "columns": columns,
                           "outputs": [p.name for p in outputs]})
    return outputs


def _member(zipped: zipfile.ZipFile, feature: GridFeature, url: str) -> str:
    """Return the archive's CSV of the feature's resolution."""
    csvs = [n for n in zipped.namelist() if n.lower().endswith(".csv")]
    tagged = [n for n in csvs if feature.resolution in n.lower().replace(" ", "")]
    if len(tagged) == 1:
        return tagged[0]
    if len(csvs) == 1 and not tagged:
        return csvs[0]
    raise DataError(f"{url}: expected one {feature.resolution} grid CSV in the archive, found "
                    f"{', '.join(csvs) or 'no CSV'}")


def _parse_member(zipped: zipfile.ZipFile, member: str, feature: GridFeature,
                  url: str) -> tuple[list[pa.Table], dict[str, str]]:
    """Parse the CSV (UTF-8, else Windows-1252) into the output tables."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with zipped.open(member) as raw:
                chunks = pd.read_csv(raw, sep=";", dtype=str, keep_default_na=False,
                                     encoding=encoding, chunksize=CHUNK_ROWS)
                return _collect(chunks, feature, f"{url} ({member})")
        except UnicodeDecodeError:
            log.info("%s is not UTF-8; reading it as Windows-1252", member)
    raise DataError(f"{url} ({member}): neither UTF-8 nor Windows-1252 text")


def _value_columns(columns: list[str], feature: GridFeature, where: str) -> list[str]:
    """Return the value columns of a chunk (ids, centres, flags and totals left out), checked."""
    skip = ("gitter_id", "x_mp", "y_mp", "werterlaeuternde", "insgesamt")
    values = [c for c in columns if not c.strip().lower().startswith(skip)]
    expected = 1 if feature.kind == "continuous" else feature.categories
    if len(values) != expected:
        raise DataError(f"{where}: expected {expected} value column(s) for {feature.name}, "
                        f"found {len(values)}: {', '.join(values) or '-'}")
    return values


def _centres(chunk: pd.DataFrame, resolution: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (EPSG:3035 metres) from ``x_mp_/y_mp_`` or else the INSPIRE id."""
    lower = {c.strip().lower(): c for c in chunk.columns}
    x_col, y_col = lower.get(f"x_mp_{resolution}"), lower.get(f"y_mp_{resolution}")
    if x_col and y_col:
        x = pd.to_numeric(chunk[x_col], errors="coerce")
        y = pd.to_numeric(chunk[y_col], errors="coerce")
    elif f"gitter_id_{resolution}" in lower:
        half = 50 if resolution == "100m" else 500
        parts = chunk[lower[f"gitter_id_{resolution}"]].str.extract(r"N(\d+)E(\d+)")
        x = pd.to_numeric(parts[1], errors="coerce") + half
        y = pd.to_numeric(parts[0], errors="coerce") + half
    else:
        raise DataError(f"{where}: no x_mp_{resolution}/y_mp_{resolution} or "
                        f"GITTER_ID_{resolution} column")
    if x.isna().any() or y.isna().any():
        line = int(chunk.index[(x.isna() | y.isna()).to_numpy()][0]) + 2
        raise DataError(f"{where}: line {line}: cell coordinates are not numbers")
    return x.to_numpy(np.int64).astype(np.int32), y.to_numpy(np.int64).astype(np.int32)


def _numbers(text: pd.Series, integer: bool, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Values (float) and a suppressed mask of one column; DataError on anything else."""
    clean = text.str.strip().str.strip("()")
    suppressed = clean.isin(SUPPRESSED).to_numpy()
    clean = (clean.str.replace(r"[.,\s]", "", regex=True) if integer
             else clean.str.replace(",", ".", regex=False))
    values = pd.to_numeric(clean, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~suppressed
    if bad.any():
        lines = text.index[bad][:5] + 2
        examples = ", ".join(f"line {n}: {t!r}" for n, t in zip(lines, text[bad][:5],
                                                                 strict=True))
        raise DataError(f"{where}: column {text.name!r}: not a number ({examples})")
    return values, suppressed


def _collect(chunks: Any, feature: GridFeature,
             where: str) -> tuple[list[pa.Table], dict[str, str]]:
    """Parse every chunk; one output table per :meth:`GridFeature.outputs` entry."""
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in feature.outputs()]
    columns: list[str] = []
    for chunk in chunks:
        columns = columns or _value_columns(list(chunk.columns), feature, where)
        x, y = _centres(chunk, feature.resolution, where)
        flags = next((chunk[c] for c in chunk.columns
                      if c.strip().lower().startswith("werterlaeuternde")), None)
        quality = (np.zeros(len(chunk), np.int32) if flags is None
                   else flags.str.contains("KLAMMERN").to_numpy().astype(np.int32))
        if feature.kind == "continuous":
            values, suppressed = _numbers(chunk[columns[0]], feature.integer, where)
            parts[0].append({feature.name: np.where(suppressed, -1, values), "x": x, "y": y})
            continue
        for i, code in enumerate(feature.keep):
            values, suppressed = _numbers(chunk[columns[code - 1]], True, where)
            keep = ~suppressed
            parts[i].append({"value": values[keep], "quality": quality[keep],
                             "x": x[keep], "y": y[keep]})
    if not columns:
        raise DataError(f"{where}: the CSV has no rows")
    tables = [_table(chunk_parts, feature) for chunk_parts in parts]
    codes = [1] if feature.kind == "continuous" else list(feature.keep)
    return tables, {str(code): columns[code - 1] for code in codes}


def _table(parts: list[dict[str, np.ndarray]], feature: GridFeature) -> pa.Table:
    """Concatenate one output's chunks into a table with the 2011 column types."""
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    floats = feature.kind == "continuous" and not feature.integer
    return pa.table({k: pa.array(v, type=pa.float64()) if floats and k == feature.name
                     else pa.array(v.astype(np.int32)) for k, v in data.items()})
