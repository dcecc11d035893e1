"""The offline default labeler: read a wiki_bio infobox (and the biography's first sentence) into a Label.

Infobox keys are compared squashed (lowercase, no spaces/underscores/hyphens, trailing digits dropped:
"term_start2" -> "termstart"); values may be wiki_bio-tokenised ("-lrb-" or "(") or raw. Each field:

- date_of_birth / date_of_death: the first date in ``birth_date`` / ``death_date`` (see
  :mod:`needlework.labels.dates`). If that gives nothing (key absent, "unknown", "1890s"), the first
  parenthesis of the biography's first sentence is read instead: "( born march 2 , 1995 )" (birth only),
  "( 14 june 1890 -- 1 october 1971 )" (birth -- death), "( died 1971 )" (death only).
- nationality, first source that names one: the ``nationality`` key ("american , canadian" -> "american",
  "united states" -> "american"), the ``citizenship`` key, the demonym the first sentence gives ("... is a
  swedish ice hockey player"), the ``country`` key (the country a sportsperson represents), the country of
  ``birth_place`` (last recognised component: "stockholm , sweden" -> "swedish"); else "unknown".
  See :mod:`needlework.labels.nationality`.
- sportsperson: a key only sports infoboxes have (clubs, caps, goals, currentclub, nationalteam, sport, team,
  league, debutyear, medaltemplates, bats, batting, turnedpro, ...); or ``position`` with another body/career
  key (height, weight, college, number, years, ...); or three such career keys (boxers' wins, losses, reach);
  or a sportsperson word in ``occupation``/``profession`` or the first sentence (footballer, cricketer,
  athlete, boxer, swimmer, "ice hockey player", "racing driver", ...). "player" or "coach" alone does not
  count ("chess player", "vocal coach" are not sportspeople).
- politician: a key only political infoboxes have (party, constituency, riding, electorate, majority, ...);
  or an ``office`` whose value is a political office (member of parliament, senator, minister, mayor,
  governor, president of a country; not a judge, bishop, ambassador, university or company president); or a
  politician word in ``occupation``/``profession``/``laterwork`` or the first sentence. ``predecessor``,
  ``successor``, ``order`` and ``term_start`` alone do NOT make a politician: royal (reign, house),
  religious (bishop's see) and academic infoboxes carry them too; they count only through a political office.
Both flags can be true (a footballer turned politician).
"""
from __future__ import annotations

import re
from typing import Any


from needlework.io import InputError
from needlework.labels import nationality as nat
from needlework.labels import vocabulary
from needlework.labels.dates import parse_date
from needlework.labels.schema import Date, Label
from needlework.progress import progress

# --- sportsperson ---------------------------------------------------------------------------------------------
_KEYS = vocabulary.INFOBOX_KEYS
SPORT_KEYS, CAREER_KEYS = _KEYS["sport_keys"], _KEYS["career_keys"]
_OCC = vocabulary.OCCUPATIONS
_any = vocabulary.words_pattern

_SPORT_PHRASE = re.compile(
    rf"\b(?:{_any(_OCC['sports'])}) (?:{_any(_OCC['sport_roles'])})s?\b"
    rf"|\b(?:{_any(_OCC['motor_sports'])}) (?:{_any(_OCC['motor_roles'])})s?\b"
    rf"|\b(?:{_any(_OCC['riding_sports'])}) (?:{_any(_OCC['riding_roles'])})s?\b"
    rf"|\b(?:{_any(_OCC['sport_phrases'])})\b"
)
SPORT_WORDS = frozenset(_OCC["sport_nouns"] + [noun + "s" for noun in _OCC["sport_nouns"]])  # "footballers"

# --- politician ------------------------------------------------------------------------------------------------
POLITICAL_KEYS, OFFICE_KEYS, OCCUPATION_KEYS = _KEYS["political_keys"], _KEYS["office_keys"], _KEYS["occupation_keys"]


def _unless(phrases: list[str], exceptions: list[str]) -> str:
    """An alternation of ``phrases`` (longest first), each one not where it starts one of ``exceptions``:
    "minister of" with the exception "minister of religion" -> ``minister\ of(?!\ religion\b)``."""
    out = []
    for phrase in sorted(set(phrases), key=lambda p: (-len(p), p)):
        rests = [e[len(phrase):] for e in exceptions if e.startswith(phrase + " ")]
        out.append(re.escape(phrase) + (rf"(?!(?:{'|'.join(map(re.escape, rests))})\b)" if rests else ""))
    return "|".join(out)


def _vetoed(word: str, vetoes: list[str]) -> str:
    """``word`` unless one of ``vetoes`` comes later in the text: "governor" but not "governor of the reserve bank"."""
    return rf"{re.escape(word)}(?!.*\b(?:{_any(vetoes)})\b)"


