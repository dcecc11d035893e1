"""Read biographies from any local JSONL or Parquet file, e.g. the published benchmark's ``{name, bio, json}``.

Each row becomes ``{"id": "<file stem>-<row>", "name", "text"}`` (row 0-based), plus ``"label"`` when a label
field is named: a dict or a JSON string (the published files keep the label as a JSON string in ``json``),
validated against :class:`needlework.labels.schema.Label` and stored as a plain dict. A missing field, an
empty name or text, or a label that is not a JSON object raises :class:`~needlework.io.InputError` naming
``file:line``. A label that is a JSON object but not a valid label (an out-of-range day such as the published
training file's ``"day": 200``, month 13, a non-boolean flag, an unknown key) is a bad record: with a
:class:`~needlework.corpus.rejects.Rejects` list it is dropped and listed there (``invalid_label``), else it
raises like malformed input.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from needlework.corpus.rejects import Rejects
from needlework.io import InputError, read_records
from needlework.labels.schema import Label

INVALID_LABEL = "invalid_label"


class InvalidLabel(InputError):
    """A label that is a JSON object but breaks the label schema (``problems`` says how)."""

    def __init__(self, where: str, field: str, problems: str):
        super().__init__(f"{where}: field {field!r} is not a valid label ({problems})")
        self.problems = problems


def _text_field(row: dict, field: str, where: str) -> str:
    if field not in row:
        raise InputError(f"{where}: missing field {field!r}")
    value = row[field]
    if not isinstance(value, str):
        raise InputError(f"{where}: field {field!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InputError(f"{where}: field {field!r} is empty")
    return value.strip()


def parse_label(value: object, where: str, field: str) -> dict:
    """A label given as a dict or a JSON string -> a validated label dict; errors name ``where`` and ``field``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: field {field!r} is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InputError(f"{where}: field {field!r} must be a JSON object, got {type(value).__name__}")
    try:
        return Label.model_validate(value, strict=True).model_dump()  # "yes" or 1 is no boolean, "3" no day
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                             for err in exc.errors())
        raise InvalidLabel(where, field, problems) from None


def rows(path: str, name_field: str, text_field: str, label_field: str | None = None, limit: int | None = None,
         rejects: Rejects | None = None) -> Iterator[tuple[str, dict]]:
    """Yield ``("file:line", record)`` from ``path`` (JSONL or Parquet), at most ``limit`` rows read; with
    ``rejects``, rows with an invalid label are listed there and skipped (their ids are not reused)."""
    if limit is not None and limit < 0:
        raise InputError(f"data.limit must be >= 0 or null, got {limit}")
    stem = Path(path).stem
    for row_index, (line, row) in enumerate(itertools.islice(read_records(path), limit)):
        where = f"{path}:{line}"
        record = {"id": f"{stem}-{row_index}", "name": _text_field(row, name_field, where),
                  "text": _text_field(row, text_field, where)}
        if label_field is not None:
            if label_field not in row:
                raise InputError(f"{where}: missing field {label_field!r}")
            try:
                record["label"] = parse_label(row[label_field], where, label_field)
            except InvalidLabel as exc:
                if rejects is None:
                    raise
                rejects.add(INVALID_LABEL, record["id"], where, problems=exc.problems)
                continue
        yield where, record


def load(path: str, name_field: str, text_field: str, label_field: str | None = None,
         limit: int | None = None) -> Iterator[dict]:
    """Yield corpus records from ``path`` (JSONL or Parquet), at most ``limit`` of them; any bad row raises."""
    for _, record in rows(path, name_field, text_field, label_field, limit):
        yield record
