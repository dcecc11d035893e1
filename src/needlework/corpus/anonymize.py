"""Replace every person's name with a fresh, unique fake name, consistently in the text and the infobox.

Why: the benchmark asks a model about a person hidden in a haystack; a famous real name would let the model
answer from memory instead of from the context.

How a record is anonymized:

1. **Name sources.** The record's ``name`` and the infobox values of :data:`NAME_KEYS` (``name``,
   ``article_title``, ``birth_name`` ...), with a parenthesised disambiguation ("john smith ( footballer )")
   removed. A source is split into tokens (whitespace) and parts (runs of letters/digits: "jean-pierre" has
   the parts "jean" and "pierre").
2. **Identifying parts.** Every part except initials (one letter), leading titles ("sir", "dr") and, after the
   first token, generational suffixes ("jr", "iii") and surname particles ("van", "de", "da" ...). Those are kept
   as they are, so "ludwig van beethoven" becomes "<first> van <last>" and "j. r. r. tolkien" "j. r. r. <last>".
3. **Roles.** In the record's primary name the first identifying token is the first name, the last one the
   last name and any in between middle names; parts found only in another source are a last name if they end
   that source and a middle name otherwise. Each identifying part gets a new part of the same role (a first
   name for first and middle names, a last name for last names), drawn by ``random.Random(seed)`` from Faker's
   name lists of one locale per person (any locale once that one's combinations are used up), with the gender
   guessed from the pronouns of the text; so the new name keeps the token structure ("first last", "first
   middle last"). The locale is random, not the person's nationality: the name gives no hint of it.
4. **Uniqueness.** A new part is never a name part of *any* record of the corpus (nor a protected word, see 5),
   and the new primary name is unique across the corpus.
5. **Replacement.** In the text and in every infobox value, case-insensitively and as whole words (a word
   boundary is anything but a letter or digit, so "smith 's", "smith's", "smith-jones" and "john_smith.jpg" all
   match): (a) every *strict* part, an identifying part of three letters or more that is not one of the
   :data:`PROTECTED_WORDS` (function words, months, weekdays, demonyms, countries), wherever it occurs; (b) the
   other, *loose* parts only inside a multi-token name (a run of two or more consecutive tokens of a source, or
   first + last name; longest first). So a person called "will young" or "june carter" keeps "he will ..." and
   "born 2 june 1950" intact, "john english" keeps "english" as a nationality, and "li na" keeps a lone "li".
   The name-source infobox values themselves are rewritten part by part.

:func:`check_leaks` applies the same rule in reverse: after anonymization no strict part, and no multi-token
source name made of loose parts only, may occur in a record's name, text or infobox values. The loose-part
exemption is the one deliberate blind spot (a surname "english" or "li" standing alone stays); it is what keeps
the labels (nationality, dates) and the grammar intact.
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from tqdm import tqdm

from needlework.corpus.synthetic import COUNTRIES, MONTHS, faker_for

NAME_KEYS: tuple[str, ...] = ("name", "article_title", "birth_name", "fullname", "full_name", "realname")
_PART = re.compile(r"[^\W_]+")  # a run of letters/digits
_SEPARATOR = r"(?:\s+|_)"  # between the tokens of a name in running text or in a file name
_PARENTHETICAL = re.compile(r"\([^)]*\)")
# Titles count only before the first name ("sir alex ferguson"; "billie jean king" keeps its "king").
_TITLES = frozenset({"sir", "dame", "lord", "lady", "dr", "prof", "professor", "rev", "reverend", "hon", "mr",
                     "mrs", "ms", "miss", "king", "queen", "prince", "princess", "count", "baron", "general",
                     "captain", "colonel"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "vi", "vii", "viii", "ix", "obe", "mbe", "cbe", "kbe", "qc",
                       "phd", "md"})
# Particles and suffixes count only after the first token ("al pacino" keeps its "al").
_PARTICLES = frozenset({"da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "la", "le", "van", "von",
                        "den", "ten", "ter", "bin", "ibn", "al", "el", "af", "zu"})
# English function words (the auxiliary "will", "may", "can" ... are first names too).
_STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours out over own same she should so some such than that the their theirs them then there
these they this those through to too under until up very was we were what when where which while who whom why
will with would you your also may might must shall
""".split())
_WEEKDAYS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"})
# Demonyms and countries beyond synthetic.COUNTRIES (not the ones that are mostly names: jordan, israel ...).
_MORE_PLACES = frozenset("""
african algerian arab arabian armenian bangladeshi belgian bolivian british bulgarian burmese cambodian chinese
congolese cuban cypriot ecuadorian egyptian estonian ethiopian filipino georgian ghanaian greek icelandic iranian
iraqi israeli jamaican japanese jordanian kenyan korean latvian lebanese lithuanian luxembourgish malaysian
maltese moroccan nigerian pakistani palestinian peruvian russian scottish serbian singaporean somali ukrainian
uruguayan venezuelan vietnamese welsh zimbabwean africa algeria belgium bolivia britain bulgaria china cuba cyprus
egypt estonia ethiopia greece iceland iran iraq jamaica japan kenya korea latvia lebanon lithuania
luxembourg malaysia morocco nigeria pakistan peru russia scotland serbia singapore ukraine uruguay venezuela
vietnam wales kingdom states zealand republic european
""".split())
PROTECTED_WORDS: frozenset[str] = (
    _STOPWORDS | _WEEKDAYS | frozenset(MONTHS) | _MORE_PLACES
    | frozenset(w for c in COUNTRIES for w in f"{c.name} {c.demonym}".split())
)
_LOCALES = tuple(c.locale for c in COUNTRIES)
_FIRST, _MIDDLE, _LAST = "first", "middle", "last"


