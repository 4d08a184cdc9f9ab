"""The one message table: German complete, other languages a subset with the same placeholders."""

from __future__ import annotations

import string

import pytest

from geo import messages
from geo.vocabulary import CATEGORIES, MODES, label


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("lang", [lang for lang in messages.languages() if lang != "de"])
def test_every_language_is_a_subset_of_german_with_the_same_placeholders(lang: str) -> None:
    german = messages.table("de")
    other = messages.table(lang)
    assert other, f"{lang} has no texts"
    assert set(other) <= set(german), sorted(set(other) - set(german))
    for key, value in other.items():
        assert _fields(value) == _fields(german[key]), key


def test_every_mode_and_category_has_a_german_label() -> None:
    for mode in MODES:
        assert label("mode", mode)
    for category in CATEGORIES:
        assert label("category", category)
    assert label("category", "hort", "en") == "After-school care"
    assert label("category", "hort", "xx") == "Hort"  # unknown language: German


def test_negotiate_prefers_explicit_then_header_then_german() -> None:
    assert messages.negotiate("en-GB,en;q=0.9,de;q=0.8") == "en"
    assert messages.negotiate("fr-FR, de;q=0.5") == "de"
    assert messages.negotiate("fr-FR") == "de"
    assert messages.negotiate(None, "en") == "en"
    assert messages.negotiate("en", "zz") == "en"
    assert messages.negotiate("de;q=0.2, en;q=0.9") == "en"


def test_text_fills_placeholders_and_rejects_unknown_keys() -> None:
    with pytest.raises(KeyError):
        messages.text("labels.category.nope")
    assert messages.section("labels.mode", "en")["walk"] == "on foot"
