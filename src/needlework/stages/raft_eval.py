"""RAFT evaluation steps: the HotpotQA questions (seeded sample, ids saved), one model's answers scored with the
official EM/F1, and the RAFT report (scores of every model, generation rejections, a sortable predictions table)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from needlework import tracking
from needlework.config import model_config
from needlework.io import read_jsonl, write_jsonl
from needlework.stages.runtime import record_provenance, timer

log = logging.getLogger("needlework")


def eval_data(cfg: dict[str, Any], out_questions: str, out_ids: str, out_paragraphs: str) -> None:
    """The evaluation questions (each with its paragraphs as documents), their ids, and their distinct paragraphs
    (what the training documents must not hold)."""
    from needlework.io import atomic_open
    from needlework.raft.documents import fixture_path
    from needlework.raft.evaluate import eval_questions, eval_records
    from needlework.raft.holdout import eval_paragraphs

    ev = cfg["raft"]["eval"]
    params = {"raft.eval.path": ev["path"], "raft.eval.limit": ev["limit"]}
    with tracking.stage_run(cfg, "raft_eval_data", Path(out_questions).parent.name, params) as run:
        records = eval_records(ev["path"] or str(fixture_path("eval")), ev["limit"], cfg["seed"])
        questions = eval_questions(records)
        paragraphs = eval_paragraphs(records)
        write_jsonl(out_questions, questions)
        write_jsonl(out_paragraphs, paragraphs)
        with atomic_open(out_ids) as fh:
            fh.write("".join(f"{q['id']}\n" for q in questions))
        log.info("%d evaluation questions, %d distinct paragraphs", len(questions), len(paragraphs))
        run.log_metrics({"questions": len(questions), "paragraphs": len(paragraphs)})
        run.log_artifact(out_ids)
    record_provenance(cfg, Path(out_questions).parent)


def _generate(cfg: dict[str, Any], mcfg: dict[str, Any], questions: list[dict[str, Any]], model_dir: str | None,
              adapter_dir: str | None, threads: int) -> list[tuple[dict[str, Any], str, bool, int, int]]:
    """(question, generated text cut at the first stop string, truncated, input tokens, output tokens)."""
    ev = cfg["raft"]["eval"]
    by_id = {q["id"]: q for q in questions}
    out = []
    if mcfg["backend"] == "openai":
        from needlework.llm import client_from_config
        from needlework.longctx.paths import Paths

        client = client_from_config(dict(mcfg, max_tokens=ev["max_new_tokens"], json_mode="none"),
                                    section=f"model '{mcfg['name']}'", cache_path=Paths(cfg).llm_cache("raft", mcfg),
                                    stop=ev["stop"])
        failed = []
        for r in client.run([(q["id"], q["messages"]) for q in questions], desc=f"raft eval {mcfg['name']}"):
            if r.error is not None:
                failed.append(r)
                continue
            out.append((by_id[r.key], r.content, r.finish_reason == "length", r.prompt_tokens, r.completion_tokens))
        client.raise_if_unreachable()
        if failed:  # an error is not an answer; a rerun re-asks only these (the rest is cached)
            raise RuntimeError(f"{mcfg['name']}: {len(failed)} of {len(questions)} requests failed (first: "
                               f"{failed[0].error}); answers so far are cached, rerun to retry the failed ones")
        return out
    import torch

    from needlework.evaluate.hf_backend import HFBackend
    from needlework.models import load_model, load_tokenizer
    from needlework.raft.evaluate import cut_at_stop

    torch.set_num_threads(max(1, threads))
    local = dict(mcfg, path=str(Path(model_dir).resolve()) if model_dir else mcfg["path"])
    backend = HFBackend(load_model(local, adapter_dir=adapter_dir), load_tokenizer(local),
                        batch_size=ev.get("batch_size", 8), max_new_tokens=ev["max_new_tokens"])
    for r in backend.generate([{"id": q["id"], "messages": q["messages"]} for q in questions]):
        text, stopped = cut_at_stop(r["answer"], ev["stop"])
        # cut off: the token budget ran out before an end token or a stop string
        truncated = not stopped and r["output_tokens"] >= ev["max_new_tokens"]
        out.append((by_id[r["id"]], text, truncated, r["input_tokens"], r["output_tokens"]))
    return out


def evaluate(cfg: dict[str, Any], model_name: str, questions_jsonl: str, model_dir: str | None,
             adapter_dir: str | None, out_predictions: str, out_scores: str, threads: int = 1) -> None:
    """One model answers every question (a closed-book row without its documents); per-question predictions and its
    ``scores.csv`` row."""
    from needlework.io import atomic_open
    from needlework.raft.evaluate import as_asked, prediction_row, score_table

    mcfg = model_config(cfg, model_name)
    questions = [as_asked(q, model_name) for q in read_jsonl(questions_jsonl)]
    key = Path(out_scores).parent.name
    params = {"model": mcfg, "raft.eval": cfg["raft"]["eval"]}
    with tracking.stage_run(cfg, "raft_evaluate", key, params) as run:
        with timer() as t:  # the answers' time (read below, once the block has set it)
            answers = _generate(cfg, mcfg, questions, model_dir, adapter_dir, threads)
        rows = sorted((dict(prediction_row(q, text, cut), input_tokens=i, output_tokens=o)
                       for q, text, cut, i, o in answers), key=lambda r: r["id"])
        write_jsonl(out_predictions, rows)
        table = score_table(model_name, rows, len(questions), seed=cfg["seed"],
                            n_boot=cfg["raft"]["eval"].get("bootstrap", 2000))
        with atomic_open(out_scores) as fh:
            table.to_csv(fh, index=False)
        metrics = {**table.iloc[0].drop("model").to_dict(), "seconds": t["seconds"],
                   "input_tokens": sum(r["input_tokens"] or 0 for r in rows),
                   "output_tokens": sum(r["output_tokens"] or 0 for r in rows)}
        log.info("%s: %s", model_name, metrics)
        run.log_metrics(metrics)
        run.log_artifact(out_scores)
    record_provenance(cfg, Path(out_scores).parent)


def report(cfg: dict[str, Any], scores: list[str], predictions: list[str], gen_stats: str, docs_audit: str,
           train_metrics: str | None, out_scores: str, out_html: str) -> None:
    """All models' scores in one ``scores.csv`` and a small HTML page (results/raft/report/...), with what the
    training documents left out, logged to the experiment's parent run."""
    import json

    import pandas as pd

    from needlework.io import atomic_open
    from needlework.raft.report import render

    table = pd.concat([pd.read_csv(p) for p in scores], ignore_index=True)
    with atomic_open(out_scores) as fh:
        table.to_csv(fh, index=False)
    stats = json.loads(Path(gen_stats).read_text())
    excluded = json.loads(Path(docs_audit).read_text())["excluded"]
    train = json.loads(Path(train_metrics).read_text()) if train_metrics else None
    preds = {row["model"]: list(read_jsonl(p)) for row, p in zip(table.to_dict("records"), predictions)}
    with atomic_open(out_html) as fh:
        fh.write(render(cfg["name"], table, stats, train, preds, excluded))
    summary = {f"raft.{row['model']}.{m}": row[m] for row in table.to_dict("records") for m in ("em", "f1")}
    summary["raft.excluded_eval_paragraphs"] = excluded["paragraphs"]
    tracking.log_to_parent(cfg, summary, [out_scores, out_html])
    record_provenance(cfg, Path(out_html).parent)
    log.info("RAFT scores:\n%s", table.to_string(index=False))
