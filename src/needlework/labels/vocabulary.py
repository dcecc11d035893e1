"""The word tables the label parsers read, loaded once from the package data (``labels/data/``).

- ``words.yaml``: month names and abbreviations, the words dates are read through, the prefixes and suffixes
  around a country name, and wiki_bio's bracket and quote tokens (``-lrb-`` -> ``(``);
- ``countries.txt`` and ``places.txt``: ``canonical demonym: name; name; ...`` lines (countries, short forms and
  demonyms; subnational units and large cities);
- ``occupations.yaml``: the sportsperson and politician words, and the words an ``office`` value is read through;
- ``infobox_keys.yaml``: the infobox keys the labeler reads (sports, career and political keys, the office,
  occupation and birth place keys).

The parsers (:mod:`~needlework.labels.dates`, :mod:`~needlework.labels.nationality`,
:mod:`~needlework.labels.infobox`) read these tables from here, and :data:`TERMS` gathers every word and phrase of
them, so that anonymization (:mod:`needlework.corpus.names`) never renames a word a label is read from. The words
read only in the values of some infobox keys (the places, only in a birth place; the office words, only in an
``office`` value) are in :data:`FIELD_TERMS` instead: protected in those values, names anywhere else.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
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


def _strings(table: dict, file_name: str) -> dict:
    """``table`` after checking that every entry is a string (YAML reads a bare ``no`` or ``on`` as a bool)."""
    for name, entries in table.items():
        values = entries.values() if isinstance(entries, dict) else [entries]
        for value in values:
            for entry in value if isinstance(value, list) else [value]:
                if not isinstance(entry, (str, int)) or isinstance(entry, bool):
                    raise ValueError(f"labels/data/{file_name}: {name}: {entry!r} is not a word (quote it)")
    return table


_WORDS = _strings(yaml.safe_load(_text("words.yaml")), "words.yaml")
OCCUPATIONS: dict[str, list[str]] = _strings(yaml.safe_load(_text("occupations.yaml")), "occupations.yaml")
"""The occupation tables (see ``occupations.yaml``), read by :mod:`needlework.labels.infobox`."""
_KEYS = _strings(yaml.safe_load(_text("infobox_keys.yaml")), "infobox_keys.yaml")
INFOBOX_KEYS: dict[str, frozenset[str]] = {name: frozenset(keys) for name, keys in _KEYS.items()}
"""The infobox keys the labeler reads, squashed (see ``infobox_keys.yaml``)."""

MONTH_NAMES: tuple[str, ...] = tuple(_WORDS["months"][n][0] for n in range(1, 13))
"""The full month names, January first."""
MONTHS: dict[str, int] = {name: n for n, names in _WORDS["months"].items() for name in names}
"""Every month name and abbreviation -> its number."""
FLORUIT: frozenset[str] = frozenset(_WORDS["floruit"])
APPROXIMATE: frozenset[str] = frozenset(_WORDS["approximate"])
DATE_FILLERS: frozenset[str] = frozenset(_WORDS["date_fillers"]) | APPROXIMATE
BIRTH_MARKERS: frozenset[str] = frozenset(_WORDS["birth_markers"])
"""The words before a birth date in a lead's parenthesis, as written there ("born", "b.")."""
DEATH_MARKERS: frozenset[str] = frozenset(_WORDS["death_markers"])
DATE_MARKERS: frozenset[str] = frozenset(word.rstrip(".") for word in BIRTH_MARKERS | DEATH_MARKERS)
"""The birth and death markers as the date parser's words ("born", "b", "died", "d")."""
RANGE_WORDS: tuple[str, ...] = tuple(_WORDS["range_words"])
AGES: tuple[str, ...] = tuple(_WORDS["ages"])
ERAS_BC: tuple[str, ...] = tuple(_WORDS["eras_bc"])
ERAS_AD: tuple[str, ...] = tuple(_WORDS["eras_ad"])
ERAS_AD_BEFORE_YEAR: tuple[str, ...] = tuple(_WORDS["eras_ad_before_year"])
DATE_TEMPLATES: tuple[str, ...] = tuple(_WORDS["date_templates"])
DATE_TEMPLATE_FLAGS: tuple[str, ...] = tuple(_WORDS["date_template_flags"])
LEAD_VERBS: frozenset[str] = frozenset(_WORDS["lead_verbs"])
"""The verbs a biography's lead sentence turns on ("john smith ( ... ) is a ...")."""
ARTICLES: frozenset[str] = frozenset(_WORDS["articles"])
DEMONYM_STOPS: frozenset[str] = frozenset(_WORDS["demonym_stops"])
PROSE_WORDS: frozenset[str] = frozenset(_WORDS["prose_words"])
AMBIGUOUS_PLACES: dict[str, tuple[str, str]] = {place: tuple(demonyms) for place, demonyms in
                                                _WORDS["ambiguous_places"].items()}
