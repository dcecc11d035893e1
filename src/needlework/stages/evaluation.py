"""Evaluation steps: a model answers the grid (saved as answers arrive), scored per cell; the majority baseline."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from needlework import tracking
from needlework.config import model_config
from needlework.io import read_jsonl
from needlework.stages.runtime import record_provenance, timer

log = logging.getLogger("needlework")


def make_backend(cfg: dict[str, Any], mcfg: dict[str, Any], model_dir: str | None, adapter_dir: str | None,
                 cache: str, rope_from: str | None = None):
    """The generation backend for one evaluated model: an OpenAI-compatible endpoint or a local HF model.

    ``rope_from``: the fine-tune whose RoPE scaling a ``rope_scaling: from_finetune`` base is evaluated with."""
    if mcfg["backend"] == "openai":
        from needlework.evaluate.openai_backend import OpenAIBackend

        # The endpoint's response cache is content-addressed and shared: a prompt answered once, in any
        # experiment or sweep, is never paid for again.
        from needlework.longctx.paths import Paths

        return OpenAIBackend(mcfg, Paths(cfg).llm_cache("llm", mcfg))
    from needlework.evaluate.hf_backend import HFBackend
    from needlework.models import load_model, load_tokenizer

    local = dict(resolved_rope(mcfg, rope_from), path=str(Path(model_dir).resolve()) if model_dir else mcfg["path"])
    model = load_model(local, adapter_dir=adapter_dir)
    tokenizer = load_tokenizer(local)
    return HFBackend(model, tokenizer, batch_size=cfg["eval"]["batch_size"],
                     max_new_tokens=cfg["eval"]["max_new_tokens"],
                     schema_in_prompt=bool(mcfg.get("schema_in_prompt")))


def check_answer_room(backend, records: list[dict[str, Any]], model_name: str, grid_jsonl: str) -> None:
    """Stop before the first prompt when the local backend's ``max_new_tokens`` cannot hold the longest reference
    answer in this model's tokens plus its end token: the longest right answers would become parse failures."""
    from needlework.config import ConfigError
    from needlework.evaluate.grid import label_of
    from needlework.report.cost import count_tokens

    needed = max(count_tokens([label_of(r) for r in records], None, backend.tokenizer), default=0) + 1
    cap = backend.max_new_tokens
    if cap < needed:
        raise ConfigError(f"eval.max_new_tokens is {cap}, but the longest reference answer in {grid_jsonl} takes "
                          f"{needed} tokens of {model_name}'s tokenizer (end token included): set "
                          f"eval.max_new_tokens >= {needed}, or correct answers are cut into parse failures")


def resolved_rope(mcfg: dict[str, Any], rope_from: str | None) -> dict[str, Any]:
    """``mcfg`` with a ``rope_scaling: from_finetune`` replaced by the scaling the fine-tune in ``rope_from`` was
    trained with (other configs unchanged)."""
    from needlework.models import FROM_FINETUNE, trained_rope

    if mcfg.get("rope_scaling") != FROM_FINETUNE or not rope_from:
        return mcfg
    rope = trained_rope(Path(rope_from))
    log.info("%s: the RoPE scaling of the fine-tune %s: %s", mcfg.get("name"), rope_from, rope)
    return dict(mcfg, rope_scaling=rope)


def model_identity(mcfg: dict[str, Any], model_dir: str | None, adapter_dir: str | None,
                   cache: str | Path | None = None) -> str:
    """What makes answers differ: the model's settings (not its name, not where its files are), the content
    identity of its weights (needlework.identity) and of the adapter directory's files, so a rebuilt model or a
    retrained adapter is never answered from cached predictions of the old one, and a copy elsewhere is."""
    from needlework.config import fingerprint
    from needlework.identity import directory_identity, model_identity as content, semantic, settings

    local = dict(mcfg, path=model_dir, gguf=None) if model_dir else mcfg
    adapter = directory_identity(adapter_dir, None, cache) if adapter_dir else None
    return fingerprint({k: v for k, v in settings(semantic(mcfg)).items() if k != "name"}, content(local, cache),
                       adapter)


