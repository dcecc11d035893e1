"""The experiment's report: one self-contained ``index.html`` (figures embedded as base64 PNG data URIs).

Embedding keeps the page a single file that can be moved, mailed or archived without its image folder, and it
works offline: no CDN, plain inline JavaScript for sorting and filtering the failure table. All text goes
through Jinja2 autoescaping, so a model's answer cannot inject markup.
"""
from __future__ import annotations

import base64
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from needlework.evaluate.scoring import score_prediction
from needlework.io import InputError, atomic_open
from needlework.evaluate.intervals import aggregate

NEAR_BASELINE = 0.05
"""A model whose accuracy is within this much above the baseline is flagged as near it."""

_COST_COLUMNS = (  # (column, title, format); None format: shown as text
    ("model", "model", None),
    ("backend", "backend", None),
    ("tokenizer", "tokenizer", None),
    ("input_tokens_per_query", "input tokens / query", "{:,.1f}"),
    ("output_tokens_per_query", "output tokens / query", "{:,.1f}"),
    ("price_input_per_1m", "$ / 1M input", "{:.4g}"),
    ("price_output_per_1m", "$ / 1M output", "{:.4g}"),
    ("usd_per_1k_queries", "$ / 1k queries", "{:.4f}"),
    ("accuracy", "accuracy", "{:.3f}"),
)


