"""Country names, place names and demonyms -> one canonical lowercase demonym ("sweden" -> "swedish").

The tables cover every sovereign state, the UK's constituent countries (england -> "english", not
"british"), common short forms (u.s., usa, uk, ussr, ...), a few territories and historical states
(soviet, yugoslav, prussian, ottoman, ...), and, for birth places only, US states, Canadian provinces,
Australian states and the capitals and large cities of many countries. The tables are package data files
(``labels/data/countries.txt``, ``labels/data/places.txt``); each line reads ``canonical demonym: name; name;
...`` and the canonical demonym always names itself. The other words read here (country names that are ordinary
English words, places that are a US state and a country, list separators, the words for "unknown") are tables of
``labels/data/words.yaml``.

Lookups normalise their input: accents stripped, lowercased, dots removed ("u.s." -> "us"), a leading
"the" and state prefixes ("republic of", "kingdom of", ...) and suffixes ("empire", "ssr") dropped.

:func:`canonical` is the one vocabulary every labeler and the scorer use: "usa", "U.S.", "united states",
"American" all become "american"; "uk", "Britain" become "british" ("english" stays "english").
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from needlework.labels.vocabulary import (AMBIGUOUS_PLACES, COUNTRY_LINES, LIST_WORDS, PLACE_LINES, PROSE_WORDS,
                                          STATE_PREFIXES, STATE_SUFFIXES, UNKNOWN_NATIONALITY, undo_brackets,
                                          words_pattern)

_AMBIGUOUS_PLACES = AMBIGUOUS_PLACES  # place -> (the US reading, the country's demonym)

_SEPARATORS = re.compile(rf"\s*(?:,|/|;|&|\b(?:{words_pattern(LIST_WORDS)})\b)\s*")
_PARENS = re.compile(r"\([^()]*\)")
_WIKILINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]|]*)\]\]")
_PROSE_WORDS = PROSE_WORDS  # country names and demonyms that are also ordinary English words ("a pole vaulter")
_MAX_PHRASE = 6


def normalize(text: str) -> str:
    """Lowercase ASCII with accents stripped, dots removed, wiki_bio brackets as ( ), single spaces."""
    text = undo_brackets(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())
    text = text.replace("`", "'").replace(" '", "'").replace(".", "").replace("_", " ")
    return " ".join(text.split())


def _read_table(lines: list[tuple[str, list[str]]]) -> dict[str, str]:
    """Normalised name -> demonym, from the lines of a demonym table."""
    return {normalize(name): demonym for demonym, names in lines for name in (demonym, *names)}


COUNTRY_DEMONYMS: dict[str, str] = _read_table(COUNTRY_LINES)
PLACE_DEMONYMS: dict[str, str] = {**_read_table(PLACE_LINES), **{k: v[0] for k, v in _AMBIGUOUS_PLACES.items()}}
DEMONYMS: frozenset[str] = frozenset(COUNTRY_DEMONYMS.values())
"""The canonical vocabulary: every demonym a lookup can return."""
UNKNOWN = "unknown"


def _variants(name: str) -> list[str]:
    """``name`` and the forms left after dropping a leading article, state prefixes and suffixes."""
    out = [name]
    changed = True
    while changed:
        changed = False
        for prefix in STATE_PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix):]
                out.append(name)
                changed = True
        for suffix in STATE_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                out.append(name)
                changed = True
    return out


def lookup(name: str, places: bool = False) -> str | None:
    """The demonym for a whole country name or demonym (``places``: also places), or None."""
    for variant in _variants(normalize(name)):
        if places and variant in PLACE_DEMONYMS:
            return PLACE_DEMONYMS[variant]
        if variant in COUNTRY_DEMONYMS:
            return COUNTRY_DEMONYMS[variant]
    return None


def _token_demonym(token: str) -> str | None:
    """A hyphenated compound: its last part if that is a demonym ("swedish-american" -> "american")."""
    if "-" not in token:
        return None
    last = token.rsplit("-", 1)[1]
    return COUNTRY_DEMONYMS.get(last) if COUNTRY_DEMONYMS.get(last) == last else None


def scan(text: str, in_prose: bool = False) -> str | None:
    """The first country name or demonym among the words of ``text`` (longest phrase wins), or None.

    Hyphenated compounds count by their last part ("african-american" -> "american"; "norwegian-born" is
    skipped). ``in_prose`` skips words that are also ordinary English ("us", "pole"; "u.s." still counts).
    """
    raw_tokens = text.lower().split()
    tokens = [normalize(token) for token in raw_tokens]
    for i in range(len(tokens)):
        if in_prose and raw_tokens[i] in _PROSE_WORDS:
            continue
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i : i + n])
            if phrase in COUNTRY_DEMONYMS:
                return COUNTRY_DEMONYMS[phrase]
        compound = _token_demonym(tokens[i])
        if compound:
            return compound
    return None


def _clean(value: str) -> str:
    value = _WIKILINK.sub(r"\1", normalize(value).replace("[ [", "[[").replace("] ]", "]]"))
    while _PARENS.search(value):
        value = _PARENS.sub(" ", value)
    return value.replace("[", " ").replace("]", " ").replace("|", " ")


def from_nationality(value: str) -> str | None:
    """The first nationality named in a ``nationality``-style infobox value, as a demonym, or None.

    "american , canadian" -> "american"; "[[sweden|swedish]]" -> "swedish"; "united states" -> "american";
    parenthesised remarks ("german ( until 1934 )") are ignored.
    """
    value = _clean(value)
    whole = lookup(value)
    if whole:
        return whole
    for part in _SEPARATORS.split(value):
        if not part.strip():
            continue
        found = lookup(part) or scan(part)
        if found:
            return found
    return None


def from_place(value: str) -> str | None:
    """The demonym of the country a place lies in, read from its last recognised comma-separated component.

    "stockholm , sweden" -> "swedish"; "new york city , new york , u.s." -> "american"; "oslo" -> "norwegian"
    (capitals and large cities are known); "atlanta , georgia" -> "american", "tbilisi , georgia" -> "georgian".
    Falls back to the last country name anywhere in the value; None if there is none.
    """
    components = [c.strip() for c in _clean(value).split(",") if c.strip()]
    found = [lookup(c, places=True) for c in components]
    for component, demonym in zip(reversed(components), reversed(found)):
        if demonym is None:
            continue
        options = _AMBIGUOUS_PLACES.get(normalize(component))
        if options and options[1] in found:
            return options[1]
        return demonym
    for component in reversed(components):
        words = component.split()
        for start in range(len(words) - 1, -1, -1):
            hit = scan(" ".join(words[start:]))
            if hit:
                return hit
    return None


def canonical(value: object) -> str:
    """One nationality string in the canonical vocabulary, for labels and for scoring.

    A demonym, country name or short form in any case, with or without accents or dots ("USA", "u.s.",
    "United States", "American", "Brazil") -> its canonical demonym ("american", "brazilian"); a value naming
    several ("american , canadian") -> the first. None (or any non-string), "", "unknown" (any case), "n/a" or
    "none" -> "unknown". Anything else is kept, stripped and case-folded (so two identical unrecognised strings
    still match): :func:`is_recognised` tells them apart.
    """
    return _canonical_text(value) if isinstance(value, str) else UNKNOWN


@lru_cache(maxsize=65536)
def _canonical_text(value: str) -> str:
    text = " ".join(value.split()).casefold()
    if normalize(text) in _UNKNOWN_WORDS:
        return UNKNOWN
    return lookup(text) or from_nationality(text) or text


_UNKNOWN_WORDS = frozenset(normalize(word) for word in UNKNOWN_NATIONALITY)


def is_recognised(value: str) -> bool:
    """Whether a canonical nationality is in the vocabulary (a demonym or "unknown")."""
    return value == UNKNOWN or value in DEMONYMS


def canonical_label(label: dict) -> tuple[dict, str | None]:
    """A label dict with its nationality made :func:`canonical`, and the raw nationality string it had (None if
    it was not a string)."""
    raw = label.get("nationality")
    return {**label, "nationality": canonical(raw)}, raw if isinstance(raw, str) else None


def unrecognised(labels: Iterable[dict | None]) -> Counter[str]:
    """Canonical nationalities outside the vocabulary among ``labels`` (None entries skipped), with counts."""
    return Counter(label["nationality"] for label in labels
                   if label is not None and not is_recognised(label.get("nationality")))