class LeakError(ValueError):
    """An anonymized record still contains part of its original name."""


def _name_tokens(name: str) -> list[str]:
    """Lowercased tokens of a name without a parenthesised disambiguation or commas."""
    return _PARENTHETICAL.sub(" ", name.lower()).replace(",", " ").split()


def name_sources(record: dict) -> list[list[str]]:
    """The record's names as token lists: its ``name`` first, then the infobox's name fields (deduplicated)."""
    raw = [record.get("name") or ""]
    infobox = record.get("infobox") or {}
    raw += [str(infobox[key]) for key in NAME_KEYS if infobox.get(key)]
    sources: list[list[str]] = []
    for value in raw:
        tokens = _name_tokens(value)
        if tokens and tokens not in sources:
            sources.append(tokens)
    return sources


def _identifying(tokens: list[str]) -> list[tuple[int, str]]:
    """``(token index, part)`` for every identifying part of a name (see the module docstring, step 2)."""
    found, leading = [], True
    for i, token in enumerate(tokens):
        parts = _PART.findall(token)
        if leading and len(parts) == 1 and parts[0] in _TITLES:
            continue
        leading = False
        found += [(i, part) for part in parts
                  if len(part) > 1 and not (i > 0 and (part in _PARTICLES or part in _SUFFIXES))]
    return found


def identifying_parts(name: str) -> list[str]:
    """The identifying parts of one name, in order ("sir john van dyke jr." -> ["john", "dyke"])."""
    return [part for _, part in _identifying(_name_tokens(name))]


def _roles(sources: list[list[str]]) -> dict[str, str]:
    """Identifying part -> first | middle | last; the primary name decides, other sources add what is new."""
    roles: dict[str, str] = {}
    for n, tokens in enumerate(sources):
        parts = _identifying(tokens)
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
    return len(part) >= 3 and part not in PROTECTED_WORDS


def _phrases(sources: list[list[str]], roles: dict[str, str]) -> set[tuple[str, ...]]:
    """The multi-token names that place the parts not replaced alone (short or protected ones): every run of
    two or more consecutive tokens of a source, and first + last name, holding such a part."""
    loose = {part for part in roles if not _strict(part)}
    phrases: set[tuple[str, ...]] = set()
    for tokens in sources:
        parts = _identifying(tokens)
        at = sorted({i for i, part in parts if part in loose})
        for i in range(len(tokens)):
            for j in range(i + 2, len(tokens) + 1):
                if any(i <= k < j for k in at):
                    phrases.add(tuple(tokens[i:j]))
        ident = sorted({i for i, _ in parts})
        if len(ident) >= 2 and {ident[0], ident[-1]} & set(at):
            phrases.add((tokens[ident[0]], tokens[ident[-1]]))
    return phrases


def _phrase_matcher(sources: list[list[str]], roles: dict[str, str]) -> re.Pattern | None:
    """A regex matching those phrases as whole words, case-insensitively, longest first (None: no phrase)."""
    alternatives = {_SEPARATOR.join(re.escape(t) for t in phrase) for phrase in _phrases(sources, roles)}
    if not alternatives:
        return None
    ordered = sorted(alternatives, key=lambda a: (-len(a), a))
    return re.compile(r"(?<![^\W_])(?:" + "|".join(ordered) + r")(?![^\W_])", re.IGNORECASE)


