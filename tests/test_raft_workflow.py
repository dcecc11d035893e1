"""End-to-end: `snakemake raft` on the offline RAFT default (a smaller variant), in a scratch directory."""
from __future__ import annotations

import json
import re
import sqlite3

import pandas as pd
import pytest

from workflow_helpers import snakemake

SMALL_RAFT = ("experiment=raft_default raft.fragments=12 raft.eval.limit=4 raft.eval.max_new_tokens=24 "
              "train.max_steps=4 train.save_steps=2 model.build.pretrain.steps=4 model.build.vocab_size=512")


@pytest.fixture(scope="module")
def raft_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("raft")
    result = snakemake(workdir, "raft", overrides=SMALL_RAFT)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.slow
def test_raft_default_reports_em_and_f1_for_base_and_finetuned(raft_run):
    results = raft_run / "results" / "raft"
    [report] = (results / "report").glob("raft_default-*")
    scores = pd.read_csv(report / "scores.csv")
    assert list(scores.columns) == ["model", "n", "em", "f1", "f1_ci_low", "f1_ci_high", "missing_answer_tag",
                                    "truncated", "em_ci_low", "em_ci_high"]
    assert sorted(scores["model"]) == ["base", "finetuned"] and set(scores["n"]) == {4}
    assert scores[["em", "f1", "missing_answer_tag", "truncated", "em_ci_low", "em_ci_high"]].stack().between(0, 1).all()
    html = (report / "index.html").read_text()
    assert "finetuned" in html and "quoted evidence" in html
    [audit] = (results / "documents").glob("*/audit.json")
    excluded = json.loads(audit.read_text())["excluded"]
    assert excluded["eval_paragraphs"] == 40  # the 4 drawn questions' paragraphs, none of them in the fixture's
    assert f"The {excluded['eval_paragraphs']} distinct paragraphs of the evaluation questions" in html
    [examples] = (results / "examples").glob("random-*")
    records = [json.loads(line) for line in (examples / "raft.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(len(set(r["doc_ids"])) == 4 for r in records)
    assert (examples / "completion.jsonl").exists() and (examples / "dataset" / "dataset_info.json").exists()
    [ids] = (results / "eval_data").glob("*/ids.txt")
    assert len(ids.read_text().split()) == 4
    db = sqlite3.connect(raft_run / "results" / "mlflow.db")
    stages = {row[0] for row in db.execute("select value from tags where key = 'stage'")}
    assert {"raft_documents", "raft_generate", "raft_assemble", "train", "raft_evaluate"} <= stages
    assert db.execute("select count(*) from metrics where key = 'excluded_eval_paragraphs'").fetchone()[0] == 1


@pytest.mark.slow
def test_changing_p_reruns_assembly_and_what_follows_only(raft_run):
    result = snakemake(raft_run, "-n", "raft", overrides=SMALL_RAFT + " raft.assembly.oracle_p=0.5")
    assert result.returncode == 0
    out = result.stdout + result.stderr
    assert "raft_assemble" in out and "raft_finetune" in out
    for upstream in ("raft_documents", "raft_generate", "raft_build_model", "raft_chunks"):
        assert f"rule {upstream}:" not in out and f"localrule {upstream}:" not in out
    rerun = snakemake(raft_run, "-n", "raft", overrides=SMALL_RAFT)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


@pytest.mark.slow
def test_another_evaluation_draw_rereads_the_documents_and_retrains(raft_run):
    result = snakemake(raft_run, "-n", "raft", overrides=SMALL_RAFT.replace("raft.eval.limit=4", "raft.eval.limit=3"))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    for rule in ("raft_eval_data", "raft_documents", "raft_generate", "raft_finetune"):
        assert rule in out


def test_the_replication_dag_is_complete():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as scratch:
        result = snakemake(Path(scratch), "-n", "raft", overrides="experiment=raft_hotpotqa")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    for rule in ("raft_documents", "raft_chunks", "raft_generate", "raft_assemble", "raft_finetune", "raft_eval_data",
                 "raft_evaluate", "raft_report"):
        assert rule in out
    assert "raft_build_model" not in out  # a hub model is not built


def test_the_smollm2_rows_train_raft_and_dsf_and_evaluate_four_rows(tmp_path):
    result = snakemake(tmp_path, "-n", "raft", overrides="experiment=raft_smollm2")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    counts = dict(re.findall(r"^(raft_finetune|raft_evaluate|convert_gguf)\s+(\d+)$", out, re.MULTILINE))
    assert counts == {"convert_gguf": "1", "raft_finetune": "2", "raft_evaluate": "4"}
    assert "closed_book.jsonl" in out and "-dsf-" in out and "raft_build_model" not in out
    for row in ("base_closed", "base", "dsf", "finetuned"):
        assert f"raft_eval_key={row}-" in out


def test_the_data_half_is_byte_identical_across_runs(tmp_path):
    from needlework.config import compose
    from needlework.raft.paths import RaftPaths

    overrides = "experiment=raft_default raft.assembly.negatives=bm25"
    examples = RaftPaths(compose(overrides)).examples_dir  # relative to the working directory
    outputs = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        result = snakemake(workdir, str(examples / "raft.jsonl"), str(examples / "completion.jsonl"),
                           overrides=overrides)
        assert result.returncode == 0, result.stderr[-4000:]
        outputs.append([(workdir / examples / f).read_bytes() for f in ("raft.jsonl", "chat.jsonl", "completion.jsonl")])
    assert outputs[0] == outputs[1]
    assert not (tmp_path / "a" / "results" / "raft" / "models").exists()  # HotpotQA chunks need no model
