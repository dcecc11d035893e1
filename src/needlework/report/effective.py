"""Effective context length per model, after RULER: the longest evaluated length up to which accuracy holds.

A model's effective context length is the longest evaluated length L such that at L and at every shorter
evaluated length its accuracy (mean over depths) is

- above the threshold: the reference model's (``base``, the experiment's own model) accuracy at its native
  context length, or at the shortest evaluated length when the native one is not evaluated, minus
  ``eval.effective_margin``; without the reference model evaluated there is no threshold, and
- above the upper bound of the majority baseline's 95% interval at L (needle-level intervals,
  :mod:`needlework.evaluate.intervals`), whatever the threshold.

0 means no evaluated length qualifies (not even the shortest).
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from needlework.evaluate.intervals import aggregate

REFERENCE_MODEL = "base"
"""The model whose accuracy at its native length sets the threshold: the experiment's own model."""


def effective_lengths(cells: pd.DataFrame, baseline: pd.DataFrame | None, native_context: int,
                      margin: float) -> dict[str, Any]:
    """The rule's inputs and, per model (first-seen order), its effective context length in tokens (0: none).

    Returns ``{"reference", "reference_length", "reference_accuracy", "margin", "threshold", "lengths"}``;
    the reference fields and ``threshold`` are None without a ``base`` model in ``cells``.
    """
    per_length = aggregate(cells, ["model", "context_length"])
    reference = per_length[per_length["model"] == REFERENCE_MODEL].set_index("context_length")["accuracy"]
    ref_length = ref_accuracy = threshold = None
    if not reference.empty:
        ref_length = int(native_context) if native_context in reference.index else int(min(reference.index))
        ref_accuracy = float(reference[ref_length])
        threshold = ref_accuracy - margin
    bound = (aggregate(baseline, ["context_length"]).set_index("context_length")["ci_high"]
             if baseline is not None else None)
    lengths: dict[str, int] = {}
    for model, rows in per_length.groupby("model", sort=False):
        effective = 0
        for row in rows.sort_values("context_length").itertuples():
            above_threshold = threshold is None or row.accuracy > threshold
            above_baseline = bound is None or (row.context_length in bound.index
                                               and row.accuracy > bound[row.context_length])
            if not (above_threshold and above_baseline and not math.isnan(row.accuracy)):
                break
            effective = int(row.context_length)
        lengths[str(model)] = effective
    return {"reference": REFERENCE_MODEL if threshold is not None else None, "reference_length": ref_length,
            "reference_accuracy": ref_accuracy, "margin": margin, "threshold": threshold, "lengths": lengths}