def _like(original: str, new: str) -> str:
    """``new`` in the letter case of ``original`` (lower, Title or UPPER)."""
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _map_parts(span: str, mapping: dict[str, str]) -> str:
    """Replace every mapped part of ``span``, keeping separators, unmapped parts and letter case."""
    return _PART.sub(lambda m: _like(m.group(0), mapping.get(m.group(0).lower(), m.group(0))), span)


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
            self.pools[locale, kind] = tuple(sorted(names - self.forbidden))
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
    return frozenset(n for n in names if _PART.fullmatch(n))


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
        if new_name not in drawer.used_names:
            break
    else:
        raise RuntimeError(f"{record.get('id')}: could not draw a unique new name")  # pragma: no cover
    drawer.used_names.add(new_name)
    phrase_matcher = _phrase_matcher(sources, roles)
    strict = {part: new for part, new in mapping.items() if _strict(part)}

    def replace_part(match: re.Match) -> str:
        word = match.group(0)
        new = strict.get(word.lower())
        return _like(word, new) if new else word

    def rewrite(value: str) -> str:
        if phrase_matcher:
            value = phrase_matcher.sub(lambda m: _map_parts(m.group(0), mapping), value)
        lowered = value.lower()
        if not any(part in lowered for part in strict):  # fast path: no part even as a substring
            return value
        return _PART.sub(replace_part, value)  # a run of letters/digits equal to a part is a whole-word match

    out = dict(record)
    out["name"] = _map_parts(record.get("name") or "", mapping)
    out["text"] = rewrite(record.get("text") or "")
    if isinstance(record.get("infobox"), dict):
        out["infobox"] = {key: _map_parts(str(value), mapping) if key in NAME_KEYS else rewrite(str(value))
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
            for tok in tokens:
                forbidden.update(_PART.findall(tok))
    drawer = _NameDrawer(forbidden=forbidden)
    rng = random.Random(f"anonymize:{seed}")
    out, audit = [], []
    for record in tqdm(records, desc="anonymize", unit="rec", disable=None, mininterval=2):
        new_record, new_name = _anonymize_one(record, drawer, rng)
        out.append(new_record)
        audit.append({"id": record["id"], "original": record.get("name") or "", "new": new_name})
    return out, audit


def _leaks(original: dict, anonymized: dict) -> list[str]:
    """The strict parts, and the multi-token names made only of loose parts, of ``original`` in ``anonymized``."""
    sources = name_sources(original)
    strict = {part for part in _roles(sources) if _strict(part)}
    loose_names = []
    for tokens in sources:
        parts = _PART.findall(" ".join(tokens))
        if len(tokens) >= 2 and not strict.intersection(parts):
            loose_names.append(" ".join(parts))
    found: set[str] = set()
    for value in _fields(anonymized):
        words = _PART.findall(value.lower())
        found.update(strict.intersection(words))
        if loose_names:
            joined = f" {' '.join(words)} "
            found.update(name for name in loose_names if f" {name} " in joined)
    return sorted(found)


def _fields(record: dict) -> Iterable[str]:
    yield record.get("name") or ""
    yield record.get("text") or ""
    yield from (str(v) for v in (record.get("infobox") or {}).values())


def check_leaks(originals: list[dict], anonymized: list[dict]) -> None:
    """Raise :class:`LeakError` naming the ids and tokens if any original name survives anonymization.

    A leak is an identifying part of three letters or more that is not a protected word, or a whole
    multi-token source name, found (case-insensitively, as whole words) in the anonymized record's name, text
    or infobox values. Records are paired by id; both lists must hold the same ids.
    """
    by_id = {r["id"]: r for r in anonymized}
    missing = [r["id"] for r in originals if r["id"] not in by_id]
    if missing or len(by_id) != len(originals):
        raise ValueError(f"check_leaks: originals and anonymized records differ (missing ids: {missing[:5]})")
    leaks = []
    for original in tqdm(originals, desc="check leaks", unit="rec", disable=None, mininterval=2):
        found = _leaks(original, by_id[original["id"]])
        if found:
            leaks.append(f"{original['id']}: {found}")
    if leaks:
        shown = "; ".join(leaks[:20]) + (f"; ... ({len(leaks) - 20} more)" if len(leaks) > 20 else "")
        raise LeakError(f"{len(leaks)} anonymized record(s) still contain original name tokens: {shown}")
