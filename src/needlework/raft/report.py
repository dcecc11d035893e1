"""The RAFT report: a small self-contained HTML page beside the RAFT scores (``results/raft/report/<name>-<key>/``)."""
from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2
import pandas as pd


def render(name: str, scores: pd.DataFrame, gen_stats: dict[str, Any], train: dict[str, Any] | None,
           predictions: dict[str, list[dict[str, Any]]], excluded: dict[str, Any]) -> str:
    """HTML: scores with intervals, truncation and missing-tag rates, the evaluation paragraphs kept out of the
    training documents (``excluded`` of the documents audit), generation rejections and cost, training, and a
    sortable predictions table with the quoted evidence (all text escaped)."""
    template = resources.files("needlework.raft").joinpath("data", "report.html.j2").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    usage = gen_stats.get("usage", {})
    cost = sum(part.get("cost_usd", 0.0) for part in usage.values())
    return env.from_string(template).render(name=name, scores=scores.to_dict("records"), gen=gen_stats, cost=cost,
                                            train=train, predictions=predictions, excluded=excluded)
