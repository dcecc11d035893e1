"""Judge-free scoring of an answer against its label, in one of two modes (``eval.scoring``):

- ``leaves`` (default, strict): the answer is parsed tolerantly (:func:`needlework.evaluate.parse.parse_answer`:
  fences, chatter, Python reprs) and scores the fraction of the nine label leaves it gets right, by the rules
  below.
- ``published``: the published benchmark's own parse and formula, reproduced in
  :mod:`needlework.evaluate.published` (the raw answer as a Python literal; exact values;
  ``(|A| - |A ^ L| / 2) / |A|`` over (path, value) pairs).

Comparison rules of ``leaves``, leaf by leaf (the label side is a validated
:class:`~needlework.labels.schema.Label`):

- ``nationality``: the label mapped by :func:`needlework.labels.nationality.canonical`; the answer must name
  exactly one nationality and nothing else (:func:`strict_nationality`): "USA", "United States", "American" and
  "U.S. American" are all "american", but a negation ("Not American"), a list ("American, Canadian") or an
  alternative ("American or Canadian") is wrong, so hedging cannot collect the point. An unrecognised string
  matches only itself (stripped, case-folded); a non-string is wrong.
- date parts (day, month, year): compared as integers. A predicted int, an integral float (``1995.0``) or a
  string of digits (``"1995"``, ``" 07 "``) is coerced; anything else (``"c. 1995"``, ``"march"``, a boolean,
  null) is wrong.
- ``sportsperson`` / ``politician``: a predicted boolean, or the string ``"true"`` / ``"false"`` in any case;
  anything else (``1``, ``"yes"``, null) is wrong.

A missing leaf is wrong. An unparseable answer (including a backend error, which has no answer) scores 0 and
counts as a parse failure. The per-leaf ``acc_<field>`` columns follow the mode: its parse, and in ``published``
mode a leaf is right when the answer holds exactly the label's (path, value) pair. Per cell, accuracy is the
mean score and its interval treats the needle as the unit (:mod:`needlework.evaluate.intervals`).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from needlework.evaluate.intervals import encode_ids, needle_interval
from needlework.evaluate.parse import parse_answer
from needlework.evaluate.published import parse_published, published_correct, published_score
from needlework.io import InputError, atomic_open
from needlework.labels.nationality import UNKNOWN, canonical, lookup, normalize
from needlework.labels.schema import LEAF_FIELDS, flatten

SCORINGS: tuple[str, ...] = ("leaves", "published")
"""The values of ``eval.scoring``."""

FIELDS: tuple[str, ...] = tuple(dict.fromkeys(leaf.split(".")[0] for leaf in LEAF_FIELDS))
"""Top-level label fields, in schema order: one ``acc_<field>`` column each."""

CELL_COLUMNS: tuple[str, ...] = (
    "model", "context_length", "depth", "n", "accuracy", "ci_low", "ci_high", "parse_failures",
    *(f"acc_{field}" for field in FIELDS), "n_needles", "needle_ids",
)
"""The cells.csv columns, in order: the contract's eight, one ``acc_<field>`` per label field, then the cell's
distinct needles (``n_needles`` and ``needle_ids``, a JSON list) that its interval counts as its sample size."""

_DIGITS = re.compile(r"\s*[+-]?\d+\s*")
_MAX_PHRASE = 6  # words in the longest country name or demonym ("saint vincent and the grenadines")


def strict_nationality(value: Any) -> str | None:
    """The one nationality an answer names, as a canonical demonym, or a string no label equals.

    The whole answer must be made of country names and demonyms of a single country ("USA", "the United
    States", "U.S. American" -> "american"; "unknown", "n/a" -> "unknown"). Anything else comes back stripped
    and case-folded, so it matches only an identical unrecognised label: "not american", "american, canadian" and
    "american or canadian" match no demonym. None for a non-string.
    """
    if not isinstance(value, str):
        return None
    if canonical(value) == UNKNOWN:
        return UNKNOWN
    words, named, i = normalize(value).split(), set(), 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            demonym = lookup(" ".join(words[i : i + size]))
            if demonym:
                named.add(demonym)
                i += size
                break
        else:
            break  # a word that names no country: a negation, a conjunction, a remark
    if i == len(words) and len(named) == 1:
        return named.pop()
    return " ".join(value.split()).casefold()


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().casefold())
    return None


def _label_nationality(value: Any) -> str | None:
    return canonical(value) if isinstance(value, str) else None


# leaf -> (normalise the label's value, normalise the answer's value); None means wrong
_NORMALIZE: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    leaf: (_label_nationality, strict_nationality) if leaf == "nationality"
    else (_as_bool, _as_bool) if leaf in ("sportsperson", "politician") else (_as_int, _as_int)
    for leaf in LEAF_FIELDS
}


def _leaves_correct(label: dict[str, Any], pred: dict[str, Any] | None) -> dict[str, bool]:
    truth = flatten(label)
    guess = flatten(pred) if isinstance(pred, dict) else {}
    correct = {}
    for leaf in LEAF_FIELDS:
        of_label, of_answer = _NORMALIZE[leaf]
        expected = of_label(truth[leaf])
        correct[leaf] = expected is not None and of_answer(guess.get(leaf)) == expected
    return correct


def score(label: dict[str, Any], pred: dict[str, Any] | None, scoring: str = "leaves") -> dict[str, Any]:
    """Score one parsed answer against its label, by ``scoring`` (one of :data:`SCORINGS`).

    ``pred`` is what the mode's parse made of the answer (:func:`parse_for`); None means unparseable (score 0).
    Returns ``{"score": the mode's score, "parse_failure": bool, "correct": {leaf: bool},
    "differing": [leaves that are wrong, in schema order]}``.
    """
    if scoring not in SCORINGS:
        raise ValueError(f"config key eval.scoring: {scoring!r} is not one of {', '.join(SCORINGS)}")
    if scoring == "published":
        correct = published_correct(label, pred, LEAF_FIELDS)
        value = published_score(label, pred) if isinstance(pred, dict) else 0.0
    else:
        correct = _leaves_correct(label, pred)
        value = sum(correct.values()) / len(LEAF_FIELDS)
    return {
        "score": value,
        "parse_failure": not isinstance(pred, dict),
        "correct": correct,
        "differing": [leaf for leaf, ok in correct.items() if not ok],
    }


def parse_for(scoring: str) -> Callable[[str | None], dict[str, Any] | None]:
    """The parse of a scoring mode: tolerant for ``leaves``, the published benchmark's for ``published``."""
    return parse_published if scoring == "published" else parse_answer


def score_prediction(prediction: dict[str, Any], scoring: str) -> dict[str, Any]:
    """:func:`score` for one Predictions-file record (``label`` is the label's JSON string)."""
    try:
        label = json.loads(prediction["label"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"prediction {prediction.get('id')!r}: label is not a JSON string ({exc})") from None
    return score(label, parse_for(scoring)(prediction.get("answer")), scoring)


def cells(predictions: list[dict[str, Any]], model_name: str, scoring: str) -> pd.DataFrame:
    """Per (context_length, depth) cell: n, mean accuracy, its 95% interval over needles, parse failures,
    per-field accuracy, the cell's distinct needles (:data:`CELL_COLUMNS`).

    ``accuracy`` is the mean score of ``scoring`` (:data:`SCORINGS`). The interval is a Wilson interval on
    per-needle means with the cell's distinct needles as its n
    (:func:`~needlework.evaluate.intervals.needle_interval`). Rows are sorted by context_length then depth; the
    result does not depend on the order of ``predictions``.
    """
    rows = []
    for prediction in sorted(predictions, key=lambda p: p["id"]):
        result = score_prediction(prediction, scoring)
        row = {
            "context_length": prediction["context_length"],
            "depth": prediction["depth"],
            "needle_id": str(prediction["needle_id"]),
            "score": result["score"],
            "parse_failure": int(result["parse_failure"]),
        }
        for field in FIELDS:
            leaves = [ok for leaf, ok in result["correct"].items() if leaf.split(".")[0] == field]
            row[f"acc_{field}"] = sum(leaves) / len(leaves)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=list(CELL_COLUMNS))
    per_example = pd.DataFrame(rows)
    grouped = per_example.groupby(["context_length", "depth"], sort=True)
    table = grouped.agg(
        n=("score", "size"),
        accuracy=("score", "mean"),
        parse_failures=("parse_failure", "sum"),
        n_needles=("needle_id", "nunique"),
        needle_ids=("needle_id", encode_ids),
        **{f"acc_{field}": (f"acc_{field}", "mean") for field in FIELDS},
    ).reset_index()
    intervals = [needle_interval(acc, k) for acc, k in zip(table["accuracy"], table["n_needles"])]
    table["ci_low"] = [low for low, _ in intervals]
    table["ci_high"] = [high for _, high in intervals]
    table["model"] = model_name
    return table[list(CELL_COLUMNS)]


def write_cells(df: pd.DataFrame, path: str | Path) -> None:
    """Write a cells table as CSV atomically, floats with 6 decimals, so identical inputs give identical bytes."""
    with atomic_open(path) as fh:
        df.to_csv(fh, index=False, float_format="%.6f", lineterminator="\n")