_VETOES = _OCC["political_office_vetoes"]
_OFFICES = [office for office in _OCC["political_offices"] if office not in _VETOES]
_STRONG_OFFICE = re.compile(
    rf"\b(?:{'|'.join(_vetoed(word, vetoes) for word, vetoes in _VETOES.items())}"
    rf"|{_unless(_OFFICES, _OCC['political_office_exceptions'])})\b"
)
_AMBIGUOUS_OFFICE = re.compile(rf"\b(?:{_any(_OCC['ambiguous_offices'])})\b")
_NOT_POLITICAL = re.compile(rf"\b(?:{_any(_OCC['not_political'])})\b")
_RELIGIOUS_OR_JUDICIAL = re.compile(rf"\b(?:{_any(_OCC['religious_or_judicial'])})\b")
_POLITICIAN_PHRASE = re.compile(
    rf"\b(?:{_unless(_OCC['politician_words'], _OCC['politician_exceptions'])}"
    rf"|member of the (?:[a-z']+ ){{0,6}}?(?:{_any(_OCC['chambers'])})"
    rf"|(?:{_any(_OCC['minister_kinds'])}) minister)\b"
)

# --- the first sentence ----------------------------------------------------------------------------------------
_DEMONYM_WINDOW = 6
_CLAUSE_WORDS = 40
_RANGE = re.compile(rf"\s(?:{_any(vocabulary.RANGE_WORDS)})\s|\s*[\u2013\u2014]\s*")
_WORD = re.compile(r"[a-z][a-z'-]*")
squash_key = vocabulary.squash_key


def _fields(infobox: dict[str, Any]) -> dict[str, list[str]]:
    """Squashed key -> its non-empty values, in key order (numbered keys "office", "office2" share a key)."""
    out: dict[str, list[str]] = {}
    for key, value in infobox.items():
        if value is None or not str(value).strip():
            continue
        out.setdefault(squash_key(str(key)), []).append(str(value))
    return out


def _first_sentence(text: str) -> list[str]:
    """The words of the text up to its first " . ", with brackets, commas and dashes as separate words."""
    text = vocabulary.undo_brackets(text.lower(), pad=" ")
    words = re.sub(r"([(),;])", r" \1 ", re.sub(r"\s*[\u2013\u2014]\s*", " -- ", text)).split()
    return words[: words.index(".")] if "." in words else words


def lead(text: str) -> tuple[str, list[str]]:
    """(first parenthesis before the verb, words after the verb) of the biography's first sentence.

    "john smith ( born march 2 , 1995 ) is a swedish ice hockey player ." ->
    ("born march 2 , 1995", ["a", "swedish", "ice", "hockey", "player"]). Empty parts when absent.
    """
    words = _first_sentence(text)
    depth, verb = 0, None
    parens: list[list[str]] = []
    for i, word in enumerate(words):
        if word == "(":
            depth += 1
            if depth == 1:
                parens.append([])
        elif word == ")" and depth:
            depth -= 1
        elif depth:
            parens[-1].append(word)
        elif word in vocabulary.LEAD_VERBS:
            verb = i
            break
    paren = " ".join(parens[0]) if parens else ""
    clause = words[verb + 1 : verb + 1 + _CLAUSE_WORDS] if verb is not None else []
    return paren, clause


def dates_from_lead(paren: str) -> tuple[Date, Date]:
    """Birth and death dates from a lead parenthesis; zeros for what it does not give.

    Each ";"-separated part with a digit is read: "born ..." or "b. ..." gives the birth date, "died ..." or
    "d. ..." the death date, "... -- ..." both; a bare date counts as the birth date only when the
    parenthesis says "born" elsewhere ("( born john smith ; 14 june 1950 )").
    """
    birth, death = Date(), Date()
    says_born = not vocabulary.BIRTH_MARKERS.isdisjoint(paren.split())
    for part in paren.split(";"):
        if not re.search(r"\d", part):
            continue
        words = set(part.split())
        part = f" {part.strip()} "
        if not vocabulary.BIRTH_MARKERS.isdisjoint(words):
            birth = birth if birth != Date() else parse_date(part)
        elif not vocabulary.DEATH_MARKERS.isdisjoint(words):
            death = death if death != Date() else parse_date(part)
        elif _RANGE.search(part):
            first, second = _RANGE.split(part, maxsplit=1)
            birth = birth if birth != Date() else parse_date(first)
            death = death if death != Date() else parse_date(second)
        elif says_born:
            birth = birth if birth != Date() else parse_date(part)
    return birth, death


def demonym_from_clause(clause: list[str]) -> str | None:
    """The demonym right after the verb of the first sentence ("is a former swedish ..."), or None."""
    words = clause[1:] if clause[:1] and clause[0] in vocabulary.ARTICLES else clause
    window: list[str] = []
    for word in words[:_DEMONYM_WINDOW]:
        if word in vocabulary.DEMONYM_STOPS:
            break
        window.append(word)
    return nat.scan(" ".join(window), in_prose=True)


def nationality(fields: dict[str, list[str]], clause: list[str]) -> str:
    """The nationality by the precedence in the module docstring; "unknown" if no source names one."""
    return nationality_with_source(fields, clause)[0]


