"""The word tables the label parsers read, loaded once from the package data (``labels/data/``).

- ``words.yaml``: month names and abbreviations, the words dates are read through, the prefixes and suffixes
  around a country name, and wiki_bio's bracket and quote tokens (``-lrb-`` -> ``(``);
- ``countries.txt`` and ``places.txt``: ``canonical demonym: name; name; ...`` lines (countries, short forms and
  demonyms; subnational units and large cities);
- ``occupations.yaml``: the sportsperson and politician words.

The parsers (:mod:`~needlework.labels.dates`, :mod:`~needlework.labels.nationality`,
:mod:`~needlework.labels.infobox`) read these tables from here, and :data:`TERMS` gathers every word and phrase of
them, so that anonymization (:mod:`needlework.corpus.names`) never renames a word a label is read from;
:data:`PLACE_TERMS` holds the places, which are read only as a whole part of a birth place.
"""
from __future__ import annotations

from importlib import resources

import yaml


def _text(file_name: str) -> str:
    return resources.files("needlework.labels").joinpath("data", file_name).read_text(encoding="utf-8")


def demonym_lines(file_name: str) -> list[tuple[str, list[str]]]:
    """``(demonym, [names])`` per line of a demonym table (``#`` comment lines and blank lines skipped)."""
    out = []
    for line in _text(file_name).splitlines():
        if line.strip() and not line.startswith("#"):
            demonym, names = line.split(":", 1)
            out.append((demonym.strip(), [name.strip() for name in names.split(";") if name.strip()]))
    return out


_WORDS = yaml.safe_load(_text("words.yaml"))
OCCUPATIONS: dict[str, list[str]] = yaml.safe_load(_text("occupations.yaml"))
"""The occupation tables (see ``occupations.yaml``), read by :mod:`needlework.labels.infobox`."""

MONTH_NAMES: tuple[str, ...] = tuple(_WORDS["months"][n][0] for n in range(1, 13))
"""The full month names, January first."""
MONTHS: dict[str, int] = {name: n for n, names in _WORDS["months"].items() for name in names}
"""Every month name and abbreviation -> its number."""
FLORUIT: frozenset[str] = frozenset(_WORDS["floruit"])
DATE_FILLERS: frozenset[str] = frozenset(_WORDS["date_fillers"])
DATE_MARKERS: frozenset[str] = frozenset(_WORDS["date_markers"])
STATE_PREFIXES: tuple[str, ...] = tuple(f"{p} " for p in _WORDS["state_prefixes"])
STATE_SUFFIXES: tuple[str, ...] = tuple(f" {s}" for s in _WORDS["state_suffixes"])
BRACKETS: tuple[tuple[str, str], ...] = tuple(_WORDS["brackets"].items())
"""wiki_bio's bracket tokens and the brackets they stand for (``("-lrb-", "(")`` ...)."""
QUOTES: tuple[tuple[str, str], ...] = tuple(_WORDS["quotes"].items())
COUNTRY_LINES = demonym_lines("countries.txt")
PLACE_LINES = demonym_lines("places.txt")


def undo_brackets(text: str, pad: str = "") -> str:
    """``text`` with wiki_bio's bracket tokens as brackets (``pad`` on either side: " " keeps them words)."""
    for token, bracket in BRACKETS:
        text = text.replace(token, f"{pad}{bracket}{pad}")
    return text


def _terms() -> frozenset[str]:
    words = [*MONTHS, *FLORUIT, *DATE_FILLERS, *DATE_MARKERS, *_WORDS["state_prefixes"], *_WORDS["state_suffixes"],
             *(token for token, _ in BRACKETS)]
    words += [name for demonym, names in COUNTRY_LINES for name in (demonym, *names)]
    words += [term for table in OCCUPATIONS.values() for term in table]
    return frozenset(words)


TERMS: frozenset[str] = _terms()
"""Every word and phrase of the tables above but the places, as written there: read anywhere in a record."""
PLACE_TERMS: frozenset[str] = frozenset(name for _, names in PLACE_LINES for name in names)
"""The places (``places.txt``): read only as a whole comma-separated part of a birth place ("lima , peru")."""
