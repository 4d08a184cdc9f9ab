"""Exceptions that the CLI and API turn into one-line messages / 4xx bodies."""

from __future__ import annotations


class ErreichbarError(Exception):
    """Base class: a problem with the user's input or data, never a bug.

    The message must say what is wrong and, where it helps, what to do.
    """


class DataError(ErreichbarError):
    """An input file is missing, empty, corrupt or has unusable content."""


class RegionError(ErreichbarError):
    """Unknown region, or a point/feature outside the region."""


class AccessInputError(ErreichbarError, ValueError):
    """A request names an unknown category, mode, level or offer, or has unusable values."""


class EmptyResultError(ErreichbarError):
    """A computation produced nothing (e.g. no streets in the region)."""


class DownloadError(ErreichbarError):
    """A download from an official source failed or returned unusable data."""


class LimitError(DataError):
    """An input exceeds a size limit of ``settings.limits``.

    File size, unpacked size, rows, columns or download size: the input is refused before it
    can exhaust memory or disk.

    The message names the file, what is too large, the limit and the setting to raise.
    """
