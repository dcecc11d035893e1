"""Report step: heatmaps, accuracy vs length, cost per 1,000 queries, failures -> index.html (+ MLflow)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from needlework import tracking
from needlework.config import model_config
from needlework.io import atomic_path, read_jsonl
from needlework.paths import Paths

log = logging.getLogger("needlework")


def report(cfg: dict[str, Any], models: list[str], cells_csv: list[str], predictions_jsonl: list[str],
           baseline_csv: str, grid_jsonl: str, train_metrics: list[str], out_html: str, figures_dir: str) -> None:
    from needlework.models import load_tokenizer
    from needlework.report.cost import cost_table
    from needlework.report.html import write_report
    from needlework.report.plots import render_all

    cells = pd.concat([pd.read_csv(p) for p in cells_csv], ignore_index=True)
    baseline = pd.read_csv(baseline_csv)
    predictions = {m: list(read_jsonl(p)) for m, p in zip(models, predictions_jsonl, strict=True)}
    prompts = [[m for m in r["messages"] if m["role"] != "assistant"] for r in read_jsonl(grid_jsonl)]
    paths = Paths(cfg)
    own = dict(cfg["model"], path=str(paths.model_dir) if paths.builds_model else cfg["model"]["path"])
    cost = cost_table([model_config(cfg, m) for m in models], prompts, predictions, load_tokenizer(own),
                      scoring=cfg["eval"]["scoring"])
    training = json.loads(Path(train_metrics[0]).read_text()) if train_metrics else None

    with tracking.stage_run(cfg, "report", cfg["name"], {"models": models}) as run:
        with atomic_path(figures_dir) as tmp:
            tmp.mkdir()
            images = render_all(cells, tmp, baseline)
            html = write_report(Path(out_html).parent, experiment=cfg["name"], cells=cells, baseline=baseline,
                                cost=cost, training=training, predictions_by_model=predictions,
                                images=images, notes=_notes(cfg, cells, baseline),
                                scoring=cfg["eval"]["scoring"])
        if Path(html) != Path(out_html):
            raise RuntimeError(f"the report was written to {html}, not to the declared output {out_html}")
        summary = {f"{row.model}.accuracy": row.accuracy for row in cost.itertuples()}
        summary.update({f"{row.model}.usd_per_1k_queries": row.usd_per_1k_queries for row in cost.itertuples()})
        summary["majority.accuracy"] = float((baseline["accuracy"] * baseline["n"]).sum() / baseline["n"].sum())
        run.log_metrics(summary)
        run.log_artifact(out_html)
        run.log_artifact(figures_dir, "figures")
    tracking.log_to_parent(cfg, summary, [out_html, figures_dir])
    log.info("report: %s\n%s", out_html, cost.to_string(index=False))


def _notes(cfg: dict[str, Any], cells: pd.DataFrame, baseline: pd.DataFrame) -> list[str]:
    """What a reader must know to read the numbers honestly."""
    notes = [f"Experiment '{cfg['name']}': {cfg['data']['source']} corpus, {cfg['labeler']['kind']} labels, "
             f"model {cfg['model']['name']} (native context {cfg['model']['native_context']}), "
             f"{cfg['lora']['method']} r={cfg['lora']['r']}, seed {cfg['seed']}."]
    hinted = [m for m in cfg["eval"]["models"] if m not in ("base", "finetuned")
              and model_config(cfg, m)["backend"] == "openai" and model_config(cfg, m).get("schema_in_prompt")]
    if hinted:
        notes.append(f"API models ({', '.join(hinted)}) had the label fields spelled out in their system message "
                     "(schema_in_prompt); local models got the prompt exactly as built.")
    if cfg["model"]["path"] is None:
        notes.append("The model is a tiny Llama built here: pretrained on the corpus and fine-tuned on CPU for "
                     "a few minutes. At this scale it learns the answer format and the label priors, not "
                     "retrieval. Compare every model with the majority-class baseline; scores at or near it "
                     "show no retrieval.")
    return notes
