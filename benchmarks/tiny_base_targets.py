"""Benchmark: the offline default's story against issue 9's targets, from the cells `make run` wrote.

Prints, per model and context length, the mean accuracy with its 95% Wilson interval (the report's), the majority
baseline beside it, and whether each target holds:

- the base reaches >= 0.80 at its best length within the native context;
- at 2x native, the base without scaling is at the baseline (within its interval) and the fine-tune >= 0.75;
- fine-tuning costs at most 0.05 at the native length.

    make run && .venv/bin/python benchmarks/tiny_base_targets.py ["overrides as for make run"]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from needlework.config import compose
from needlework.longctx.paths import Paths
from needlework.report.plots import aggregate


def per_length(dirs: dict[str, Path]) -> pd.DataFrame:
    """Accuracy and interval per (model, length) from each model's cells.csv."""
    tables = []
    for model, directory in dirs.items():
        path = directory / "cells.csv"
        if not path.is_file():
            sys.exit(f"{path} is missing: run `make run` first")
        tables.append(pd.read_csv(path).assign(model=model))
    return aggregate(pd.concat(tables), ["model", "context_length"])


def main(overrides: str = "") -> None:
    cfg = compose(overrides)
    paths = Paths(cfg)
    dirs = {m: paths.eval_dir(m) for m in cfg["eval"]["models"]}
    dirs["majority"] = paths.baseline_dir
    table = per_length(dirs)
    table["interval"] = [f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(table["ci_low"], table["ci_high"])]
    print(table[["model", "context_length", "n", "accuracy", "interval", "parse_failures"]].to_string(index=False))
    acc = table.set_index(["model", "context_length"])["accuracy"]
    high = table.set_index(["model", "context_length"])["ci_high"]
    native = cfg["model"]["native_context"]
    within = [n for n in cfg["context"]["lengths"] if n <= native]
    best = max(acc["base", n] for n in within)
    targets = {
        f"base >= 0.80 at its best native length ({best:.3f})": best >= 0.80,
        f"base at 2x native at the baseline ({acc['base', 2 * native]:.3f} vs {acc['majority', 2 * native]:.3f})":
            acc["majority", 2 * native] <= high["base", 2 * native] and acc["base", 2 * native] < best - 0.1,
        f"fine-tuned >= 0.75 at 2x native ({acc['finetuned', 2 * native]:.3f})": acc["finetuned", 2 * native] >= 0.75,
        f"fine-tuning costs <= 0.05 at native ({acc['base', native] - acc['finetuned', native]:+.3f})":
            acc["base", native] - acc["finetuned", native] <= 0.05,
    }
    for text, ok in targets.items():
        print(f"{'PASS' if ok else 'FAIL'}  {text}")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]))
