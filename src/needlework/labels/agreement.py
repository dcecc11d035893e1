"""How often two labelers (e.g. the infobox parser and an LLM) give the same label, field by field.

Only needles that both labelers labeled without error count (``n``). Nationalities are compared as canonical
demonyms (:func:`needlework.labels.nationality.canonical`: "usa" and "American" agree), everything else exactly. Rows of :func:`agreement_table`:
one per leaf field (``level`` "leaf", the nine of :data:`LEAF_FIELDS`), one per top-level field (``level``
"field": a date agrees only when day, month and year all agree), and one for the whole label (``level``
"label", field "label": all nine leaves agree). With no needle in common, ``agreement`` is NaN.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
from pydantic import ValidationError

from needlework.io import InputError, atomic_open
from needlework.labels.nationality import canonical
from needlework.labels.schema import LEAF_FIELDS, Label, flatten

TOP_FIELDS: tuple[str, ...] = tuple(Label.model_fields)
AGREEMENT_COLUMNS = ["level", "field", "labeler_a", "labeler_b", "n", "agree", "agreement"]
DISAGREEMENT_COLUMNS = ["field", "id", "labeler_a", "a", "labeler_b", "b"]


def _labels_by_id(rows: list[dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    """id -> label dict of the rows without error; InputError for a row without id, a repeat, a bad label."""
    seen: set[str] = set()
    out: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        row_id = row.get("id")
        if not isinstance(row_id, str):
            raise InputError(f"labels {name!r}, row #{index}: missing or non-string 'id'")
        if row_id in seen:
            raise InputError(f"labels {name!r}, row #{index}: duplicate id {row_id!r}")
        seen.add(row_id)
        if row.get("error") is not None or row.get("label") is None:
            continue
        try:
            out[row_id] = Label.model_validate(row["label"]).model_dump()
        except ValidationError as exc:
            raise InputError(f"labels {name!r}, id {row_id!r}: invalid label ({exc.errors()[0]['msg']})") from None
    return out


def _key(field: str, value: Any) -> Any:
    """What two values are compared by: nationality as its canonical demonym, anything else as is."""
    return canonical(value) if field == "nationality" else value


def _common(labels_a: list[dict], labels_b: list[dict], name_a: str, name_b: str) -> list[tuple[str, dict, dict]]:
    a, b = _labels_by_id(labels_a, name_a), _labels_by_id(labels_b, name_b)
    return [(needle_id, a[needle_id], b[needle_id]) for needle_id in sorted(a.keys() & b.keys())]


def _comparisons() -> list[tuple[str, str, Callable[[dict, dict], bool]]]:
    """(level, field, agrees(label_a, label_b)) for every row of the agreement table."""
    out: list[tuple[str, str, Callable[[dict, dict], bool]]] = []
    for leaf in LEAF_FIELDS:
        out.append(("leaf", leaf, lambda x, y, f=leaf: _key(f, flatten(x)[f]) == _key(f, flatten(y)[f])))
    for field in TOP_FIELDS:
        out.append(("field", field, lambda x, y, f=field: _key(f, x[f]) == _key(f, y[f])))
    out.append(("label", "label", lambda x, y: all(_key(f, x[f]) == _key(f, y[f]) for f in TOP_FIELDS)))
    return out


def agreement_table(labels_a: list[dict], labels_b: list[dict], name_a: str, name_b: str) -> pd.DataFrame:
    """Per-field agreement of two labels lists (rows ``{"id", "label", "error"?}``); columns AGREEMENT_COLUMNS."""
    common = _common(labels_a, labels_b, name_a, name_b)
    rows = []
    for level, field, agrees in _comparisons():
        agree = sum(agrees(a, b) for _, a, b in common)
        n = len(common)
        rows.append([level, field, name_a, name_b, n, agree, agree / n if n else float("nan")])
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _show(value: Any) -> str:
    """A field value for a person to read: dates as YYYY-MM-DD (0 parts kept), booleans lowercase."""
    if isinstance(value, dict):
        return f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def disagreements(
    labels_a: list[dict], labels_b: list[dict], name_a: str, name_b: str, per_field: int = 3
) -> pd.DataFrame:
    """Up to ``per_field`` example disagreements per top-level field (first ids in sorted order).

    Columns DISAGREEMENT_COLUMNS; ``a`` and ``b`` are the two values as text ("1995-06-14", "true").
    """
    common = _common(labels_a, labels_b, name_a, name_b)
    rows = []
    for field in TOP_FIELDS:
        examples = [(i, a[field], b[field]) for i, a, b in common if _key(field, a[field]) != _key(field, b[field])]
        for needle_id, value_a, value_b in examples[:per_field]:
            rows.append([field, needle_id, name_a, _show(value_a), name_b, _show(value_b)])
    return pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS)


def write_agreement(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write an agreement (or disagreements) table as CSV atomically (no index, "\\n" line ends)."""
    with atomic_open(path) as fh:
        df.to_csv(fh, index=False, lineterminator="\n")
