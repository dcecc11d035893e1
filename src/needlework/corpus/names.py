"""Name text, read the same way everywhere: Unicode folding, word parts, and the word tables of names.

Anonymization, the leak check and the corpus filters all compare words through :func:`parts` and :func:`fold`,
so a name matches its mentions however they are written:

- :func:`fold` is NFKC, Unicode case folding, NFKD, combining marks removed, the few letters Unicode does not
  decompose folded by table (``ı`` -> ``i``, ``ø`` -> ``o``, ``ł`` -> ``l``, ``ð`` -> ``d``; ``ß`` -> ``ss`` comes
  from case folding), NFC. So "İbrahim" (whose ``lower()`` is "i" + a combining dot), "ibrahim" and "IBRAHIM"
  fold alike, as do "laurențiu" / "laurenţiu", "theißen" / "theissen" and "nguyễn" / "nguyen".
- :func:`parts` are the runs of letters (with their combining marks) and the runs of digits of a text: a word
  boundary is anything else, and a letter next to a digit. So "o'brien" has the parts "o" and "brien",
  "jean-pierre" "jean" and "pierre", "sergio herrera2010.jpg" "sergio", "herrera", "2010" and "jpg".

The word tables (titles, suffixes, particles, function words, weekdays, letters) live in ``name_words.yaml``; the
words labels are read from come from :mod:`needlework.labels.vocabulary` (the same tables the label parsers read),
as :data:`PROTECTED_WORDS` and :data:`PROTECTED_PHRASES` (read anywhere in a record) and :data:`FIELD_PROTECTED`
(read only in the values of some infobox keys).
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources

import regex
import yaml

from needlework.labels.vocabulary import FIELD_TERMS, LEAD_VERBS, PLACE_TERMS, TERMS, squash_key

PART = regex.compile(r"[\p{L}\p{M}]+|\p{N}+")  # a part: letters with their marks, or digits
_MARKS = regex.compile(r"\p{M}+")


def _tables() -> dict:
    text = resources.files("needlework.corpus").joinpath("name_words.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


_TABLES = _tables()
TITLES: frozenset[str] = frozenset(_TABLES["titles"])
SUFFIXES: frozenset[str] = frozenset(_TABLES["suffixes"])
PARTICLES: frozenset[str] = frozenset(_TABLES["particles"])
STOPWORDS: frozenset[str] = frozenset(_TABLES["stopwords"])
_LETTERS: dict[str, str] = _TABLES["letters"]
_LETTER_TABLE = str.maketrans(_LETTERS)


@lru_cache(maxsize=1 << 17)
def fold(text: str) -> str:
    """``text`` lowercased without accents, for comparing names (see the module docstring)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFC", _MARKS.sub("", decomposed).translate(_LETTER_TABLE))


def parts(text: str) -> list[str]:
    """The parts of ``text`` as written (letters with marks, or digits)."""
    return PART.findall(text)


def keys(text: str) -> list[str]:
    """The folded parts of ``text``, one per part: what names are compared by."""
    return [fold(part) for part in PART.findall(text)]


_LABEL_TERMS = {tuple(keys(term)) for term in TERMS} - {()}
PROTECTED_WORDS: frozenset[str] = frozenset(
    {*STOPWORDS, *_TABLES["weekdays"], *(term[0] for term in _LABEL_TERMS if len(term) == 1)})
"""Words a name part may also be in ordinary text: function words, weekdays, and every one-word entry of the
label parsers' tables read anywhere in a record (:data:`needlework.labels.vocabulary.TERMS`: months and their
abbreviations, countries, demonyms, the date and lead-sentence words such as "born", "aged", "bc", the sportsperson
and politician words such as "senator"). Anonymization never renames them on their own."""
PROTECTED_PHRASES: frozenset[tuple[str, ...]] = frozenset(
    term for term in _LABEL_TERMS | {tuple(keys(place)) for place in PLACE_TERMS} if len(term) > 1)
"""The label parsers' phrases as folded parts ("el salvador", "ice hockey", "prince edward island"): their words
stay where they occur together ("st louis"), and are names elsewhere ("louis smith")."""
FIELD_PROTECTED: dict[str, frozenset[tuple[str, ...]]] = {
    key: frozenset(tuple(keys(term)) for term in terms) - {()} for key, terms in FIELD_TERMS.items()}
"""Squashed infobox key -> the words and phrases (folded parts) the label parsers read only in its values: the
places in a birth place ("lima", "sydney"), the office words in an ``office`` value ("speaker", "bishop"). They are
never renamed in those values, and are names anywhere else: a one-word place or office word is a common name
("florence", "bishop"), and renaming it where no parser reads it changes no label."""


