"""Accuracy intervals with the needle as the unit of sampling.

The evaluation grid asks about the same needles in every cell: 11 depths x 10 needles at one length are 110
prompts but only 10 independent draws of a biography, and an answer right at one depth is usually right at the
others. An interval that counted the 110 prompts as independent would be about sqrt(11) times too narrow.

Method: a 95% Wilson interval on the per-needle mean scores. ``n`` is the number of distinct needles in the
group (``n_needles``) and the successes are the group's mean score times that number. The grid gives every needle
of a group the same number of prompts, so the group's mean score is the mean of its per-needle means. A Wilson
interval is used rather than a bootstrap over needles because it is deterministic, exact for one needle, and stays
honest at accuracy 0 or 1, where a bootstrap over ten needles collapses to a zero-width interval.

A cells table carries, per cell, its distinct needles (``needle_ids``, a JSON list), so that any group of cells
(all depths of one length, a whole model) counts each needle once: :func:`aggregate`.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from needlework.io import InputError

Z95 = 1.96


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (successes may be fractional: mean score * n)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson needs 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def needle_interval(accuracy: float, n_needles: int) -> tuple[float, float]:
    """The 95% interval of a mean score over ``n_needles`` distinct needles (Wilson on per-needle means).

    ``accuracy`` is clamped to [0, 1] first: a published score can be negative, and a mean of fractions read
    back from CSV can sit a few ulps outside."""
    if n_needles < 1:
        return math.nan, math.nan
    return wilson(min(max(float(accuracy), 0.0), 1.0) * n_needles, n_needles)


def encode_ids(ids: Iterable[object]) -> str:
    """Distinct needle ids as the ``needle_ids`` column's text: a sorted JSON list of strings."""
    return json.dumps(sorted({str(i) for i in ids}))


def decode_ids(text: str, where: str = "cells") -> list[str]:
    """The ids of a ``needle_ids`` value (:func:`encode_ids`)."""
    try:
        ids = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        ids = None
    if not isinstance(ids, list):
        raise InputError(f"{where}: needle_ids {text!r} is not a JSON list of needle ids")
    return [str(i) for i in ids]


def aggregate(cells: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Accuracy per group of ``by`` with needle-level intervals.

    Returns ``by`` + ``n, n_needles, accuracy, ci_low, ci_high, parse_failures`` + the ``acc_<field>`` columns:
    ``n`` and ``parse_failures`` are summed, accuracies are n-weighted means, ``n_needles`` counts each needle of
    the group once (the union of its cells' ``needle_ids``), and the interval is :func:`needle_interval`.
    Groups keep the order in which they first appear in ``cells`` (``by=[]`` gives one row for everything).
    ``parse_failures`` is 0 where ``cells`` has no such column.
    """
    missing = [c for c in ("n", "accuracy", "needle_ids", *by) if c not in cells.columns]
    if missing:
        raise InputError(f"cells: missing column(s) {', '.join(missing)} (has: {', '.join(map(str, cells.columns))})"
                         + ("; needle_ids is written by the evaluate step since intervals count needles, not "
                            "prompts: rerun it" if "needle_ids" in missing else ""))
    fields = [c for c in cells.columns if c.startswith("acc_")]
    rows = []
    groups = cells.groupby(by, sort=False) if by else [((), cells)]
    for key, group in groups:
        n = int(group["n"].sum())
        weights = group["n"].to_numpy(dtype=float)
        needles = set().union(*(decode_ids(text) for text in group["needle_ids"]))
        accuracy = float(np.dot(group["accuracy"], weights) / n) if n else math.nan
        low, high = needle_interval(accuracy, len(needles)) if n else (math.nan, math.nan)
        out = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        out.update(n=n, n_needles=len(needles), accuracy=accuracy, ci_low=low, ci_high=high,
                   parse_failures=int(group["parse_failures"].sum()) if "parse_failures" in group else 0)
        out.update({f: float(np.dot(group[f], weights) / n) if n else math.nan for f in fields})
        rows.append(out)
    return pd.DataFrame(rows, columns=[*by, "n", "n_needles", "accuracy", "ci_low", "ci_high", "parse_failures",
                                       *fields])
