"""The one message table of Erreichbar: every text a person reads, in every language.

Texts live in ``geo/messages/<lang>/<section>.json`` (``labels`` for modes, categories,
stages …; ``page`` for the family and planner pages; ``errors`` for the API's error bodies;
further sections as needed). A section file is a nested JSON object; a key is the dotted
path ``section.group.name``. German (``de``) is the default and complete; every other
language fills what it has, and :func:`text` falls back to German for the rest. Texts are
translated by hand; nothing is machine-translated at run time.

Placeholders use :meth:`str.format` names: ``text("errors.outside", "en", place="…")``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, Final

#: The default language; complete by rule (a test checks every key of every language).
DEFAULT: Final = "de"
#: Languages written right to left (the page sets ``dir="rtl"`` for them).
RTL: Final = frozenset({"ar"})


@cache
def languages() -> tuple[str, ...]:
    """Return the languages that have a table, German first."""
    root = resources.files(__name__)
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    return (DEFAULT, *[lang for lang in found if lang != DEFAULT])


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else key, value, out)
    else:
        out[prefix] = str(node)


@cache
def table(lang: str) -> dict[str, str]:
    """Return every text of ``lang`` as a flat ``{"section.group.name": text}`` mapping."""
    out: dict[str, str] = {}
    folder = resources.files(__name__) / lang
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".json"):
            _flatten(path.name.removesuffix(".json"), json.loads(path.read_text("utf-8")), out)
    return out


def text(key: str, lang: str = DEFAULT, /, **values: object) -> str:
    """Return the text of ``key`` in ``lang`` (German where ``lang`` lacks it), filled in.

    Raises :class:`KeyError` for a key German does not have: a missing text is a bug.
    """
    template = table(lang).get(key) if lang != DEFAULT else None
    if template is None:
        template = table(DEFAULT)[key]
    return template.format(**values) if values else template


def section(prefix: str, lang: str = DEFAULT) -> dict[str, str]:
    """Return the texts under ``prefix`` (e.g. ``"page"``) in ``lang``, German filling gaps.

    Keys are returned without the prefix; this is what a page receives as its strings.
    """
    start = prefix + "."
    merged = {k[len(start):]: v for k, v in table(DEFAULT).items() if k.startswith(start)}
    if lang != DEFAULT:
        merged.update({k[len(start):]: v for k, v in table(lang).items() if k.startswith(start)})
    return merged


_TAG = re.compile(r"^\s*([A-Za-z]{2,3})(?:-[A-Za-z0-9]+)*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def negotiate(accept_language: str | None, wanted: str | None = None) -> str:
    """Return the language to answer in.

    An explicit ``wanted`` language we have wins; else the best-weighted language of an
    ``Accept-Language`` header that we have; else German.
    """
    have = languages()
    if wanted and wanted in have:
        return wanted
    best, best_q = DEFAULT, -1.0
    for part in (accept_language or "").split(","):
        match = _TAG.match(part)
        if not match:
            continue
        lang, q = match.group(1).lower(), float(match.group(2) or 1.0)
        if lang in have and q > best_q:
            best, best_q = lang, q
    return best