def field_key(key: object) -> str | None:
    """The squashed infobox key whose values :data:`FIELD_PROTECTED` protects words in, or None."""
    squashed = squash_key(str(key))
    return squashed if squashed in FIELD_PROTECTED else None


# ---- the names of a record -------------------------------------------------------------------------------------

NAME_KEYS: tuple[str, ...] = ("name", "article_title", "birth_name", "birthname", "fullname", "full_name",
                              "realname", "nickname", "nicknames", "other_names", "alias", "pseudonym", "native_name")
_PARENTHETICAL = regex.compile(r"\([^)]*\)")
# "robert ( bobby ) jones": a parenthesised word or three of letters only, inside the name a text opens with
_NAME_IN_PARENS = regex.compile(r"\(\s*((?:[\p{L}\p{M}'’.\-\"`]+\s+){0,3}[\p{L}\p{M}'’.\-\"`]+)\s*\)")
# where the name at the start of a text ends: a bracket or punctuation, or the lead sentence's verb ("... is a")
_LEAD_END = regex.compile(rf"[(,;:]|\s(?:{'|'.join(sorted(LEAD_VERBS))})\s")
MAX_LEAD_TOKENS = 8
_NOT_NAMES = PROTECTED_WORDS | TITLES


def name_tokens(name: str) -> list[str]:
    """The tokens of a name that hold a part, without a parenthesised disambiguation ("john smith ( footballer
    )"); quote marks, commas and other punctuation tokens are left out ('james " jimmy " conrad' -> 3 tokens)."""
    return [token for token in _PARENTHETICAL.sub(" ", name).replace(",", " ").split() if PART.search(token)]


def identifying(tokens: list[str]) -> list[tuple[int, str]]:
    """``(token index, folded part)`` for every identifying part of a name: every part except initials (one
    letter), leading titles ("sir", "dr") and, after the first identifying token, generational suffixes ("jr",
    "iii") and surname particles ("van", "de", "al" ...)."""
    found: list[tuple[int, str]] = []
    for i, token in enumerate(tokens):
        folded = keys(token)
        if not found and len(folded) == 1 and folded[0] in TITLES:
            continue
        first = not found
        found += [(i, part) for part in folded
                  if len(part) > 1 and (first or (part not in PARTICLES and part not in SUFFIXES))]
    return found


def identifying_parts(name: str) -> list[str]:
    """The identifying parts of one name, folded, in order ("Sir John van Dyke Jr." -> ["john", "dyke"])."""
    return [part for _, part in identifying(name_tokens(name))]


def lead_name(text: str, primary: list[str]) -> list[str]:
    """The name a biography opens with, where it holds the primary name's parts: "ramón landestoy troncoso
    ( born ..." for the name "ramón troncoso", "josé carlos bauer ( ..." for "bauer", "robert ( bobby ) jones
    ( born ..." (wiki_bio's "-lrb- bobby -rrb-") for "robert jones". Returns the tokens from the first to the
    last one holding a primary part, extended to the left over name-like tokens (not a title, function word,
    demonym or number that the primary name does not have), or [] when that is no name (more than
    MAX_LEAD_TOKENS tokens, or such a word inside)."""
    own = {part for _, part in identifying(primary)}
    if not own:
        return []
    opening = _NAME_IN_PARENS.sub(r" \1 ", text[:400])
    tokens = name_tokens(_LEAD_END.split(opening, maxsplit=1)[0])[: 2 * MAX_LEAD_TOKENS]
    at = [i for i, token in enumerate(tokens) if own.intersection(keys(token))]
    if not at:
        return []
    start, end = at[0], at[-1] + 1
    primary_words = {part for token in primary for part in keys(token)}

    def name_like(token: str) -> bool:
        return all(not part.isdigit() and (part in primary_words or part not in _NOT_NAMES)
                   for part in keys(token))

    while start > 0 and name_like(tokens[start - 1]):
        start -= 1
    span = tokens[start:end]
    return span if len(span) <= MAX_LEAD_TOKENS and all(map(name_like, span)) else []


def name_sources(record: dict) -> list[list[str]]:
    """The record's names as token lists: its ``name`` first, then the infobox's name fields, then the name its
    text opens with (:func:`lead_name`); duplicates (compared folded) left out."""
    raw = [record.get("name") or ""]
    infobox = record.get("infobox") or {}
    raw += [str(infobox[key]) for key in NAME_KEYS if infobox.get(key)]
    sources: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for tokens in [name_tokens(value) for value in raw] + [lead_name(record.get("text") or "", name_tokens(raw[0]))]:
        folded = tuple(keys(" ".join(tokens)))
        if folded and folded not in seen:
            seen.add(folded)
            sources.append(tokens)
    return sources
