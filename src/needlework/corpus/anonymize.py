"""Replace every person's name with a fresh, unique fake name, consistently in the text and the infobox.

Why: the benchmark asks a model about a person hidden in a haystack; a famous real name would let the model
answer from memory instead of from the context.

Words are compared folded (:mod:`needlework.corpus.names`: Unicode normalisation, case folding, accents removed)
and part by part (a part is a run of letters or of digits), the same way in the names, the text and the leak
check. How a record is anonymized:

1. **Name sources** (:func:`~needlework.corpus.names.name_sources`). The record's ``name``, the infobox values of
   ``NAME_KEYS`` (``name``, ``article_title``, ``birth_name`` ...) without a parenthesised disambiguation
   ("john smith ( footballer )"), and the name the text opens with ("ramón landestoy troncoso ( born ...").
2. **Identifying parts**. Every part except initials (one letter), leading titles ("sir", "dr") and, after the
   first name, generational suffixes ("jr", "iii") and surname particles ("van", "de", "la", "al" ...). Those are
   kept as they are, so "ludwig van beethoven" becomes "<first> van <last>" and "j. r. r. tolkien"
   "j. r. r. <last>"; a nickname in quotes ('james " jimmy " conrad') is a part like any other.
3. **Roles.** In the record's primary name the first identifying token is the first name, the last one the
   last name and any in between middle names; parts found only in another source are a last name if they end
   that source and a middle name otherwise. Each identifying part gets a new part of the same role (a first
   name for first and middle names, a last name for last names), drawn by ``random.Random(seed)`` from Faker's
   name lists of one locale per person (any locale once that one's combinations are used up), with the gender
   guessed from the pronouns of the text; so the new name keeps the token structure ("first last", "first
   middle last"). The locale is random, not the person's nationality: the name gives no hint of it.
4. **Uniqueness.** A new part is never a name part of *any* record of the corpus (nor a protected word, see 5),
   and the new primary name is unique across the corpus.
5. **Replacement.** In the text and in every infobox value, as parts ("smith 's", "smith's", "smith-jones",
   "john_smith.jpg" and "herrera2010.jpg" all match; in a file name also a part glued to other letters, as in
   "jimmyconrad.jpg"): (a) every *strict* part, an identifying part of three letters or more that is not one of
   the protected words (function words, weekdays, and every word a label is read from anywhere in a record:
   months and their abbreviations, countries, demonyms, the date and lead-sentence words such as "born", "aged",
   "bc", the sportsperson and politician words such as "senator"), wherever it occurs except inside a protected
   phrase ("louis" stays in "st louis", "lucia" in "saint lucia") and, in the value of an infobox key whose
   values the labeler reads for more words, inside one of those (a place in a birth place: "lima"; an office
   word in an office: "speaker"; :data:`~needlework.corpus.names.FIELD_PROTECTED`); (b) the other, *loose*
   parts only inside a multi-token name (a run of two or more consecutive tokens of a source, or first + last
   name; longest first; its parts separated by spaces, hyphens, apostrophes, quotes, underscores or a dot right
   after a part, never by a sentence's end " . "). So a person called "will young" or "june carter" keeps "he
   will ..." and "born 2 june 1950" intact, "jan kowalski" keeps "born 12 jan 1950", "john english" keeps
   "english" as a nationality, "senator jones" keeps "an american senator", "carlos lima" keeps his birth place
   "lima" (and is renamed everywhere else), and "li na" keeps a lone "li". The name-source infobox values
   themselves are rewritten part by part.

:func:`find_leaks` applies the same rule in reverse: after anonymization no strict part (outside a protected
phrase, or a place or office word where it is read), and no multi-token source name made of loose parts only, may
occur in a record's name, text or infobox values. The loose-part
exemption is the one deliberate blind spot (a surname "english" or "li" standing alone stays); it is what keeps
the labels (nationality, dates) and the grammar intact. A strict part that is also a common word ("rise",
"young") is replaced wherever it occurs: the text loses that word rather than leak the name.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import regex

from needlework.corpus.names import (FIELD_PROTECTED, NAME_KEYS, PART, PROTECTED_PHRASES, PROTECTED_WORDS, field_key,
                                     fold, identifying, identifying_parts, keys, name_sources)
from needlework.corpus.synthetic import COUNTRIES, faker_for
from needlework.progress import progress

__all__ = ["NAME_KEYS", "PROTECTED_WORDS", "LeakError", "anonymize", "check_leaks", "find_leaks",
           "identifying_parts", "name_sources"]
# Between the parts of a name in running text or in a file name: spaces, hyphens, apostrophes, quotes, underscores,
# and a dot right after a part ("j. r. r. tolkien"), never a sentence's end ("... an american senator . jones").
_GAP = regex.compile(r"\.?[\s_\-'’\"`]{1,5}|\.")
_FILE_NAME = regex.compile(r"\.\s*(?:jpe?g|png|gif|svg|tiff?|webp|bmp|ogg|pdf)\s*$", regex.IGNORECASE)
_LOCALES = tuple(c.locale for c in COUNTRIES)
_FIRST, _MIDDLE, _LAST = "first", "middle", "last"


class LeakError(ValueError):
    """An anonymized record still contains part of its original name."""


def _roles(sources: list[list[str]]) -> dict[str, str]:
    """Identifying part -> first | middle | last; the primary name decides, other sources add what is new."""
    roles: dict[str, str] = {}
    for n, tokens in enumerate(sources):
        parts = identifying(tokens)
        ident = sorted({i for i, _ in parts})
        for i, part in parts:
            k = ident.index(i)
            if n == 0:
                role = _FIRST if k == 0 else _LAST if k == len(ident) - 1 else _MIDDLE
            else:
                role = _LAST if k == len(ident) - 1 and k > 0 else _MIDDLE
            roles.setdefault(part, role)
    return roles


def _strict(part: str) -> bool:
    """Whether a part is replaced (and leak-checked) wherever it occurs alone, not only inside a name."""
    return len(part) >= 3 and part not in PROTECTED_WORDS and not part.isdigit()


def _phrases(sources: list[list[str]], roles: dict[str, str]) -> set[tuple[str, ...]]:
    """The multi-token names (as folded parts) that place the parts not replaced alone (short or protected
    ones): every run of two or more consecutive tokens of a source, and first + last name, holding such a part."""
    loose = {part for part in roles if not _strict(part)}
    phrases: set[tuple[str, ...]] = set()
    for tokens in sources:
        parts = identifying(tokens)
        at = sorted({i for i, part in parts if part in loose})
        for i in range(len(tokens)):
            for j in range(i + 2, len(tokens) + 1):
                if any(i <= k < j for k in at):
                    phrases.add(tuple(keys(" ".join(tokens[i:j]))))
        ident = sorted({i for i, _ in parts})
        if len(ident) >= 2 and {ident[0], ident[-1]} & set(at):
            phrases.add(tuple(keys(f"{tokens[ident[0]]} {tokens[ident[-1]]}")))
    return phrases


def _index(phrases: Iterable[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    """Phrases by their first part, longest first."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted(set(phrases), key=lambda p: (-len(p), p)):
        index.setdefault(phrase[0], []).append(phrase)
    return index


