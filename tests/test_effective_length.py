"""Effective context length: the longest length up to which a model holds the base's native accuracy."""
import pandas as pd
import pytest

from needlework.evaluate.intervals import encode_ids, wilson
from needlework.report.effective import effective_lengths

NEEDLES = encode_ids(f"needle-{i}" for i in range(10))


def _cells(model: str, by_length: dict[int, float]) -> pd.DataFrame:
    """One cell per length (10 prompts of the same 10 needles)."""
    return pd.DataFrame([{"model": model, "context_length": length, "depth": 50, "n": 10, "accuracy": accuracy,
                          "needle_ids": NEEDLES} for length, accuracy in by_length.items()])


BASELINE = _cells("majority", {256: 0.2, 512: 0.2, 1024: 0.2, 2048: 0.2}).drop(columns="model")


def test_longest_length_above_the_base_native_accuracy_minus_the_margin():
    cells = pd.concat([
        _cells("base", {256: 0.9, 512: 0.85, 1024: 0.5, 2048: 0.3}),       # native 512: threshold 0.85 - 0.1
        _cells("finetuned", {256: 0.9, 512: 0.8, 1024: 0.78, 2048: 0.7}),   # holds to 1k, drops below 0.75 at 2k
        _cells("dips", {256: 0.9, 512: 0.7, 1024: 0.9, 2048: 0.9}),        # a dip at 512 ends it: all shorter hold
    ])
    result = effective_lengths(cells, BASELINE, native_context=512, margin=0.1)
    assert result["lengths"] == {"base": 512, "finetuned": 1024, "dips": 256}
    assert (result["reference"], result["reference_length"]) == ("base", 512)
    assert result["threshold"] == pytest.approx(0.75)


def test_without_the_native_length_the_shortest_length_sets_the_threshold():
    cells = _cells("base", {1024: 0.6, 2048: 0.55, 4096: 0.45})
    result = effective_lengths(cells, BASELINE.assign(context_length=[1024, 2048, 4096, 8192]), 512, 0.1)
    assert result["reference_length"] == 1024 and result["threshold"] == pytest.approx(0.5)
    assert result["lengths"] == {"base": 2048}


def test_the_majority_baseline_upper_bound_always_applies():
    """A generous margin does not let a model count lengths where it is within the baseline's interval."""
    upper = wilson(0.2 * 10, 10)[1]  # 0.51 over 10 needles
    cells = pd.concat([_cells("base", {256: 0.9, 512: 0.9}), _cells("weak", {256: 0.6, 512: 0.45})])
    result = effective_lengths(cells, BASELINE, native_context=256, margin=1.0)
    assert 0.45 < upper < 0.6
    assert result["lengths"] == {"base": 512, "weak": 256}
    assert effective_lengths(_cells("weak", {256: 0.45}), BASELINE, 256, 1.0)["lengths"] == {"weak": 0}


def test_without_the_base_model_only_the_baseline_bound_applies():
    result = effective_lengths(_cells("api", {256: 0.7, 512: 0.6, 1024: 0.3}), BASELINE, 512, 0.1)
    assert result["threshold"] is None and result["reference"] is None
    assert result["lengths"] == {"api": 512}
