"""Small I/O helpers shared by every job.

* :func:`atomic_path` / :func:`atomic_write` / :func:`write_json`: readers see the old file
  or the new one, never half a file.
* :func:`files_digest`: content hash of input files, the cache key of built data.
* :class:`BuildManifest` and :func:`clean_stray_tmp`: crash-safe "is this build current?"
  (see the class docstring for the recipe every job follows).
* :func:`guard_zip`: refuse zip bombs (xlsx, GTFS) before anything is unpacked.
* :func:`neutralise_cell` / :func:`neutralise_frame`: no spreadsheet formulas in the
  CSV/XLSX files we write (CSV injection).
* :func:`redact_url` / :func:`is_http_url`: never log or store credentials of a URL.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_plus, urlsplit, urlunsplit

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the process umask, read once (reading it means setting it)
_UMASK = _current_umask()

#: names of the temporary files of :func:`atomic_path` (``.<target name>.<random>.tmp``,
#: optionally followed by a format suffix such as ``.zip``)
_TMP_NAME = re.compile(r"^\..+\.tmp(\.[A-Za-z0-9]{1,8})?$")


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Readers never see a half-written file: either the old file or the new one. The
    temporary file is hidden (``.<name>.<random>.tmp``); a process killed while writing
    leaves it behind, and :func:`clean_stray_tmp` removes it at the next run.

    Parameters
    ----------
    target
        The file to (re)place.
    suffix
        Appended to the temporary name for writers that pick the format from the file
        name (e.g. ``".zip"`` for gtfs-kit).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files; give the result the permissions a normal write would
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def release_memory() -> None:
    """Return freed heap memory to the operating system (glibc ``malloc_trim``).

    Big intermediates (decoded tiles, stitched vertices, edge geometries) are freed into
    the C heap, which keeps most of it mapped: the process's resident size stays at its
    peak. Long jobs call this between stages so the next stage starts from what is in use.
    A no-op where the C library has no ``malloc_trim`` (macOS, musl).
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def atomic_write(target: Path, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result to ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_json(target: Path, obj: Any) -> Path:
    """Atomically write ``obj`` as UTF-8 JSON."""
    return atomic_write(
        target, lambda p: p.write_text(json.dumps(obj, ensure_ascii=False, indent=1), "utf-8")
    )


def files_digest(paths: Iterable[Path], extra: str = "") -> str:
    """Content hash (sha256, hex, 16 chars) over files' names, sizes and bytes plus ``extra``.

    Used as the cache key of built data: a changed input or setting means a rebuild.
    """
    h = hashlib.sha256(extra.encode())
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """sha256 (hex, 64 characters) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- crash safety


def clean_stray_tmp(folder: Path) -> list[Path]:
    """Delete the temporary files that killed writes of :func:`atomic_path` left in ``folder``.

    Only the folder itself is searched (not subfolders), and only hidden files named like
    :func:`atomic_path`'s (``.<name>.<random>.tmp[.<ext>]``). Call it at the start of a job
    that owns ``folder``: a temporary file of a job *running* in the same folder would be
    deleted too (two builds of one folder at once are not supported anyway).

    Returns
    -------
    list of Path
        The files removed (logged as a warning).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if _TMP_NAME.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.warning("removed %d temporary file(s) of an interrupted write in %s: %s",
                    len(removed), folder, ", ".join(p.name for p in removed))
    return removed


class BuildManifest:
    """The record of a finished build: input digest, output hashes and the job's summary.

    A job may trust its stored outputs only if the build that wrote them *finished*. A
    process killed half-way (``kill -9``, power loss, out of memory) leaves a mix of new
    and old files; a manifest written last, holding the size and sha256 of every output,
    tells a finished build from a torn one. The recipe for every job (``network build``
    and ``gtfs load`` use it; layers, access, maps and reports should too)::

        manifest = BuildManifest(out_dir / "manifest.json")
        clean_stray_tmp(out_dir)                      # leftovers of killed writes
        digest = files_digest(inputs, extra=VERSION + settings_json)
        if not force and (summary := manifest.is_current(digest)) is not None:
            return {**summary, "cached": True}        # inputs same, outputs intact
        manifest.invalidate()                         # FIRST: from now on nothing is trusted
        outputs = [...]                               # write each with atomic_path/write_json
        manifest.record(digest, outputs, summary)     # LAST: hashes of what was written
        return {**summary, "cached": False}

    The manifest file (JSON) holds ``format``, ``digest``, ``written`` (UTC time),
    ``outputs`` (path relative to the manifest's folder → ``bytes``, ``sha256``) and
    ``summary``. A manifest of an older layout (no ``outputs``) is never current.

    Parameters
    ----------
    path
        The manifest file, e.g. ``processed/<region>/network/manifest.json``.
    """

    FORMAT = 1

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def folder(self) -> Path:
        """The folder the recorded output paths are relative to."""
        return self.path.parent

    def read(self) -> dict[str, Any] | None:
        """Return the stored manifest, or None if there is none or it is unreadable."""
        try:
            doc = json.loads(self.path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(doc, dict) or doc.get("format") != self.FORMAT:
            return None
        return doc

    def invalidate(self) -> None:
        """Delete the manifest: call it before the first output of a build is written."""
        self.path.unlink(missing_ok=True)

    def record(self, digest: str, outputs: Iterable[Path],
               summary: Mapping[str, Any]) -> dict[str, Any]:
        """Write the manifest (atomically) after every output of the build was written.

        Parameters
        ----------
        digest
            Cache key of the inputs and settings (e.g. :func:`files_digest`).
        outputs
            Every file the build wrote; each is hashed (sha256) now.
        summary
            JSON-ready summary of the build, returned by :meth:`is_current` later.

        Returns
        -------
        dict
            The manifest as written.
        """
        files = {}
        for p in outputs:
            p = Path(p)
            files[self._key(p)] = {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        doc = {"format": self.FORMAT, "digest": digest,
               "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "outputs": files, "summary": dict(summary)}
        write_json(self.path, doc)
        return doc

    def is_current(self, digest: str | None,
                   verify: Literal["sha256", "size"] = "sha256") -> dict[str, Any] | None:
        """Return the stored summary if the last build finished with these inputs, else None.

        Parameters
        ----------
        digest
            Cache key of the current inputs; None accepts any (only the outputs are
            checked, e.g. before reading a stored result).
        verify
            ``"sha256"`` re-hashes every output (≈0.5 s per GB); ``"size"`` compares byte
            sizes only, for outputs too large to hash on every run.

        Returns
        -------
        dict or None
            The summary given to :meth:`record`; None when there is no manifest, the
            digest differs, or an output is missing or changed (the reason is logged).
        """
        doc = self.read()
        if doc is None or not isinstance(doc.get("outputs"), dict):
            return None
        if digest is not None and doc.get("digest") != digest:
            log.info("%s: inputs or settings changed, rebuilding", self.path)
            return None
        for name, want in doc["outputs"].items():
            problem = self._check(self.folder / name, want, verify)
            if problem:
                log.warning("%s: %s %s since the last build; rebuilding", self.path, name,
                            problem)
                return None
        return doc.get("summary")

    def _key(self, path: Path) -> str:
        """Return an output's name in the manifest: relative to the folder where possible."""
        try:
            return path.resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    @staticmethod
    def _check(path: Path, want: Mapping[str, Any], verify: str) -> str | None:
        """Why ``path`` differs from its record (None if it matches)."""
        try:
            size = path.stat().st_size
        except OSError:
            return "is missing"
        if size != want.get("bytes"):
            return f"has {size:,} bytes instead of {want.get('bytes')}"
        if verify == "sha256" and file_sha256(path) != want.get("sha256"):
            return "has other contents"
        return None


# --------------------------------------------------------------------------- zip bombs


def guard_zip(path: Path, *, max_members: int, max_unpacked_bytes: int, max_ratio: float,
              what: str = "zip archive", setting: str = "limits") -> list[zipfile.ZipInfo]:
    """Refuse a zip archive whose members would unpack to too much, before reading any.

    Python's :mod:`zipfile` stops every member at its declared ``file_size`` (and fails its
    CRC check if the data goes on), so the declared sizes bound what readers (openpyxl,
    gtfs-kit, pandas) can unpack.

    Parameters
    ----------
    path
        The archive (``.zip``, ``.xlsx``).
    max_members
        Most members (files and folders) allowed.
    max_unpacked_bytes
        Most bytes all members may unpack to together.
    max_ratio
        Most unpacked bytes per compressed byte of one member; checked for members above
        1 MB unpacked (text compresses about 5–20 : 1; DEFLATE bombs reach ≈1000 : 1).
    what
        What the archive is, for the message (e.g. ``"Excel file"``).
    setting
        The settings section to name in the message (``limits``).

    Returns
    -------
    list of zipfile.ZipInfo
        The members.

    Raises
    ------
    geo.errors.LimitError
        A limit is exceeded (message: file, member, sizes and the setting to raise).
    geo.errors.DataError
        Not a zip archive.
    """
    from geo.errors import DataError, LimitError

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable {what} (not a zip archive: {exc})") from None
    if len(members) > max_members:
        raise LimitError(f"{path}: {what} has {len(members):,} members, more than the "
                         f"{max_members:,} allowed ({setting}.zip_max_members)")
    total = sum(m.file_size for m in members)
    if total > max_unpacked_bytes:
        raise LimitError(f"{path}: {what} would unpack to {total:,} bytes, more than the "
                         f"{max_unpacked_bytes:,} allowed; refusing to read it (a zip bomb?)")
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > 1_000_000 and ratio > max_ratio:
            raise LimitError(f"{path}: member {m.filename!r} of the {what} unpacks "
                             f"{m.compress_size:,} bytes to {m.file_size:,} (ratio {ratio:,.0f} "
                             f": 1, more than {max_ratio:,.0f} : 1 allowed); refusing to read "
                             f"it (a zip bomb?)")
    return members


# --------------------------------------------------------------------------- CSV injection

#: first characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Make a text value safe for spreadsheets.

    A leading ``= + - @ TAB CR`` gets a ``'`` before it.

    Excel, LibreOffice and Google Sheets run ``=HYPERLINK(…)``, ``@SUM(…)`` or
    ``=cmd|' /C calc'!A0`` from a CSV cell; with the apostrophe they show the text.
    Non-text values (numbers, None) are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unneutralise_cell(value: str) -> str:
    """Undo :func:`neutralise_cell` on a text read back from a CSV we wrote."""
    if value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` with :func:`neutralise_cell` applied to every text cell.

    Use it in every CSV/XLSX writer of data that users or OSM contributors typed
    (names, addresses, contacts): ``neutralise_frame(df).to_csv(tmp, index=False)``.
    """
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if is_object_dtype(dtype) or is_string_dtype(dtype):
            out[column] = out[column].map(neutralise_cell)
    return out


# --------------------------------------------------------------------------- URLs

#: query parameters whose values are secrets (compared lower-case, ``-`` read as ``_``)
SECRET_PARAMS = frozenset({
    "apikey", "api_key", "key", "token", "access_token", "refresh_token", "id_token",
    "auth", "authorization", "secret", "client_secret", "password", "passwd", "pwd", "pass",
    "sig", "signature", "x_amz_signature", "x_amz_credential", "x_goog_signature",
    "subscription_key", "session", "sessionid",
})
_SECRET_ENDINGS = ("_key", "_token", "_secret", "_password", "_signature", "apikey")
REDACTED = "***"


def is_http_url(text: str) -> bool:
    """Return True if ``text`` is an http(s) URL; the scheme is matched case-insensitively."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _secret_param(name: str) -> bool:
    key = unquote_plus(name).strip().lower().replace("-", "_")
    return key in SECRET_PARAMS or key.endswith(_SECRET_ENDINGS)


def _redact_query(query: str) -> str:
    """``a=1&apikey=s`` → ``a=1&apikey=***`` (other pieces kept byte for byte)."""
    if not query:
        return query
    pieces = []
    for piece in query.split("&"):
        name, eq, _ = piece.partition("=")
        pieces.append(f"{name}={REDACTED}" if eq and _secret_param(name) else piece)
    return "&".join(pieces)


def redact_url(url: str) -> str:
    """``url`` without its credentials, for logs, messages and stored metadata.

    User name and password (``https://user:pw@host/``) become ``***@``; the values of query
    (and fragment) parameters that carry secrets (``apikey``, ``key``, ``token``,
    ``access_token``, ``secret``, ``password``, ``sig``, ``*_key``, ``*_token`` …, see
    :data:`SECRET_PARAMS`) become ``***``. Text that is not a URL is returned unchanged.
    A secret inside the path (``/feeds/<token>/gtfs.zip``) cannot be recognised.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, _redact_query(parts.query),
                       _redact_query(parts.fragment)))


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. an exception message) with every copy of ``url`` redacted."""
    safe = redact_url(url)
    return text.replace(url, safe) if url and url != safe else text


class RedactingFilter(logging.Filter):
    """A logging filter that passes URL arguments of a record through :func:`redact_url`.

    httpx logs every request as ``HTTP Request: GET <full URL> …`` at INFO level, which
    the CLI prints: with this filter on the ``httpx`` logger the line keeps the host and
    path but loses user, password and secret query values.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact URL-like arguments (and a URL-like message); always keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(str(a)) if _looks_like_url(a) else a
                                for a in record.args)
        if isinstance(record.msg, str) and _looks_like_url(record.msg):
            record.msg = redact_url(record.msg)
        return True


def _looks_like_url(value: Any) -> bool:
    text = str(value) if type(value).__name__ == "URL" or isinstance(value, str) else ""
    return "://" in text and is_http_url(text)


def redact_http_logs(*names: str) -> None:
    """Install :class:`RedactingFilter` on the loggers ``names`` once.

    ``names`` defaults to ``httpx`` and ``httpcore``; modules that send requests call it at
    import.
    """
    for name in names or ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())

