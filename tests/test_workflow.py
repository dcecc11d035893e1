"""End-to-end: the real Snakemake workflow on small configs, offline, in scratch directories."""
from __future__ import annotations

import json
import re
import sqlite3

import pandas as pd
import pytest

from needlework.corpus.synthetic import generate
from needlework.labels.infobox import label_from_infobox
from workflow_helpers import SMALL, snakemake

CELL_COLUMNS = ["model", "context_length", "depth", "n", "accuracy", "ci_low", "ci_high", "parse_failures"]


def _only(root, pattern):
    found = sorted(root.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("small")
    result = snakemake(workdir, overrides=SMALL)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.slow
def test_whole_chain_to_the_report(small_run):
    results = small_run / "results"
    html = (results / "report" / "tiny_base" / "index.html").read_text()
    assert "majority" in html.lower() and "base" in html and "finetuned" in html
    for model in ("base", "finetuned"):
        cells = pd.read_csv(_only(results / "evaluate", f"{model}-*/cells.csv"))
        assert list(cells.columns[:8]) == CELL_COLUMNS
        assert {"acc_nationality", "acc_date_of_birth", "acc_politician"} <= set(cells.columns)
        assert len(cells) == 4 and cells["n"].tolist() == [1, 1, 1, 1]  # 2 lengths x 2 depths x 1 needle
        assert cells["accuracy"].between(0, 1).all()
    figures = list((results / "report" / "tiny_base" / "figures").glob("*.png"))
    assert len(figures) >= 4  # accuracy vs length, per field, one heatmap per model
    assert (_only(results / "train", "tiny_base-lora8-*") / "adapter" / "adapter_config.json").exists()
    # every result folder says what made it: the training its adapter and training settings and the base's content
    made = json.loads((_only(results / "train", "tiny_base-lora8-*") / "provenance.json").read_text())
    assert made["config"]["lora"]["r"] == 8 and made["config"]["train"]["max_steps"] == 6
    assert made["inputs"]["model_identity"].startswith("files:") and made["code"]["git_commit"]
    for pattern in ("corpus/*", "haystacks/eval-*", "evaluate/finetuned-*", "report/tiny_base-*"):
        folder = _only(results, pattern)
        assert folder.name.endswith("-" + json.loads((folder / "provenance.json").read_text())["key"]), folder


@pytest.mark.slow
def test_every_stage_is_an_mlflow_run(small_run):
    db = sqlite3.connect(small_run / "results" / "mlflow.db")
    stages = {row[0] for row in db.execute("select value from tags where key = 'stage'")}
    # no "model" stage: the default experiment uses the shipped base (models/tiny-base)
    assert {"identity", "corpus", "needles", "labels", "haystacks_train", "haystacks_eval", "train", "evaluate",
            "report"} <= stages
    train_metrics = {row[0] for row in db.execute(
        "select distinct m.key from metrics m join tags t on m.run_uuid = t.run_uuid "
        "where t.key = 'stage' and t.value = 'train'")}
    assert {"loss", "tokens_per_s"} <= train_metrics  # the Trainer's own logging lands in the step's run
    identities = dict(db.execute("select p.key, p.value from params p join tags t on p.run_uuid = t.run_uuid "
                                 "where t.key = 'stage' and t.value = 'identity'").fetchall())
    assert identities["model_identity"].startswith("files:")  # what the base's weights were, beside its results
    assert identities["tokenizer_identity"].startswith("files:")
    parents = [row[0] for row in db.execute("select run_uuid from tags where key = 'needlework.parent'")]
    assert len(parents) == 1  # one parent run for the composed configuration ...
    children = {row[0] for row in db.execute("select value from tags where key = 'mlflow.parentRunId'")}
    assert children == set(parents)  # ... and every step's run is its child
    parent_metrics = {row[0] for row in db.execute("select key from metrics where run_uuid = ?", parents)}
    assert {"finetuned.accuracy", "base.accuracy", "majority.accuracy"} <= parent_metrics
    assert list((small_run / "results" / "mlruns").rglob("index.html"))  # artifacts live under results/
    assert not (small_run / "mlruns").exists()


@pytest.mark.slow
def test_a_rerun_does_nothing(small_run):
    result = snakemake(small_run, "-n", overrides=SMALL)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_data_half_is_byte_identical_across_runs(tmp_path):
    outputs = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        result = snakemake(workdir, "haystacks", overrides=SMALL)
        assert result.returncode == 0, result.stderr[-4000:]
        outputs.append({p.relative_to(workdir): p.read_bytes()
                        for pattern in ("results/corpus/*/corpus.jsonl", "results/labels/*/labels.jsonl",
                                        "results/needles/*/needles.jsonl", "results/haystacks/*/*.jsonl")
                        for p in workdir.glob(pattern)})
    assert len(outputs[0]) == 5 and outputs[0] == outputs[1]  # corpus, needles, labels, train, eval


def test_published_benchmark_file_format(tmp_path):
    """{name, bio, json} as in the published benchmark's files: anonymized already, labels included."""
    path = tmp_path / "bios.jsonl"
    with path.open("w") as fh:
        for rec in generate(300, seed=3):
            if "birth_date" in rec["infobox"]:
                label = label_from_infobox(rec["infobox"], rec["text"]).model_dump()
                fh.write(json.dumps({"name": rec["name"], "bio": rec["text"], "json": json.dumps(label)}) + "\n")
    overrides = (f"data=jsonl data.path={path} data.name_field=name data.text_field=bio data.label_field=json "
                 f"data.anonymize=false labeler=field context.lengths=[384] context.depths=[50] context.needles_per_cell=3 "
                 f"context.train_lengths=[384] context.train_examples=5 needles.n_train=20 needles.n_eval=3 "
                 f"needles.max_words=60")
    result = snakemake(tmp_path / "w", "haystacks", overrides=overrides)
    assert result.returncode == 0, result.stderr[-4000:]
    grid = [json.loads(line) for line in _only(tmp_path / "w" / "results" / "haystacks", "eval-*/eval.jsonl")
            .read_text().splitlines()]
    assert len(grid) == 3
    names = {json.loads(line)["name"] for line in path.read_text().splitlines()}
    for record in grid:
        question = record["messages"][1]["content"].rsplit("extract information about ", 1)[1].rstrip(".")
        assert question in names  # not anonymized again
        assert json.loads(record["messages"][2]["content"]).keys() >= {"nationality", "date_of_birth"}


def test_wiki_bio_local_file(tmp_path):
    path = tmp_path / "wikibio.jsonl"
    with path.open("w") as fh:
        for rec in generate(50, seed=4):
            keys = list(rec["infobox"])
            fh.write(json.dumps({
                "input_text": {"table": {"column_header": keys, "row_number": [1] * len(keys),
                                         "content": [rec["infobox"][k] for k in keys]},
                               "context": rec["name"] + "\n"},
                "target_text": rec["text"].replace("(", "-lrb-").replace(")", "-rrb-") + "\n"}) + "\n")
    result = snakemake(tmp_path / "w", "corpus", overrides=f"data=wiki_bio data.path={path}")
    assert result.returncode == 0, result.stderr[-4000:]
    corpus = [json.loads(line) for line in _only(tmp_path / "w" / "results" / "corpus", "*/corpus.jsonl")
              .read_text().splitlines()]
    assert corpus and all(r["id"].startswith("wiki_bio-train-") for r in corpus)
    assert not any("-lrb-" in r["text"] for r in corpus)
    originals = {rec["name"] for rec in generate(50, seed=4)}
    assert not originals & {r["name"] for r in corpus}  # anonymized


def test_unknown_key_stops_before_any_job(tmp_path):
    result = snakemake(tmp_path, overrides="context.lenghts=[512]")
    assert result.returncode != 0
    assert "context.lenghts" in result.stderr
    assert not (tmp_path / "results").exists()


def test_malformed_source_names_file_and_line_and_leaves_no_output(tmp_path):
    path = tmp_path / "bios.jsonl"
    path.write_text('{"name": "a b", "bio": "a b was a poet ."}\n{"name": "c d", "bio": \n')
    result = snakemake(tmp_path / "w", "corpus",
                       overrides=f"data=jsonl data.path={path} data.text_field=bio")
    assert result.returncode != 0
    assert f"{path}:2" in result.stderr
    assert not list((tmp_path / "w").glob("results/corpus/*/corpus.jsonl"))


def test_missing_api_key_stops_before_any_job(tmp_path):
    result = snakemake(tmp_path, overrides="eval.models=[base,gpt-4o-mini]", env={"OPENAI_API_KEY": ""})
    assert result.returncode != 0
    assert "OPENAI_API_KEY" in result.stderr
    assert not list(tmp_path.glob("results/corpus/*/corpus.jsonl"))


def test_blog_16k_dag(tmp_path):
    result = snakemake(tmp_path, "-n", overrides="experiment=blog_16k")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for rule in ("build_corpus", "label_needles", "labeler_agreement", "haystacks_train", "haystacks_eval",
                 "finetune", "evaluate_model", "majority_baseline", "make_report"):
        assert rule in out
    assert re.search(r"evaluate_model\s+5\b", out)  # finetuned, base, mixtral, gpt-3.5, gpt-4
