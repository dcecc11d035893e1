"""Which records may enter the corpus: persons, with a name, that their text mentions by name.

:func:`drop_reason` returns the first reason that applies, in this order (:data:`REASONS`):

- ``empty_text``: no text, or only whitespace.
- ``no_name``: the name has no identifying part (empty, or only initials and titles such as "sir j.").
- ``non_person``: see :func:`is_non_person` (bands and other groups, which wiki_bio holds a few of).
- ``name_not_in_text``: no identifying part of the name occurs in the text (compared folded, part by part:
  :mod:`needlework.corpus.names`). Such a needle could
  not be found by the question "extract information about <name>", and its anonymization could not be checked.
"""
from __future__ import annotations

import re

from needlework.corpus import names

REASONS: tuple[str, ...] = ("empty_text", "no_name", "non_person", "name_not_in_text")

# Keys only a group's infobox has (wiki_bio "musical artist" infobox with background "group_or_band").
GROUP_ONLY_KEYS = frozenset({"current_members", "past_members", "members", "former_members"})
# Keys groups share with solo musicians: a sign of a group only when nothing marks a person.
GROUP_STYLE_KEYS = frozenset({"origin", "genre", "years_active", "label", "associated_acts"})
# Keys that only a person's infobox has.
PERSON_KEYS = frozenset({
    "birth_name", "birth_place", "death_place", "nationality", "occupation", "instrument", "spouse", "children",
    "parents", "relatives", "alma_mater", "education", "height", "weight", "position", "office", "party", "sport",
    "clubs", "currentclub", "team", "caps", "term_start", "employer", "known_for", "citizenship", "residence",
})
_FIRST_SENTENCE_END = re.compile(r"\s\.(?:\s|$)|(?<=[a-z)])\.\s+(?=[A-Z])")
# "( born 1950 )", "( died 1950 )", "( 2 march 1901 -- 1980 )", "( c. 1890 - 1950 )"
_LIFE_DATES = re.compile(r"\([^)]*(?:\b(?:born|died|b\.|d\.)|\d{3,4}\s*(?:--|-|–))", re.IGNORECASE)
# "are a swedish indie rock band", "was an american vocal group" (no "of/in/with ...": "a member of the band")
_GROUP_LEAD = re.compile(
    r"\b(?:is|are|was|were)\s+(?:an?\s+|the\s+)?"
    r"(?:(?!(?:of|in|for|with|from|by|at|on|to|and|who|which)\b)\S+\s+){0,4}"
    r"(?:band|group|duo|trio|quartet|quintet|orchestra|ensemble|choir|collective)\b",
    re.IGNORECASE,
)


def first_sentence(text: str) -> str:
    """The text up to its first full stop (wiki_bio " . " or a ". " before a capital), at most 400 chars."""
    match = _FIRST_SENTENCE_END.search(text)
    return (text[: match.start()] if match else text)[:400]


def has_life_dates(record: dict) -> bool:
    """A birth or death date in the infobox, or life dates in parentheses in the first sentence."""
    infobox = record.get("infobox") or {}
    if infobox.get("birth_date") or infobox.get("death_date"):
        return True
    return bool(_LIFE_DATES.search(first_sentence(record.get("text") or "")))


def is_non_person(record: dict) -> bool:
    """Whether a record describes a group rather than a person.

    Never when it has life dates (:func:`has_life_dates`). Otherwise yes when its infobox has group-only keys
    (members) or a ``background`` naming a group or band, or group-style keys (origin, genre, label ...) and no
    person key and no solo ``background``, or when its first sentence says it "is/are/was/were a ... band/group/
    duo/...".
    """
    if has_life_dates(record):
        return False
    infobox = record.get("infobox") or {}
    keys = {key for key, value in infobox.items() if value}
    background = str(infobox.get("background", "")).lower()
    if keys & GROUP_ONLY_KEYS or "group" in background or "band" in background:
        return True
    if keys & GROUP_STYLE_KEYS and not keys & PERSON_KEYS and not background:
        return True
    return bool(_GROUP_LEAD.search(first_sentence(record.get("text") or "")))


def drop_reason(record: dict) -> str | None:
    """Why a record cannot be a needle (one of :data:`REASONS`), or None to keep it."""
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return "empty_text"
    name = record.get("name")
    parts = names.identifying_parts(name) if isinstance(name, str) else []
    if not parts:
        return "no_name"
    if is_non_person(record):
        return "non_person"
    words = set(names.keys(text))
    if not any(part in words for part in parts):
        return "name_not_in_text"
    return None