def write_report(
    out_dir: str | Path,
    *,
    experiment: str,
    cells: pd.DataFrame,
    baseline: pd.DataFrame | None,
    cost: pd.DataFrame,
    training: dict[str, Any] | None,
    predictions_by_model: dict[str, list[dict[str, Any]]],
    images: dict[str, Path],
    notes: list[str],
    scoring: str,
    effective: dict[str, Any] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` atomically and return its path.

    - ``cells``: cells.csv rows of all models; ``baseline``: cells-shaped scores of the majority-class answer
      (context_length, n, accuracy at least) or None.
    - ``cost``: :func:`needlework.report.cost.cost_table`; ``training``: any (nested) dict shown as key/value
      rows, e.g. tokens_per_s, steps, rope scaling and :func:`~needlework.report.cost.training_cost`.
    - ``images``: caption -> PNG, embedded in this order (:func:`needlework.report.plots.render_all`).
    - ``notes``: free text shown at the top.
    - ``scoring``: the ``eval.scoring`` the cells were scored with (``leaves`` | ``published``), stated in the
      report; the failure table scores with it too.
    - ``effective``: :func:`needlework.report.effective.effective_lengths`, shown per model with its rule.

    Every interval is a 95% Wilson interval over needles (:mod:`needlework.evaluate.intervals`), and so is every
    verdict that rests on one.
    """
    base = _baseline_summary(baseline)
    above = _lengths_above(cells, baseline)
    summary = _summary_rows(cells, base, cost, above, effective)
    context = {
        "effective": effective,
        "lengths": _length_rows(cells, baseline, above),
        "experiment": experiment,
        "baseline": base,
        "flagged": [row["model"] for row in summary if row["flag"]],
        "notes": list(notes),
        "scoring": scoring,
        "summary": summary,
        "figures": [{"caption": caption, "data": _png_base64(path)} for caption, path in images.items()],
        "cost": _cost_view(cost),
        "training": _flatten(training) if training else [],
        "failures": _failure_rows(predictions_by_model, scoring),
        "failure_models": list(predictions_by_model),
    }
    html = _template().render(**context)
    path = Path(out_dir) / "index.html"
    with atomic_open(path) as fh:
        fh.write(html)
    return path


def _template() -> jinja2.Template:
    source = resources.files("needlework.report").joinpath("template.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


def _baseline_summary(baseline: pd.DataFrame | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    if baseline.empty:
        raise InputError("baseline: the majority-class baseline table has no rows")
    overall = aggregate(baseline, []).iloc[0]
    return {
        "value": float(overall["accuracy"]),
        "accuracy": _fmt(overall["accuracy"], "{:.3f}"),
        "ci": _interval(overall["ci_low"], overall["ci_high"]),
        "n": int(overall["n"]),
        "n_needles": int(overall["n_needles"]),
    }


def _lengths_above(cells: pd.DataFrame, baseline: pd.DataFrame | None) -> dict[str, list[int]]:
    """Model -> the context lengths where it is above the baseline by the overall verdict's rule (its 95% interval
    over needles above the baseline's accuracy at that length, by at least ``NEAR_BASELINE``)."""
    if baseline is None or baseline.empty:
        return {}
    base = aggregate(baseline, ["context_length"]).set_index("context_length")["accuracy"]
    above: dict[str, list[int]] = {}
    for _, row in aggregate(cells, ["model", "context_length"]).iterrows():
        length = row["context_length"]
        if length in base.index and row["ci_low"] > base[length] and row["accuracy"] - base[length] >= NEAR_BASELINE:
            above.setdefault(str(row["model"]), []).append(int(length))
    return above


def _length_rows(cells: pd.DataFrame, baseline: pd.DataFrame | None,
                 above: dict[str, list[int]]) -> list[dict[str, Any]]:
    """One row per model and context length: accuracy over all depths, its interval over needles, the baseline
    at that length and whether the model is above it there (the verdicts' rule)."""
    base = (aggregate(baseline, ["context_length"]).set_index("context_length")
            if baseline is not None and not baseline.empty else None)
    rows = []
    for _, agg in aggregate(cells, ["model", "context_length"]).iterrows():
        length = agg["context_length"]
        here = base.loc[length] if base is not None and length in base.index else None
        rows.append({
            "model": str(agg["model"]),
            "length": f"{int(length):,}",
            "accuracy": _fmt(agg["accuracy"], "{:.3f}"),
            "ci": _interval(agg["ci_low"], agg["ci_high"]),
            "n": int(agg["n"]),
            "n_needles": int(agg["n_needles"]),
            "baseline": ("—" if here is None
                         else f"{here['accuracy']:.3f} {_interval(here['ci_low'], here['ci_high'])}"),
            "above": "yes" if int(length) in above.get(str(agg["model"]), []) else "no",
        })
    return rows


def _summary_rows(cells: pd.DataFrame, base: dict[str, Any] | None, cost: pd.DataFrame,
                  above: dict[str, list[int]], effective: dict[str, Any] | None) -> list[dict[str, Any]]:
    usd = dict(zip(cost["model"], cost["usd_per_1k_queries"])) if "usd_per_1k_queries" in cost else {}
    rows = []
    for _, agg in aggregate(cells, ["model"]).iterrows():
        accuracy, ci_low = float(agg["accuracy"]), float(agg["ci_low"])
        if base is None:
            verdict, css, flag = "no baseline to compare", "verdict-near", False
        elif ci_low <= base["value"]:
            verdict, css, flag = "at or below baseline: no evidence of retrieval", "verdict-low", True
        elif accuracy - base["value"] < NEAR_BASELINE:
            verdict, css, flag = "near baseline: little evidence of retrieval", "verdict-near", True
        else:
            verdict, css, flag = "above baseline", "verdict-ok", False
        lengths = above.get(str(agg["model"]), [])
        if flag and lengths:  # e.g. retrieval within the native context only: say where
            verdict = f"above baseline at {', '.join(f'{x:,}' for x in sorted(lengths))} tokens only; overall {verdict}"
            css = "verdict-near"
        n = int(agg["n"])
        rows.append({
            "model": str(agg["model"]),
            "accuracy": _fmt(accuracy, "{:.3f}"),
            "ci": _interval(ci_low, agg["ci_high"]),
            "n": n,
            "n_needles": int(agg["n_needles"]),
            "effective": _effective_text(effective, str(agg["model"])),
            "parse_failures": f"{int(agg['parse_failures'])} ({agg['parse_failures'] / n:.1%})" if n else "0",
            "baseline": base["accuracy"] if base else "—",
            "delta": f"{accuracy - base['value']:+.3f}" if base else "—",
            "usd": _fmt(usd.get(agg["model"], math.nan), "{:.4f}"),
            "verdict": verdict,
            "verdict_class": css,
            "flag": flag,
        })
    return rows


def _effective_text(effective: dict[str, Any] | None, model: str) -> str:
    if effective is None or model not in effective["lengths"]:
        return "—"
    length = effective["lengths"][model]
    return f"{length:,}" if length else "none"


def _cost_view(cost: pd.DataFrame) -> dict[str, Any]:
    columns = [(col, title, fmt) for col, title, fmt in _COST_COLUMNS if col in cost.columns]
    return {
        "columns": [{"title": title, "num": fmt is not None} for _, title, fmt in columns],
        "rows": [
            [(str(record[col]) if fmt is None else _fmt(record[col], fmt), fmt is not None) for col, _, fmt in columns]
            for record in cost.to_dict("records")
        ],
    }


def _failure_rows(predictions_by_model: dict[str, list[dict[str, Any]]], scoring: str) -> list[dict[str, Any]]:
    rows = []
    for model, predictions in predictions_by_model.items():
        ordered = sorted(
            predictions, key=lambda p: (p.get("context_length", 0), p.get("depth", 0), str(p.get("needle_id")),
                                        str(p.get("id")))
        )
        for prediction in ordered:
            result = score_prediction(prediction, scoring)
            if result["score"] >= 1:
                continue
            answer = prediction.get("answer")
            if answer is None:
                answer = f"[no answer: {prediction.get('error') or 'unknown error'}]"
            rows.append({
                "model": model,
                "needle_id": prediction.get("needle_id", ""),
                "context_length": prediction.get("context_length", ""),
                "depth": _fmt(prediction.get("depth", math.nan), "{:g}"),
                "score": f"{result['score']:.3f}",
                "differing": "parse failure" if result["parse_failure"] else ", ".join(result["differing"]),
                "label": prediction.get("label", ""),
                "answer": answer,
            })
    return rows


def _flatten(mapping: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, _display(value)))
    return items


def _display(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _fmt(value, "{:,.0f}" if abs(value) >= 1000 else "{:.4g}")
    return str(value)


def _fmt(value: Any, fmt: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if math.isnan(number) else fmt.format(number)


def _interval(low: Any, high: Any) -> str:
    return f"[{_fmt(low, '{:.3f}')}, {_fmt(high, '{:.3f}')}]"


def _png_base64(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"report image {path}: file not found")
    return base64.b64encode(path.read_bytes()).decode("ascii")
