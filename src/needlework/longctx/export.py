"""Write built haystacks: JSONL per split, a `datasets` DatasetDict, summary statistics and their plot, and the
audit file listing the records the build dropped.

The workflow builds the training set and the evaluation grid in separate rules, each into its own directory.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import fmean

import pandas as pd
import seaborn as sns
from datasets import Dataset, DatasetDict, Features, List, Value
from matplotlib.figure import Figure

from needlework.io import atomic_open, atomic_path, write_json, write_jsonl

FEATURES = Features(
    {
        "id": Value("string"),
        "needle_id": Value("string"),
        "context_length": Value("int64"),
        "depth": Value("float64"),
        "actual_depth": Value("float64"),
        "n_tokens": Value("int64"),
        "messages": List({"role": Value("string"), "content": Value("string")}),
    }
)
"""Column types of a haystack record [contract], fixed so that an empty split still saves and loads."""

Splits = Mapping[str, list[dict]]  # split name -> haystack records


AUDIT = "audit/dropped.jsonl"  # under the split's directory: one row per dropped record (id, length, reason)


def export_split(records: list[dict], split: str, out_dir: str | os.PathLike,
                 dropped: Sequence[dict] = ()) -> dict[str, float]:
    """Write ``<split>.jsonl`` (sorted keys: byte-identical for identical records), ``dataset/`` (a DatasetDict
    with that split), ``stats.json``, ``stats.png`` and :data:`AUDIT` (the ``dropped`` rows) under ``out_dir``,
    each atomically; return the stats.

    Stats (keys ``<split>_<stat>``, ready to log as metrics): ``n``, ``dropped`` and ``dropped_<reason>`` per
    reason, then (when there are records) ``needles`` (distinct), ``n_tokens_min/mean/max``, ``fill_min`` (lowest
    n_tokens / context_length) and ``depth_error_mean/max`` (absolute difference, in percentage points, between
    actual and requested depth).
    """
    out = Path(out_dir)
    write_jsonl(out / AUDIT, list(dropped))
    reasons = Counter(row["reason"] for row in dropped)
    counts = {f"{split}_dropped": len(dropped), **{f"{split}_dropped_{r}": n for r, n in sorted(reasons.items())}}
    return _export({split: records}, out, counts)


def _export(splits: Splits, out: Path, counts: dict[str, int]) -> dict[str, float]:
    for split, records in splits.items():
        write_jsonl(out / f"{split}.jsonl", records)
    dataset = DatasetDict({split: _dataset(records) for split, records in splits.items()})
    with atomic_path(out / "dataset") as tmp:
        # an empty split needs an explicit (empty) shard, or datasets cannot load it back
        dataset.save_to_disk(str(tmp), num_shards={split: 1 for split, ds in dataset.items() if not ds.num_rows})
    summary = {**_stats(splits), **counts}
    write_json(out / "stats.json", summary)
    _plot(splits, out / "stats.png")
    return summary


def _dataset(records: list[dict]) -> Dataset:
    """Records as a Dataset with :data:`FEATURES` (column-wise, so that no records gives an empty table)."""
    return Dataset.from_dict({key: [r[key] for r in records] for key in FEATURES}, features=FEATURES)


def _stats(splits: Splits) -> dict[str, float]:
    summary: dict[str, float] = {}
    for split, records in splits.items():
        summary[f"{split}_n"] = len(records)
        if not records:
            continue
        tokens = [r["n_tokens"] for r in records]
        errors = [abs(r["actual_depth"] - r["depth"]) for r in records]
        summary.update(
            {
                f"{split}_needles": len({r["needle_id"] for r in records}),
                f"{split}_n_tokens_min": min(tokens),
                f"{split}_n_tokens_mean": round(fmean(tokens), 2),
                f"{split}_n_tokens_max": max(tokens),
                f"{split}_fill_min": round(min(r["n_tokens"] / r["context_length"] for r in records), 4),
                f"{split}_depth_error_mean": round(fmean(errors), 3),
                f"{split}_depth_error_max": round(max(errors), 3),
            }
        )
    return summary


def _plot(splits: Splits, png_path: Path) -> None:
    frame = pd.DataFrame(
        [
            {"split": split, "prompt tokens": r["n_tokens"], "actual depth (%)": r["actual_depth"]}
            for split, records in splits.items()
            for r in records
        ],
        columns=["split", "prompt tokens", "actual depth (%)"],
    )
    fig = Figure(figsize=(10, 4), layout="constrained")
    tokens_ax, depth_ax = fig.subplots(1, 2)
    palette = dict(zip(splits, sns.color_palette("tab10")))
    shared = {"hue": "split", "palette": palette, "stat": "percent", "common_norm": False}  # splits differ in size
    if len(frame):  # no records: empty axes
        sns.histplot(frame, x="prompt tokens", bins=40, ax=tokens_ax, **shared)
        sns.histplot(frame, x="actual depth (%)", bins=20, binrange=(0, 100), ax=depth_ax, **shared)
    tokens_ax.set_title("prompt length (chat-templated tokens)")
    depth_ax.set_title("needle depth")
    with atomic_open(png_path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
