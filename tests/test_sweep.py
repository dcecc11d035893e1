"""Hydra multirun over the workflow (needlework.sweep), MLflow comparison, and what a changed knob reruns."""
from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from needlework.config import compose
from needlework.longctx.paths import Paths
from needlework.sweep import objective
from workflow_helpers import ROOT, SMALL, snakemake

SHARED_STAGES = ("corpus", "needles", "labels", "haystacks_train", "haystacks_eval")  # the base is shipped


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """`python -m needlework.sweep -m lora=r8,r16 ...` on the small experiment, in a scratch directory."""
    workdir = tmp_path_factory.mktemp("sweep")
    cmd = [sys.executable, "-m", "needlework.sweep", "--cores", "2", "-m", "lora=r8,r16", *shlex.split(SMALL)]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1500,
                            env=dict(os.environ, NEEDLEWORK_ROOT=str(ROOT)))
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return workdir


def _db(workdir):
    return sqlite3.connect(workdir / "results" / "mlflow.db")


def _stage_runs(db, stage):
    return db.execute("select count(*) from tags where key = 'stage' and value = ?", (stage,)).fetchone()[0]


@pytest.mark.slow
def test_two_combinations_are_two_child_runs_under_one_sweep_run(sweep):
    db = _db(sweep)
    sweeps = [r[0] for r in db.execute("select run_uuid from tags where key = 'needlework.sweep' "
                                        "and value like 'lora=r8,r16 %'")]
    assert len(sweeps) == 1
    children = [r[0] for r in db.execute(
        "select t.run_uuid from tags t join tags p on p.run_uuid = t.run_uuid "
        "where t.key = 'mlflow.parentRunId' and t.value = ? and p.key = 'needlework.parent'", sweeps)]
    assert len(children) == 2
    ranks = {db.execute("select value from params where run_uuid = ? and key = 'lora.r'", (c,)).fetchone()[0]
             for c in children}
    assert ranks == {"8", "16"}
    for child in children:  # what a user sorts the runs table by
        metrics = {r[0] for r in db.execute("select key from metrics where run_uuid = ?", (child,))}
        assert {"finetuned.accuracy", "finetuned.acc_len_256", "finetuned.acc_len_384", "finetuned.usd_per_1k_queries",
                "train.tokens_per_s", "wall_time_s"} <= metrics
        start, end = db.execute("select start_time, end_time from runs where run_uuid = ?", (child,)).fetchone()
        assert end - start > 1000  # the run spans its combination's jobs, not the 20 ms it took to create it
    for run in (*sweeps, *children):  # nothing failed: the sweep's run and each combination's end FINISHED
        assert db.execute("select status from runs where run_uuid = ?", (run,)).fetchone() == ("FINISHED",)
    assert not db.execute("select count(*) from tags where key = 'error'").fetchone()[0]
    sweep_metrics = dict(db.execute("select key, value from latest_metrics where run_uuid = ?", sweeps).fetchall())
    assert sweep_metrics["combinations"] == 2 and 0 <= sweep_metrics["best_objective"] <= 1
    kind = db.execute("select value from experiment_tags where key = 'mlflow.experimentKind'").fetchall()
    assert kind == [("custom_model_development",)]  # the UI opens on the runs table


@pytest.mark.slow
def test_shared_stages_are_built_once_and_each_combination_keeps_its_own_outputs(sweep):
    db = _db(sweep)
    for stage in SHARED_STAGES:
        assert _stage_runs(db, stage) == 1, stage
    assert _stage_runs(db, "train") == 2 and _stage_runs(db, "report") == 2
    # base once; the scaled base and finetuned per combination (the scaled base reads its RoPE scaling from the
    # rebuilt adapter, and answers from its cache the second time: same training haystacks, same scaling)
    assert _stage_runs(db, "evaluate") == 5
    reports = sorted((sweep / "results" / "report").glob("tiny_base-*/index.html"))
    assert len(reports) == 2
    latest = sweep / "results" / "report" / "tiny_base"
    assert latest.is_symlink() and (latest / "index.html").read_text() in {r.read_text() for r in reports}
    assert len(list((sweep / "results" / "train").glob("tiny_base-lora8-*"))) == 1
    assert len(list((sweep / "results" / "train").glob("tiny_base-lora16-*"))) == 1


@pytest.mark.slow
def test_sweep_table_and_plot_and_objective(sweep, monkeypatch):
    summary = pd.read_csv(next(sweep.glob("results/sweeps/*/sweep_summary.csv")))
    assert sorted(summary["lora.r"].astype(int)) == [8, 16]
    assert {"objective", "acc_len_256", "acc_len_384", "train.tokens_per_s", "wall_time_s"} <= set(summary.columns)
    assert next(sweep.glob("results/sweeps/*/sweep_accuracy_vs_length.png")).stat().st_size > 1000
    monkeypatch.chdir(sweep)
    for rank in (8, 16):  # the objective a job returns = the fine-tuned model's mean accuracy
        cfg = compose([f"lora=r{rank}", *shlex.split(SMALL)], config_dir=ROOT / "conf")
        row = summary[summary["lora.r"].astype(int) == rank].iloc[0]
        assert objective(cfg) == pytest.approx(row["objective"])


