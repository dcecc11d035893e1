"""Parse the free-text dates of wiki_bio infoboxes and biography leads into a partial :class:`Date`.

Decisions (unknown parts are always 0):
- The first date written wins: ranges and alternatives ("1890 -- 1891", "1890/1891", "june 14 or 15 , 1890")
  give their first date, and a template leftover written twice ("( 1950-06-14 ) 14 june 1950 ( age 65 )")
  gives the same date either way. Age remarks ("( aged 80 )", "age 65") are ignored.
- Approximate dates count as written: "c. 1890", "circa 1890", "ca. 1890", "before 1890", "baptised 3 may 1701"
  (a baptism date stands in for the birth date).
- A decade or century ("1890s", "19th century") and a floruit ("fl. 1890") give no year: all parts 0.
- Years BC cannot be stored (the schema's years are 0..2100): any "bc"/"bce" makes the year 0, day and month
  stay. "ad"/"ce" years are ordinary years, and only with an era may a year have fewer than three digits.
- Numeric forms: "1950-06-14", "1950-06", "1950 06 14" (template leftovers are year month day),
  "14.06.1950" and "14/06/1950" (day first unless only month-first is valid).
- An impossible part is dropped: "31 february 1900" -> month 2, year 1900; a day without a month is dropped.
"""
from __future__ import annotations

import calendar
import re

from needlework.labels.schema import Date
from needlework.labels.vocabulary import (AGES, APPROXIMATE, DATE_FILLERS, DATE_MARKERS, DATE_TEMPLATE_FLAGS,
                                          DATE_TEMPLATES, DECADE_SUFFIXES, ERAS_AD, ERAS_AD_BEFORE_YEAR, ERAS_BC,
                                          FLORUIT, MONTHS, ORDINAL_SUFFIXES, undo_brackets, words_pattern)

_MAX_YEAR = 2100
_AGES = words_pattern(AGES, r"\s+")
_AGE = re.compile(rf"\(\s*(?:{_AGES})\b[^()]*\)"
                  rf"|\b(?:{_AGES})\s+(?:(?:{words_pattern(APPROXIMATE)})\s*\.?\s*)?\d{{1,3}}\b(?!\s*\d)")
_TEMPLATE_WORDS = re.compile(rf"\b(?:{words_pattern(DATE_TEMPLATES, '[ _]')})\b"
                             rf"|\b(?:{words_pattern(DATE_TEMPLATE_FLAGS)})\s*=\s*\w+")


def _era(words: tuple[str, ...]) -> str:
    """An alternation of era abbreviations written with or without dots and spaces: "bc" -> "b.c.", "b. c"."""
    dotted = r"\s*\.?\s*"
    return "|".join(dotted.join(map(re.escape, word)) + r"\s*\.?" for word in sorted(words, key=lambda w: -len(w)))


