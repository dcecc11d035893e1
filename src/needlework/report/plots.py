"""Report figures from cells tables: per-model heatmaps, accuracy vs context length, per-field accuracy.

Every figure is drawn on a standalone :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) and written
atomically as PNG without a ``Software`` stamp, so the same cells give byte-identical files on the same stack.

Aggregation over cells is :func:`needlework.evaluate.intervals.aggregate`: a group's accuracy is
``sum(accuracy * n) / sum(n)`` and its 95% interval is a Wilson interval on per-needle means, with the group's
distinct needles (not its prompts) as the sample size, like the per-cell intervals of cells.csv.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from needlework.evaluate.intervals import aggregate
from needlework.io import InputError, atomic_path

BASELINE_LABEL = "majority-class baseline"
_DPI = 110
_PNG_METADATA = {"Software": None}  # no matplotlib version stamp: reruns give identical bytes


def field_columns(cells: pd.DataFrame) -> list[str]:
    """The ``acc_<field>`` columns of a cells table, in their column order."""
    return [c for c in cells.columns if c.startswith("acc_")]


def heatmap(cells: pd.DataFrame, model: str, png_path: str | Path) -> Path:
    """Accuracy of ``model`` by needle depth (rows, 0% on top) and context length (columns), annotated.

    Red-to-green colour scale fixed to 0..1; the title states how many queries (and distinct
    needles) each cell holds.
    """
    _require(cells, ["model", "context_length", "depth", "n", "n_needles", "accuracy"], "cells")
    own = cells[cells["model"] == model]
    if own.empty:
        known = ", ".join(map(str, pd.unique(cells["model"])))
        raise InputError(f"cells: no rows for model {model!r} (models present: {known or 'none'})")
    duplicated = own.duplicated(["context_length", "depth"])
    if duplicated.any():
        row = own[duplicated].iloc[0]
        raise InputError(
            f"cells: model {model!r} has more than one row for context_length={row['context_length']}, "
            f"depth={row['depth']}"
        )
    grid = own.pivot(index="depth", columns="context_length", values="accuracy").sort_index().sort_index(axis=1)
    grid.index = [f"{d:g}%" for d in grid.index]
    grid.columns = [format_length(c) for c in grid.columns]

    fig = Figure(figsize=(1.7 + 0.6 * grid.shape[1], 1.4 + 0.36 * grid.shape[0]), dpi=_DPI, layout="constrained")
    ax = fig.subplots()
    sns.heatmap(
        grid, ax=ax, cmap="RdYlGn", vmin=0.0, vmax=1.0, annot=True, fmt=".2f", linewidths=0.5,
        linecolor="white", cbar_kws={"label": "accuracy"}, annot_kws={"fontsize": 8},
    )
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("needle depth")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(f"{model}\nn = {_span(own['n'])} queries ({_span(own['n_needles'])} needles) per cell", fontsize=10)
    return _save(fig, png_path)


def accuracy_vs_length(all_cells: pd.DataFrame, png_path: str | Path, baseline: pd.DataFrame | None = None) -> Path:
    """Mean accuracy vs context length, one line per model with 95% error bars over needles, baseline dashed.

    Each point aggregates all depths of one context length, n-weighted; its interval counts the length's distinct
    needles (:func:`~needlework.evaluate.intervals.aggregate`). ``baseline`` is a cells-shaped table scored for the
    majority-class answer: its n-weighted mean is a dashed grey line across the plot (the number the HTML summary
    shows beside every model) and its per-length 95% interval a grey band (what a model must clear).
    """
    _require(all_cells, ["model", "context_length", "n", "accuracy"], "cells")
    per_length = aggregate(all_cells, ["model", "context_length"])
    lengths = sorted(set(per_length["context_length"]))
    palette = dict(zip(pd.unique(per_length["model"]), sns.color_palette("colorblind", per_length["model"].nunique())))

    fig = Figure(figsize=(7.0, 4.2), dpi=_DPI, layout="constrained")
    ax = fig.subplots()
    if baseline is not None:
        band = aggregate(baseline, ["context_length"]).sort_values("context_length")
        ax.fill_between(band["context_length"], band["ci_low"], band["ci_high"], color="0.6", alpha=0.25,
                        linewidth=0, label=f"{BASELINE_LABEL}, 95% interval")
        level = aggregate(baseline, [])["accuracy"].iloc[0]
        ax.axhline(level, linestyle="--", color="0.35", linewidth=1.4, label=f"{BASELINE_LABEL} ({level:.2f})")
    for model, color in palette.items():
        line = per_length[per_length["model"] == model].sort_values("context_length")
        yerr = np.vstack([line["accuracy"] - line["ci_low"], line["ci_high"] - line["accuracy"]]).clip(min=0)
        ax.errorbar(
            line["context_length"], line["accuracy"], yerr=yerr, label=str(model), color=color,
            marker="o", markersize=4, capsize=3, linewidth=1.6,
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [format_length(x) for x in lengths])
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("accuracy (mean score)")
    ax.set_title("Accuracy vs context length (mean over depths; 95% Wilson intervals over needles)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, png_path)


def per_field(all_cells: pd.DataFrame, png_path: str | Path, baseline: pd.DataFrame | None = None) -> Path:
    """Per-field accuracy bars, one bar per model in each field group; baseline as dashed ticks if given."""
    _require(all_cells, ["model", "n", "accuracy"], "cells")
    fields = field_columns(all_cells)
    if not fields:
        raise InputError("cells: no acc_<field> columns to plot per field")
    per_model = aggregate(all_cells, ["model"])
    long = per_model[["model", *fields]].melt(id_vars="model", var_name="field", value_name="accuracy")
    long["field"] = long["field"].str.removeprefix("acc_")

    fig = Figure(figsize=(1.6 + 1.3 * len(fields), 4.2), dpi=_DPI, layout="constrained")
    ax = fig.subplots()
    sns.barplot(
        data=long, x="field", y="accuracy", hue="model", ax=ax, errorbar=None,
        palette="colorblind", order=[f.removeprefix("acc_") for f in fields],
    )
    if baseline is not None:
        base = aggregate(baseline, [])
        for i, field in enumerate(fields):
            if field in base:
                ax.hlines(
                    base[field].iloc[0], i - 0.42, i + 0.42, colors="0.2", linestyles="--", linewidth=1.4,
                    label=BASELINE_LABEL if i == 0 else None,
                )
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("label field")
    ax.set_ylabel("accuracy")
    ax.set_title("Per-field accuracy (all context lengths and depths)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, png_path)


def render_all(cells: pd.DataFrame, out_dir: str | Path, baseline: pd.DataFrame | None = None) -> dict[str, Path]:
    """Draw every report figure into ``out_dir``; return caption -> PNG path, in report order.

    Order: accuracy vs length, per-field accuracy, then one heatmap per model (models in first-seen order).
    """
    out_dir = Path(out_dir)
    images = {
        "Accuracy vs context length": accuracy_vs_length(cells, out_dir / "accuracy_vs_length.png", baseline),
        "Accuracy per label field": per_field(cells, out_dir / "per_field.png", baseline),
    }
    for i, model in enumerate(pd.unique(cells["model"])):
        images[f"Heatmap: {model}"] = heatmap(cells, model, out_dir / f"heatmap_{i:02d}_{_slug(str(model))}.png")
    return images


def format_length(tokens: int | float) -> str:
    """``16384 -> "16k"``, ``1536 -> "1.5k"``, ``1000 -> "1000"``: context lengths as people write them."""
    tokens = int(tokens)
    return f"{tokens / 1024:g}k" if tokens >= 1024 and tokens % 512 == 0 else str(tokens)


def _span(n: pd.Series) -> str:
    low, high = int(n.min()), int(n.max())
    return str(low) if low == high else f"{low}–{high}"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)} (has: {', '.join(map(str, df.columns))})")


def _save(fig: Figure, png_path: str | Path) -> Path:
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", metadata=_PNG_METADATA)
    return png_path
