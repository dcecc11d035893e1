"""Judge-free scoring: a prediction scores the fraction of the nine label leaves it gets right.

Comparison rules, leaf by leaf (the label side is a validated :class:`~needlework.labels.schema.Label`):

- ``nationality``: strings compared case-insensitively after stripping whitespace; a non-string is wrong.
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
from needlework.labels.schema import LEAF_FIELDS, flatten

FIELDS: tuple[str, ...] = tuple(dict.fromkeys(leaf.split(".")[0] for leaf in LEAF_FIELDS))
"""Top-level label fields, in schema order: one ``acc_<field>`` column each."""

CELL_COLUMNS: tuple[str, ...] = (
    "model", "context_length", "depth", "n", "accuracy", "ci_low", "ci_high", "parse_failures",
    *(f"acc_{field}" for field in FIELDS),
)
"""The cells.csv contract, in column order."""

_DIGITS = re.compile(r"\s*[+-]?\d+\s*")


def _as_text(value: Any) -> str | None:
    return value.strip().casefold() if isinstance(value, str) else None


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
    leaf: _as_text if leaf == "nationality" else _as_bool if leaf in ("sportsperson", "politician") else _as_int
    for leaf in LEAF_FIELDS
}


def score(label: dict[str, Any], pred: dict[str, Any] | None) -> dict[str, Any]:
    """Score one parsed prediction against its label.

    Returns ``{"score": fraction of leaves right, "parse_failure": bool, "correct": {leaf: bool},
    "differing": [leaves that are wrong, in schema order]}``; ``pred=None`` means unparseable.
    """
    truth = flatten(label)
    guess = flatten(pred) if isinstance(pred, dict) else {}
    correct = {}
    for leaf in LEAF_FIELDS:
        normalize = _NORMALIZE[leaf]
        expected = normalize(truth[leaf])
        correct[leaf] = expected is not None and normalize(guess.get(leaf)) == expected
    return {
        "score": sum(correct.values()) / len(LEAF_FIELDS),
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


def score_prediction(prediction: dict[str, Any]) -> dict[str, Any]:
    """:func:`score` for one Predictions-file record (``label`` is the label's JSON string)."""
    try:
        label = json.loads(prediction["label"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"prediction {prediction.get('id')!r}: label is not a JSON string ({exc})") from None
    return score(label, parse_answer(prediction.get("answer")))


def cells(predictions: list[dict[str, Any]], model_name: str) -> pd.DataFrame:
    """Per (context_length, depth) cell: n, mean accuracy, Wilson 95% interval, parse failures, per-field accuracy.

    Rows are sorted by context_length then depth; the result does not depend on the order of ``predictions``.
    """
    rows = []
    for prediction in sorted(predictions, key=lambda p: p["id"]):
        result = score_prediction(prediction)
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
    # clamp: a mean of fractions can land a few ulps outside [0, n] once multiplied back
    intervals = [wilson(min(max(acc * n, 0.0), n), n) for acc, n in zip(table["accuracy"], table["n"])]
    table["ci_low"] = [low for low, _ in intervals]
    table["ci_high"] = [high for _, high in intervals]
    table["model"] = model_name
    return table[list(CELL_COLUMNS)]


def write_cells(df: pd.DataFrame, path: str | Path) -> None:
    """Write a cells table as CSV atomically, floats with 6 decimals, so identical inputs give identical bytes."""
    with atomic_open(path) as fh:
        df.to_csv(fh, index=False, float_format="%.6f", lineterminator="\n")