def _phrase_hits(value: str, spans: list[regex.Match], folded: list[str],
                 index: dict[str, list[tuple[str, ...]]]) -> Iterable[tuple[int, tuple[str, ...]]]:
    """``(first part index, phrase)`` for every phrase found in ``value`` (parts ``spans``, folded ``folded``): its
    parts in a row, separated only by :data:`_GAP`."""
    i = 0
    while i < len(folded):
        for phrase in index.get(folded[i], ()):
            n = len(phrase)
            if tuple(folded[i:i + n]) == phrase and all(
                    _GAP.fullmatch(value, spans[j].end(), spans[j + 1].start()) for j in range(i, i + n - 1)):
                yield i, phrase
                i += n - 1
                break
        i += 1


def _shielded(value: str, spans: list[regex.Match], folded: list[str], key: object = None) -> set[int]:
    """The indices of the parts of ``value`` inside a protected phrase ("st louis", "prince edward island"), and,
    in the value of infobox key ``key``, inside a word or phrase read there (a place in a birth place, an office
    word in an office: :data:`~needlework.corpus.names.FIELD_PROTECTED`)."""
    field = field_key(key) if key is not None else None
    shields = (_SHIELDS, _FIELD_SHIELDS[field]) if field else (_SHIELDS,)
    hits = [hit for index in shields for hit in _phrase_hits(value, spans, folded, index)]
    return {i for start, phrase in hits for i in range(start, start + len(phrase))}


def _glued(part: str, strict: list[str]) -> list[str]:
    """The strict parts inside ``part`` (folded), longest first: names glued to other letters in a file name."""
    return [name for name in strict if name in part]


_SHIELDS = _index(PROTECTED_PHRASES)
_FIELD_SHIELDS = {key: _index(terms) for key, terms in FIELD_PROTECTED.items()}