LIST_WORDS: tuple[str, ...] = tuple(_WORDS["list_words"])
UNKNOWN_NATIONALITY: frozenset[str] = frozenset(_WORDS["unknown_nationality"])
ORDINAL_SUFFIXES: tuple[str, ...] = tuple(_WORDS["ordinal_suffixes"])
DECADE_SUFFIXES: tuple[str, ...] = tuple(_WORDS["decade_suffixes"])
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


def squash_key(key: str) -> str:
    """An infobox key as the labeler compares it: "term_start2" -> "termstart", "Current Club" -> "currentclub"."""
    return re.sub(r"\d+$", "", re.sub(r"[\s_\-]+", "", key.lower()))


def words_pattern(words: Iterable[str], space: str = " ") -> str:
    """A regex alternation of ``words``, longest first ("rugby union" before "rugby"), a space in an entry
    matching ``space``."""
    return "|".join(re.escape(w).replace(r"\ ", space) for w in sorted(set(words), key=lambda w: (-len(w), w)))


# The office tables: read only in the values of the office keys (needlework.labels.infobox.is_political_office).
_OFFICE_TABLES = ("political_offices", "political_office_exceptions", "political_office_vetoes", "ambiguous_offices",
                  "not_political", "religious_or_judicial")


def _table_terms(table: list | dict) -> list[str]:
    """The words and phrases of a table: a list's entries, or a mapping's keys and the entries of its lists."""
    if isinstance(table, dict):
        return [*table, *(term for terms in table.values() for term in terms)]
    return list(table)


def _terms() -> frozenset[str]:
    words = [*MONTHS, *FLORUIT, *DATE_FILLERS, *BIRTH_MARKERS, *DEATH_MARKERS, *DATE_MARKERS, *RANGE_WORDS, *AGES,
             *ERAS_BC, *ERAS_AD, *ERAS_AD_BEFORE_YEAR, *DATE_TEMPLATES, *DATE_TEMPLATE_FLAGS, *LEAD_VERBS, *ARTICLES,
             *DEMONYM_STOPS, *PROSE_WORDS, *AMBIGUOUS_PLACES, *LIST_WORDS, *ORDINAL_SUFFIXES, *DECADE_SUFFIXES,
             *_WORDS["state_prefixes"], *_WORDS["state_suffixes"], *(token for token, _ in BRACKETS)]
    words += [name for demonym, names in COUNTRY_LINES for name in (demonym, *names)]
    words += [term for name, table in OCCUPATIONS.items() if name not in _OFFICE_TABLES for term in _table_terms(table)]
    return frozenset(str(word) for word in words)


TERMS: frozenset[str] = _terms()
"""Every word and phrase of the tables above read anywhere in a record (its text or any infobox value), as
written there: months, date, lead-sentence and country words, the sportsperson and politician words."""
PLACE_TERMS: frozenset[str] = frozenset(name for _, names in PLACE_LINES for name in names)
"""The places (``places.txt``): read only as a whole comma-separated part of a birth place ("lima , peru")."""
OFFICE_TERMS: frozenset[str] = frozenset(term for name in _OFFICE_TABLES for term in _table_terms(OCCUPATIONS[name]))
"""The words an ``office`` value is read through (political, ambiguous, not political, religious or judicial)."""
FIELD_TERMS: dict[str, frozenset[str]] = {
    **{key: PLACE_TERMS for key in INFOBOX_KEYS["birth_place_keys"]},
    **{key: OFFICE_TERMS for key in INFOBOX_KEYS["office_keys"]},
}
"""Squashed infobox key -> the words and phrases read only in its values (:func:`squash_key`)."""
