"""HotpotQA answer EM/F1, computed exactly as the official ``hotpot_evaluate_v1.py`` (answer part) does.

Normalisation: lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace. F1 is 0 when
either side normalises to ``yes``/``no``/``noanswer`` and the two differ, and 0 when no token is shared (so two
empty answers have EM 1 and F1 0, as in the official script). A question without a prediction scores 0 on both
(the official script divides by the number of gold questions).

The prediction of a chain-of-thought answer is the text after its last ``<ANSWER>:`` tag; an answer without the
tag is scored whole and counted as ``missing_answer_tag``.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np

ANSWER_TAG = "<ANSWER>:"
_PUNCTUATION = frozenset(string.punctuation)
_SPECIAL = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    """Lowercase, remove punctuation, articles and extra whitespace (the official order)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1_score(prediction: str, gold: str) -> tuple[float, float, float]:
    """(F1, precision, recall) of the normalised token bags, with the yes/no/noanswer rule."""
    pred, truth = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _SPECIAL or truth in _SPECIAL) and pred != truth:
        return 0.0, 0.0, 0.0
    pred_tokens, truth_tokens = pred.split(), truth.split()
    same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(pred_tokens), same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall), precision, recall


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def extract_prediction(generated: str) -> tuple[str, bool]:
    """(the text after the last ``<ANSWER>:``, stripped; whether the tag was there). Without the tag: the whole
    text."""
    if ANSWER_TAG not in generated:
        return generated.strip(), False
    return generated.rsplit(ANSWER_TAG, 1)[1].strip(), True


def bootstrap_ci(values: Sequence[float], *, seed: int, n_boot: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (seeded: the same values give the same interval)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_boot, data.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
