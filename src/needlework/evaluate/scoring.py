"""Judge-free scoring of a prediction against its label, in one of two modes (``eval.scoring``):

- ``leaves`` (default): the fraction of the nine label leaves the prediction gets right, by the rules below.
- ``published``: the published benchmark's formula. Answer and label are flattened to sets of
  ``(path, value)`` pairs (every leaf the answer holds, extra keys included) and
  ``score = (|answer pairs| - |answer pairs ^ label pairs| / 2) / |answer pairs|``: it divides by the
  answer's own leaf count, so a missing leaf costs less than per leaf ((8 - 0.5) / 8 for 8 right of 9) and an
  extra leaf costs a little ((10 - 0.5) / 10), and an answer of few wrong leaves can score below 0. Values
  compare as Python values (``1995 != "1995"``), except nationality, which both modes canonicalise. An answer
  with no leaves scores 0.

Comparison rules of ``leaves``, leaf by leaf (the label side is a validated
:class:`~needlework.labels.schema.Label`); the ``acc_<field>`` columns use them in both modes:

- ``nationality``: both sides mapped to the one demonym vocabulary of
  :func:`needlework.labels.nationality.canonical` ("USA", "united states", "American" are all "american";
  unrecognised strings compare stripped and case-folded); a non-string is wrong.
- date parts (day, month, year): compared as integers. A predicted int, an integral float (``1995.0``) or a
  string of digits (``"1995"``, ``" 07 "``) is coerced; anything else (``"c. 1995"``, ``"march"``, a boolean,
  null) is wrong.
- ``sportsperson`` / ``politician``: a predicted boolean, or the string ``"true"`` / ``"false"`` in any case;
  anything else (``1``, ``"yes"``, null) is wrong.

A missing leaf is wrong. An unparseable answer (including a backend error, which has no answer) scores 0 and
counts as a parse failure. Per cell, accuracy is the mean score and its 95% Wilson interval is computed on
``accuracy * n`` successes out of ``n``.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from needlework.evaluate.parse import parse_answer
from needlework.io import InputError, atomic_open
from needlework.labels.nationality import canonical
from needlework.labels.schema import LEAF_FIELDS, flatten

SCORINGS: tuple[str, ...] = ("leaves", "published")
"""The values of ``eval.scoring``."""

FIELDS: tuple[str, ...] = tuple(dict.fromkeys(leaf.split(".")[0] for leaf in LEAF_FIELDS))
"""Top-level label fields, in schema order: one ``acc_<field>`` column each."""

CELL_COLUMNS: tuple[str, ...] = (
    "model", "context_length", "depth", "n", "accuracy", "ci_low", "ci_high", "parse_failures",
    *(f"acc_{field}" for field in FIELDS),
)
"""The cells.csv contract, in column order."""

_DIGITS = re.compile(r"\s*[+-]?\d+\s*")


def _as_nationality(value: Any) -> str | None:
    return canonical(value) if isinstance(value, str) else None


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


_NORMALIZE: dict[str, Callable[[Any], Any]] = {
    leaf: _as_nationality if leaf == "nationality" else _as_bool if leaf in ("sportsperson", "politician") else _as_int
    for leaf in LEAF_FIELDS
}


def _pairs(value: Any, path: str = "") -> set[tuple[str, Any]]:
    """A JSON value as a set of ``(dotted path, leaf value)`` pairs; a nationality leaf canonicalised, a
    list leaf as its JSON text (so it can be a set member)."""
    if isinstance(value, dict):
        return {pair for key, sub in value.items() for pair in _pairs(sub, f"{path}.{key}" if path else str(key))}
    if path == "nationality" and isinstance(value, str):
        return {(path, canonical(value))}
    if isinstance(value, list):
        return {(path, json.dumps(value, sort_keys=True))}
    return {(path, value)}


def published_score(label: dict[str, Any], pred: dict[str, Any]) -> float:
    """The published benchmark's score of a parsed answer: (|A| - |A ^ L| / 2) / |A| over (path, value) pairs;
    0 for an answer without leaves."""
    answer, truth = _pairs(pred), _pairs(label)
    if not answer:
        return 0.0
    return (len(answer) - len(answer ^ truth) / 2) / len(answer)


def score(label: dict[str, Any], pred: dict[str, Any] | None, scoring: str = "leaves") -> dict[str, Any]:
    """Score one parsed prediction against its label, by ``scoring`` (one of :data:`SCORINGS`).

    Returns ``{"score": the mode's score, "parse_failure": bool, "correct": {leaf: bool},
    "differing": [leaves that are wrong, in schema order]}``; ``pred=None`` means unparseable (score 0).
    """
    if scoring not in SCORINGS:
        raise ValueError(f"config key eval.scoring: {scoring!r} is not one of {', '.join(SCORINGS)}")
    truth = flatten(label)
    guess = flatten(pred) if isinstance(pred, dict) else {}
    correct = {}
    for leaf in LEAF_FIELDS:
        normalize = _NORMALIZE[leaf]
        expected = normalize(truth[leaf])
        correct[leaf] = expected is not None and normalize(guess.get(leaf)) == expected
    if scoring == "published":
        value = published_score(label, pred) if isinstance(pred, dict) else 0.0
    else:
        value = sum(correct.values()) / len(LEAF_FIELDS)
    return {
        "score": value,
        "parse_failure": not isinstance(pred, dict),
        "correct": correct,
        "differing": [leaf for leaf, ok in correct.items() if not ok],
    }


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (successes may be fractional: mean score * n)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson needs 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def score_prediction(prediction: dict[str, Any], scoring: str) -> dict[str, Any]:
    """:func:`score` for one Predictions-file record (``label`` is the label's JSON string)."""
    try:
        label = json.loads(prediction["label"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"prediction {prediction.get('id')!r}: label is not a JSON string ({exc})") from None
    return score(label, parse_answer(prediction.get("answer")), scoring)


def cells(predictions: list[dict[str, Any]], model_name: str, scoring: str) -> pd.DataFrame:
    """Per (context_length, depth) cell: n, mean accuracy, Wilson 95% interval, parse failures, per-field accuracy.

    ``accuracy`` is the mean score of ``scoring`` (:data:`SCORINGS`); ``acc_<field>`` are per leaf in both modes.

    Rows are sorted by context_length then depth; the result does not depend on the order of ``predictions``.
    """
    rows = []
    for prediction in sorted(predictions, key=lambda p: p["id"]):
        result = score_prediction(prediction, scoring)
        row = {
            "context_length": prediction["context_length"],
            "depth": prediction["depth"],
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
        **{f"acc_{field}": (f"acc_{field}", "mean") for field in FIELDS},
    ).reset_index()
    # clamp: a mean of fractions can land a few ulps outside [0, n] once multiplied back, and a published
    # score can be negative
    intervals = [wilson(min(max(acc * n, 0.0), n), n) for acc, n in zip(table["accuracy"], table["n"])]
    table["ci_low"] = [low for low, _ in intervals]
    table["ci_high"] = [high for _, high in intervals]
    table["model"] = model_name
    return table[list(CELL_COLUMNS)]


def write_cells(df: pd.DataFrame, path: str | Path) -> None:
    """Write a cells table as CSV atomically, floats with 6 decimals, so identical inputs give identical bytes."""
    with atomic_open(path) as fh:
        df.to_csv(fh, index=False, float_format="%.6f", lineterminator="\n")