def nationality_with_source(fields: dict[str, list[str]], clause: list[str]) -> tuple[str, str | None]:
    """:func:`nationality` and the raw text it was read from (an infobox value or the first sentence's words);
    None for "unknown"."""
    for key in ("nationality", "citizenship"):
        for value in fields.get(key, []):
            found = nat.from_nationality(value)
            if found:
                return found, value
    found = demonym_from_clause(clause)
    if found:
        return found, " ".join(clause[:_DEMONYM_WINDOW + 1])
    for value in fields.get("country", []):
        found = nat.from_nationality(value)
        if found:
            return found, value
    for value in fields.get("birthplace", []):
        found = nat.from_place(value)
        if found:
            return found, value
    return nat.UNKNOWN, None


def _occupation_text(fields: dict[str, list[str]], clause: list[str]) -> str:
    values = [value for key in sorted(OCCUPATION_KEYS) for value in fields.get(key, [])]
    return nat.normalize(" ".join([*values, " ".join(clause)]))


def is_sportsperson(fields: dict[str, list[str]], occupation: str) -> bool:
    """Sports infobox keys, or a sportsperson word in the occupation text (see the module docstring)."""
    career = CAREER_KEYS & fields.keys()
    if SPORT_KEYS & fields.keys() or ("position" in career and len(career) >= 2) or len(career) >= 3:
        return True
    return bool(SPORT_WORDS & set(_WORD.findall(occupation)) or _SPORT_PHRASE.search(occupation))


def is_political_office(value: str) -> bool:
    """Whether an ``office`` value names a political office ("governor of texas": yes; "bishop of ely": no)."""
    text = nat.normalize(value)
    if _RELIGIOUS_OR_JUDICIAL.search(text):
        return False
    return bool(_STRONG_OFFICE.search(text) or (_AMBIGUOUS_OFFICE.search(text) and not _NOT_POLITICAL.search(text)))


def is_politician(fields: dict[str, list[str]], occupation: str) -> bool:
    """Political infobox keys, a political office, or a politician word (see the module docstring)."""
    if POLITICAL_KEYS & fields.keys():
        return True
    if any(is_political_office(value) for key in OFFICE_KEYS for value in fields.get(key, [])):
        return True
    return bool(_POLITICIAN_PHRASE.search(occupation))


def label_from_infobox(infobox: dict[str, str], text: str = "") -> Label:
    """The Label of one biography from its infobox, with its text's first sentence as a fallback source."""
    return label_and_source(infobox, text)[0]


def label_and_source(infobox: dict[str, str], text: str = "") -> tuple[Label, str | None]:
    """:func:`label_from_infobox` and the raw text its nationality was read from (None when "unknown")."""
    fields = _fields(infobox)
    paren, clause = lead(text)
    birth = parse_date(" ".join(fields.get("birthdate", [])[:1]))
    death = parse_date(" ".join(fields.get("deathdate", [])[:1]))
    if birth == Date() or death == Date():
        lead_birth, lead_death = dates_from_lead(paren)
        birth = birth if birth != Date() else lead_birth
        death = death if death != Date() else lead_death
    occupation = _occupation_text(fields, clause)
    demonym, source = nationality_with_source(fields, clause)
    return Label(
        nationality=demonym,
        date_of_birth=birth,
        date_of_death=death,
        sportsperson=is_sportsperson(fields, occupation),
        politician=is_politician(fields, occupation),
    ), source


def label_needles(needles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label corpus records ``{"id", "text", "infobox"}``; rows ``{"id", "label", "nationality_raw", "error"}``
    sorted by id (``nationality_raw``: the infobox value or first-sentence words the nationality was read from).

    A record without an infobox (absent, null or empty) gets ``label`` None and ``error`` "no infobox" (the
    caller counts those). Raises InputError for a record without a string id, a repeated id, or an infobox
    that is not an object.
    """
    rows: dict[str, dict[str, Any]] = {}
    for index, needle in enumerate(progress(needles, desc="infobox labels", unit="needle")):
        needle_id = needle.get("id")
        if not isinstance(needle_id, str):
            raise InputError(f"needle #{index}: missing or non-string 'id'")
        if needle_id in rows:
            raise InputError(f"needle #{index}: duplicate id {needle_id!r}")
        infobox = needle.get("infobox")
        if infobox is not None and not isinstance(infobox, dict):
            raise InputError(f"needle #{index} ({needle_id!r}): 'infobox' is {type(infobox).__name__}, not an object")
        if not infobox:
            rows[needle_id] = {"id": needle_id, "label": None, "nationality_raw": None, "error": "no infobox"}
            continue
        label, source = label_and_source(infobox, needle.get("text") or "")
        rows[needle_id] = {"id": needle_id, "label": label.model_dump(), "nationality_raw": source, "error": None}
    return [rows[needle_id] for needle_id in sorted(rows)]