def _planned(result) -> dict[str, int]:
    """Rule -> job count from a dry run's job stats table."""
    table = (result.stdout + result.stderr).split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.mark.slow
def test_changing_the_lora_rank_reruns_training_its_evaluation_and_the_report_only(sweep):
    result = snakemake(sweep, "-n", overrides=f"{SMALL} lora.r=4")
    assert result.returncode == 0, result.stderr[-3000:]
    # the scaled base's job reruns too (its input, the adapter it reads the RoPE scaling from, is rebuilt) but
    # answers from its cache: the scaling depends on the training haystacks, not on the rank
    assert _planned(result) == {"finetune": 1, "evaluate_model": 2, "make_report": 1, "all": 1}


@pytest.mark.slow
def test_changing_the_gpu_hour_price_reruns_the_report_only(sweep):
    result = snakemake(sweep, "-n", overrides=f"{SMALL} lora=r16 train.gpu_hour_usd=2.5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _planned(result) == {"make_report": 1, "all": 1}


@pytest.mark.slow
def test_a_combination_already_built_reruns_nothing(sweep):
    result = snakemake(sweep, "-n", overrides=f"{SMALL} lora=r8")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_optuna_sweeper_maximises_the_returned_objective(sweep):
    """hydra-optuna-sweeper over the two ranks already built: every trial reruns nothing and returns its objective."""
    cmd = [sys.executable, "-m", "needlework.sweep", "--cores", "2", "-m", "hydra/sweeper=optuna",
           "hydra.sweeper.direction=maximize", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.seed=0",
           "hydra.sweep.dir=results/sweeps/optuna", "lora=choice(r8,r16)", *shlex.split(SMALL)]
    result = subprocess.run(cmd, cwd=sweep, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, NEEDLEWORK_ROOT=str(ROOT)))
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert "Nothing to be done" in result.stdout + result.stderr
    best = yaml.safe_load((sweep / "results" / "sweeps" / "optuna" / "optimization_results.yaml").read_text())
    summary = pd.read_csv(sweep / "results" / "sweeps" / "optuna" / "sweep_summary.csv")
    assert len(summary) == 2 and best["best_value"] == pytest.approx(summary["objective"].max())
    assert best["best_params"]["lora"] in ("r8", "r16")


def test_the_report_key_holds_what_the_report_reads():
    def key(*overrides):
        return Paths(compose(list(overrides), config_dir=ROOT / "conf")).report_dir.name

    default = key()
    assert default.startswith("default-")
    for changed in ("train.gpu_hour_usd=2.5", "lora=r16", "eval.models=[base]", "context.lengths=[256]",
                    "eval.effective_margin=0.2"):
        assert key(changed) != default, changed
    for same in ("tracking.enabled=false", "resources.train.cpus=2", "train.export_merged=true"):
        assert key(same) == default, same


def _sweep_cli(workdir, *args):
    return subprocess.run([sys.executable, "-m", "needlework.sweep", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, NEEDLEWORK_ROOT=str(ROOT)))


def test_help_lists_the_sweeps_own_options_and_hydras(tmp_path):
    result = _sweep_cli(tmp_path, "--help")
    assert result.returncode == 0
    for option in ("--cores N", "--dry-run", "--cfg job|all", "== Configuration groups ==", "lora: "):
        assert option in result.stdout, option


def test_cfg_job_prints_the_composed_config_and_runs_nothing(tmp_path):
    result = _sweep_cli(tmp_path, "--cfg", "job", "lora=r64", "context.lengths=[256, 512]")
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["lora"]["r"] == 64 and printed["context"]["lengths"] == [256, 512]
    assert not (tmp_path / "results").exists()


def test_an_unknown_key_stops_with_the_nearest_one_before_any_run(tmp_path):
    result = _sweep_cli(tmp_path, "-m", "lora=r8,r16", "lora.rr=16")
    assert result.returncode != 0
    assert result.stderr.strip() == "needlework: config key lora.rr: not in the config (did you mean lora.r?)"
    assert not (tmp_path / "results").exists()


def test_a_dry_run_writes_nothing_under_results(tmp_path):
    results = tmp_path / "elsewhere"
    result = _sweep_cli(tmp_path, "--dry-run", "-m", "lora=r8,r16", "experiment=tiny_base", f"results_dir={results}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout + result.stderr).count("This was a dry-run") >= 2  # each combination's jobs are shown
    assert not (tmp_path / "results").exists() and not results.exists()  # no MLflow run, no sweep dir, no logs