def _like(original: str, new: str) -> str:
    """``new`` in the letter case of ``original`` (lower, Title or UPPER)."""
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _map_parts(span: str, mapping: dict[str, str]) -> str:
    """Replace every mapped part of ``span`` (compared folded), keeping separators, other parts and letter case."""
    return PART.sub(lambda m: _like(m.group(0), mapping.get(fold(m.group(0)), m.group(0))), span)


def _guess_female(text: str) -> bool:
    words = text.lower().split()
    she = sum(w in ("she", "her", "hers", "herself") for w in words)
    he = sum(w in ("he", "his", "him", "himself") for w in words)
    return she > he


@dataclass
class _NameDrawer:
    """Draws new name parts with a seeded generator from Faker's name lists, minus the forbidden words.

    Drawing from the filtered lists (not rejection sampling Faker calls) stays fast when a large corpus has
    used up most of a locale's names.
    """

    forbidden: set[str]
    used_names: set[str] = field(default_factory=set)
    pools: dict[tuple[str | None, str], tuple[str, ...]] = field(default_factory=dict)

    def pool(self, locale: str | None, kind: str) -> tuple[str, ...]:
        """Allowed one-word names of ``kind`` in ``locale`` (None: all locales), sorted."""
        if (locale, kind) not in self.pools:
            names = _faker_names(locale, kind) if locale else set().union(*(_faker_names(x, kind) for x in _LOCALES))
            self.pools[locale, kind] = tuple(sorted(n for n in names if fold(n) not in self.forbidden))
        return self.pools[locale, kind]

    def part(self, rng: random.Random, locale: str | None, role: str, female: bool, taken: set[str]) -> str:
        """A new part for ``role`` from ``locale`` (None: any locale), not in ``taken``."""
        kind = "last" if role == _LAST else "female" if female else "male"
        for pool in (self.pool(locale, kind), self.pool(None, kind)):
            for _ in range(20 if pool else 0):  # ``taken`` holds a few names: rejection is cheap
                candidate = rng.choice(pool)
                if candidate not in taken:
                    return candidate
        raise RuntimeError(f"could not draw a new {role} name: the corpus's {len(self.forbidden)} name parts "
                           "use up Faker's name lists")


_FAKER_LISTS = {"male": ("first_names_male",), "female": ("first_names_female",),
                "last": ("last_names", "last_names_male", "last_names_female")}


@lru_cache(maxsize=None)
def _faker_names(locale: str, kind: str) -> frozenset[str]:
    """The one-word names of a Faker locale's person provider: "male" / "female" first names or "last" names."""
    provider = faker_for(locale).provider("faker.providers.person")
    attributes = _FAKER_LISTS[kind] if hasattr(provider, _FAKER_LISTS[kind][0]) else ("first_names",)
    names = (str(n).lower() for attr in attributes for n in getattr(provider, attr, ()))
    return frozenset(n for n in names if PART.fullmatch(n))


def _anonymize_one(record: dict, drawer: _NameDrawer, rng: random.Random) -> tuple[dict, str]:
    sources = name_sources(record)
    roles = _roles(sources)
    if not roles:
        raise ValueError(f"{record.get('id')}: name {record.get('name')!r} has no identifying part to anonymize")
    record_locale = rng.choice(_LOCALES)
    female = _guess_female(record.get("text") or "")
    primary = " ".join(sources[0])
    for attempt in range(100):
        # one locale per person, unless its name combinations are used up: then mix locales
        locale = record_locale if attempt < 5 else None
        mapping: dict[str, str] = {}
        for part, role in roles.items():
            mapping[part] = drawer.part(rng, locale, role, female, set(mapping.values()))
        new_name = _map_parts(primary, mapping)
        if fold(new_name) not in drawer.used_names:
            break
    else:
        raise RuntimeError(f"{record.get('id')}: could not draw a unique new name")  # pragma: no cover
    drawer.used_names.add(fold(new_name))
    phrases = _index(_phrases(sources, roles))
    strict = {part for part in mapping if _strict(part)}
    longest_first = sorted(strict, key=lambda part: (-len(part), part))

    def rewrite(value: str, key: object = None) -> str:
        spans = list(PART.finditer(value))
        folded = [fold(m.group(0)) for m in spans]
        shielded = _shielded(value, spans, folded, key)
        new = {i: _like(spans[i].group(0), mapping[part]) for i, part in enumerate(folded)
               if part in strict and i not in shielded}
        for start, phrase in _phrase_hits(value, spans, folded, phrases):
            new.update({i: _like(spans[i].group(0), mapping[folded[i]])
                        for i in range(start, start + len(phrase)) if folded[i] in mapping})
        if _FILE_NAME.search(value):  # "jimmyconrad 2006.jpg"
            for i, part in enumerate(folded):
                inside = [] if i in new else _glued(part, longest_first)
                if inside:  # one pass, longest first
                    new[i] = regex.sub("|".join(map(regex.escape, inside)), lambda m: mapping[m.group(0)], part)
        if not new:
            return value
        pieces, end = [], 0
        for i in sorted(new):
            pieces += [value[end:spans[i].start()], new[i]]
            end = spans[i].end()
        return "".join(pieces) + value[end:]

    out = dict(record)
    out["name"] = _map_parts(record.get("name") or "", mapping)
    out["text"] = rewrite(record.get("text") or "")
    if isinstance(record.get("infobox"), dict):
        out["infobox"] = {key: _map_parts(str(value), mapping) if key in NAME_KEYS else rewrite(str(value), key)
                          for key, value in record["infobox"].items()}
    return out, out["name"]


