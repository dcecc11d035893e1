"""The majority baseline: answer every needle with the most frequent training value of each label leaf.

Reports put its cells beside every model: a model that does not beat it has learned the label priors, not
the needle.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from needlework.evaluate.grid import prediction_record
from needlework.evaluate.scoring import cells
from needlework.labels.nationality import canonical
from needlework.labels.schema import LEAF_FIELDS, Label, flatten

MODEL_NAME = "majority"


def majority_label(train_labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Per leaf, the most frequent value over ``train_labels``; a tie goes to the smallest value
    (``False`` before ``True``, ``0`` before ``1995``, alphabetical for nationality). Nationalities count by
    their canonical demonym ("usa" and "american" are one value). Returns a Label dict."""
    if not train_labels:
        raise ValueError("majority_label needs at least one training label")
    leaves = [flatten(Label.model_validate(label)) for label in train_labels]
    for values in leaves:
        values["nationality"] = canonical(values["nationality"])
    nested: dict[str, Any] = {}
    for leaf in LEAF_FIELDS:
        counts = Counter(values[leaf] for values in leaves)
        value = min(counts, key=lambda v: (-counts[v], v))
        *parents, name = leaf.split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[name] = value
    return Label.model_validate(nested).model_dump()


def majority_cells(eval_records: list[dict[str, Any]], train_labels: list[dict[str, Any]],
                   scoring: str) -> pd.DataFrame:
    """Cells table (model ``majority``) of answering :func:`majority_label` to every eval haystack record,
    scored like every model (``scoring``: ``eval.scoring``).

    The answer is the label's Python repr, which both scorings parse (the published one reads Python literals,
    not JSON's ``true``/``false``): the baseline measures the label priors, not an answer format."""
    answer = repr(majority_label(train_labels))
    result = {"answer": answer, "error": None, "input_tokens": 0, "output_tokens": 0}
    return cells([prediction_record(record, result) for record in eval_records], MODEL_NAME, scoring)