# Eras right after a number ("44 bc", "44 b.c.e.", "79 a.d.", "79 ce") or right before one ("ad 79").
_BC = re.compile(rf"(?<=\d)\s*(?:{_era(ERAS_BC)})(?![a-z])")
_BC_WORD, _AD_WORD = "beforechrist", "annodomini"  # what _clean writes for them (no real word is either)
_AD = re.compile(rf"(?<=\d)\s*(?:{_era(ERAS_AD)})(?![a-z])|\b(?:{_era(ERAS_AD_BEFORE_YEAR)})(?=\s*\d)")
_TOKEN = re.compile(
    r"(?P<iso>\d{3,4}-\d{1,2}-\d{1,2})(?!\d)"
    r"|(?P<ym>\d{4}-\d{2})(?![\d-])"
    r"|(?P<dmy>\d{1,2}[./]\d{1,2}[./]\d{4})(?!\d)"
    rf"|(?P<num>\d+)(?P<suffix>{words_pattern(ORDINAL_SUFFIXES + DECADE_SUFFIXES)})?\b"
    r"|(?P<word>[a-z]+|\?)"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) tokens: kind is iso, ym, dmy, num, ord ("3rd"), decade ("1890s") or word."""
    out: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        if match.group("num") is None:
            out.append((match.lastgroup or "word", match.group(0)))
            continue
        suffix = match.group("suffix")
        out.append(("num" if suffix is None else "decade" if suffix in DECADE_SUFFIXES else "ord", match.group("num")))
    return out


def _clean(value: str) -> str:
    """Lowercase text with brackets as ( ), template words and ages removed, dashes as " -- "."""
    text = undo_brackets(value.lower(), pad=" ")
    text = re.sub(r"[{}\[\]|_=]", " ", _TEMPLATE_WORDS.sub(" ", text))
    text = re.sub(r"\s*[\u2013\u2014]\s*", " -- ", text)
    text = _AGE.sub(" ", " ".join(text.split()))
    return _AD.sub(f" {_AD_WORD} ", _BC.sub(f" {_BC_WORD} ", text))


def _valid(day: int, month: int, year: int) -> Date:
    """A Date with every impossible part set to 0."""
    year = year if 0 < year <= _MAX_YEAR else 0
    if not 1 <= month <= 12:
        return Date(year=year)
    last_day = calendar.monthrange(year or 2000, month)[1]  # an unknown year allows 29 february
    return Date(day=day if 1 <= day <= last_day else 0, month=month, year=year)


class _Scanner:
    """Finds the first date in a token list; each ``at_*`` method returns a date or None."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens

    def kind(self, i: int) -> str:
        return self.tokens[i][0] if 0 <= i < len(self.tokens) else ""

    def text(self, i: int) -> str:
        return self.tokens[i][1] if 0 <= i < len(self.tokens) else ""

    def number(self, i: int, kinds: tuple[str, ...] = ("num",)) -> int | None:
        return int(self.text(i)) if self.kind(i) in kinds else None

    def month(self, i: int) -> int | None:
        return MONTHS.get(self.text(i)) if self.kind(i) == "word" else None

    def day(self, i: int) -> int | None:
        value = self.number(i, ("num", "ord"))
        return value if value is not None and len(self.text(i)) <= 2 and 1 <= value <= 31 else None

    def year(self, i: int) -> int | None:
        """A year token: three or four digits, or any number with an era word next to it."""
        value = self.number(i)
        if value is None or self.kind(i + 1) == "word" and self.text(i + 1) == "s":  # "1890 's"
            return None
        era = self.text(i + 1) in (_BC_WORD, _AD_WORD) or self.text(i - 1) == _AD_WORD
        return value if 3 <= len(self.text(i)) <= 4 or era else None

    def skip(self, i: int) -> int:
        """Index of the next token that is not a filler word ("of", "c.") or a range's second day."""
        while self.kind(i) == "word" and self.text(i) in DATE_FILLERS:
            i += 1
        return i

    def first(self) -> Date | None:
        for i in range(len(self.tokens)):
            found = self.at_numeric(i) or self.at_day_month(i) or self.at_month(i) or self.at_year(i)
            if found:
                return found
        return None

    def at_numeric(self, i: int) -> Date | None:
        kind, text = self.tokens[i]
        if kind == "iso":
            year, month, day = (int(part) for part in text.split("-"))
            return _valid(day, month, year)
        if kind == "ym":
            year, month = (int(part) for part in text.split("-"))
            return _valid(0, month, year)
        if kind == "dmy":
            first, second, year = (int(part) for part in re.split(r"[./]", text))
            day, month = (second, first) if second > 12 >= first else (first, second)
            return _valid(day, month, year)
        year, month, day = self.year(i), self.number(i + 1), self.number(i + 2)
        if year and month and day and 1 <= month <= 12 and len(self.text(i + 2)) <= 2:  # "1950 06 14"
            return _valid(day, month, year)
        month = self.month(i + 1)
        if year and month:  # "1950 june 14"
            return _valid(self.day(i + 2) or 0, month, year)
        return None

    def at_day_month(self, i: int) -> Date | None:
        """ "14 june 1995", "3rd of june", "14 -- 15 june 1890"."""
        day = self.day(i)
        if day is None:
            return None
        j = self.skip(i + 1)
        if self.day(j) is not None and self.month(self.skip(j + 1)):  # the second day of a range
            j = self.skip(j + 1)
        month = self.month(j)
        if month is None:
            return None
        k = self.skip(j + 1)
        return _valid(day, month, self.year(k) or 0)

    def at_month(self, i: int) -> Date | None:
        """ "june 14 , 1995", "june 14 or 15 , 1890", "june 1995", "june 14"."""
        month = self.month(i)
        if month is None:
            return None
        j = self.skip(i + 1)
        year = self.year(j)
        if year:
            return _valid(0, month, year)
        day = self.day(j)
        if day is None:
            return _valid(0, month, 0)
        k = self.skip(j + 1)
        if self.day(k) is not None and self.year(self.skip(k + 1)):  # "june 14 or 15 , 1890"
            k = self.skip(k + 1)
        return _valid(day, month, self.year(k) or 0)

    def at_year(self, i: int) -> Date | None:
        year = self.year(i)
        return _valid(0, 0, year) if year else None


def parse_date(value: str | None) -> Date:
    """The first date in a free-text value as a partial Date (see the module docstring); zeros if none."""
    if not value:
        return Date()
    tokens = _tokens(_clean(value))
    bc = ("word", _BC_WORD) in tokens
    words = [t for kind, t in tokens if kind == "word" and t not in APPROXIMATE | DATE_MARKERS]
    if words and words[0] in FLORUIT:
        return Date()
    found = _Scanner(tokens).first() or Date()
    return found.model_copy(update={"year": 0}) if bc else found