def anonymize(records: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Give every person a new unique fake name, replaced consistently in name, text and infobox.

    Returns the anonymized records (same order, other fields untouched) and the audit rows
    ``{"id", "original", "new"}`` (keep them apart from the corpus: they undo the anonymization).
    Deterministic for the same records and seed.
    """
    forbidden = set(PROTECTED_WORDS)
    for record in records:
        for tokens in name_sources(record):
            forbidden.update(keys(" ".join(tokens)))
    drawer = _NameDrawer(forbidden=forbidden)
    rng = random.Random(f"anonymize:{seed}")
    out, audit = [], []
    for record in progress(records, desc="anonymize", unit="rec"):
        new_record, new_name = _anonymize_one(record, drawer, rng)
        out.append(new_record)
        audit.append({"id": record["id"], "original": record.get("name") or "", "new": new_name})
    return out, audit


def _leaks(original: dict, anonymized: dict) -> list[str]:
    """The strict parts, and the multi-token names made only of loose parts, of ``original`` in ``anonymized``."""
    sources = name_sources(original)
    strict = {part for part in _roles(sources) if _strict(part)}
    loose_names = _index(tuple(keys(" ".join(tokens))) for tokens in sources
                         if len(tokens) >= 2 and not strict.intersection(keys(" ".join(tokens))))
    longest_first = sorted(strict, key=lambda part: (-len(part), part))
    found: set[str] = set()
    for key, value in _fields(anonymized):
        spans = list(PART.finditer(value))
        folded = [fold(m.group(0)) for m in spans]
        shielded = _shielded(value, spans, folded, key)
        found.update(part for i, part in enumerate(folded) if part in strict and i not in shielded)
        if _FILE_NAME.search(value):
            found.update(name for part in folded for name in _glued(part, longest_first))
        found.update(" ".join(phrase) for _, phrase in _phrase_hits(value, spans, folded, loose_names))
    return sorted(found)


def _fields(record: dict) -> Iterable[tuple[str | None, str]]:
    """``(infobox key or None, value)`` for the record's name, text and infobox values."""
    yield None, record.get("name") or ""
    yield None, record.get("text") or ""
    yield from ((key, str(value)) for key, value in (record.get("infobox") or {}).items())


def find_leaks(originals: list[dict], anonymized: list[dict]) -> dict[str, list[str]]:
    """Record id -> the original name tokens still found in its anonymized record (only records with leaks).

    A leak is an identifying part of three letters or more that is not a protected word, or a whole
    multi-token source name made of the other parts, found (folded, part by part) in the anonymized record's
    name, text or infobox values. Records are paired by id; both lists must hold the same ids.
    """
    by_id = {r["id"]: r for r in anonymized}
    missing = [r["id"] for r in originals if r["id"] not in by_id]
    if missing or len(by_id) != len(originals):
        raise ValueError(f"check_leaks: originals and anonymized records differ (missing ids: {missing[:5]})")
    leaks = {}
    for original in progress(originals, desc="check leaks", unit="rec"):
        found = _leaks(original, by_id[original["id"]])
        if found:
            leaks[original["id"]] = found
    return leaks


def check_leaks(originals: list[dict], anonymized: list[dict]) -> None:
    """Raise :class:`LeakError` naming the ids and tokens if any original name survives (:func:`find_leaks`)."""
    leaks = [f"{rid}: {found}" for rid, found in find_leaks(originals, anonymized).items()]
    if leaks:
        shown = "; ".join(leaks[:20]) + (f"; ... ({len(leaks) - 20} more)" if len(leaks) > 20 else "")
        raise LeakError(f"{len(leaks)} anonymized record(s) still contain original name tokens: {shown}")