def evaluate(cfg: dict[str, Any], model_name: str, grid_jsonl: str, model_dir: str | None,
             adapter_dir: str | None, out_predictions: str, out_cells: str, cache: str, threads: int = 1,
             rope_from: str | None = None) -> None:
    from needlework.evaluate.grid import run_predictions
    from needlework.identity import hash_cache
    from needlework.evaluate.intervals import aggregate
    from needlework.evaluate.scoring import cells, write_cells

    mcfg = model_config(cfg, model_name)
    records = list(read_jsonl(grid_jsonl))
    key = Path(out_cells).parent.name
    with tracking.stage_run(cfg, "evaluate", key, {"model": mcfg, "eval": cfg["eval"]}) as run:
        if mcfg["backend"] == "hf":
            import torch

            torch.set_num_threads(max(1, threads))
        with timer() as t:
            backend = make_backend(cfg, mcfg, model_dir, adapter_dir, cache, rope_from)
            if mcfg["backend"] == "hf":
                check_answer_room(backend, records, model_name, grid_jsonl)
            identity = model_identity(resolved_rope(mcfg, rope_from), model_dir, adapter_dir,
                                      hash_cache())
            predictions = run_predictions(backend, records, Path(out_predictions), Path(cache), identity)
        failed = [p for p in predictions if p.get("error")]
        if failed:  # an error is not an answer: fail the step; a rerun re-asks only these (the rest is cached)
            Path(out_predictions).unlink()
            raise RuntimeError(f"{model_name}: {len(failed)} of {len(predictions)} requests failed (first: "
                               f"{failed[0]['error']}); the answers so far are cached, rerun to retry the failed ones")
        table = cells(predictions, model_name, cfg["eval"]["scoring"])
        write_cells(table, out_cells)
        n = len(predictions)
        overall = aggregate(table, []).iloc[0]  # the interval counts needles, not prompts
        metrics = {
            "accuracy": float(overall["accuracy"]),
            "ci_low": float(overall["ci_low"]),
            "ci_high": float(overall["ci_high"]),
            "needles": int(overall["n_needles"]),
            "parse_failures": int(table["parse_failures"].sum()),
            "queries": n,
            "seconds": t["seconds"],
            "queries_per_s": n / max(t["seconds"], 1e-9),
            "input_tokens": sum(p.get("input_tokens") or 0 for p in predictions),
            "output_tokens": sum(p.get("output_tokens") or 0 for p in predictions),
        }
        log.info("%s: %s", model_name, metrics)
        run.log_metrics(metrics)
        run.log_artifact(out_cells)
    record_provenance(cfg, Path(out_cells).parent)


def baseline(cfg: dict[str, Any], grid_jsonl: str, needles_jsonl: str, labels_jsonl: str, out_cells: str) -> None:
    """Cells of the majority-class answer (per field, the most frequent training label)."""
    from needlework.evaluate.baseline import majority_cells
    from needlework.evaluate.intervals import aggregate
    from needlework.evaluate.scoring import write_cells

    train_ids = {r["id"] for r in read_jsonl(needles_jsonl) if r["split"] == "train"}
    train_labels = [r["label"] for r in read_jsonl(labels_jsonl) if r["id"] in train_ids and not r.get("error")]
    with tracking.stage_run(cfg, "baseline", Path(out_cells).parent.name, {"train_labels": len(train_labels),
                                                                         "scoring": cfg["eval"]["scoring"]}) as run:
        table = majority_cells(list(read_jsonl(grid_jsonl)), train_labels, cfg["eval"]["scoring"])
        write_cells(table, out_cells)
        overall = aggregate(table, []).iloc[0]
        log.info("majority baseline accuracy %.3f [%.3f, %.3f] over %d needles", overall["accuracy"],
                 overall["ci_low"], overall["ci_high"], overall["n_needles"])
        run.log_metrics({"accuracy": float(overall["accuracy"]), "ci_low": float(overall["ci_low"]),
                         "ci_high": float(overall["ci_high"])})
        run.log_artifact(out_cells)
    record_provenance(cfg, Path(out_cells).parent)
