"""Failures show in MLflow (the failed step's run and its parent FAILED, with the step's one-line error); a fixed
rerun leaves the parent FINISHED; dry runs write nothing under results/."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from needlework import tracking
from needlework.config import compose
from needlework.corpus.synthetic import generate
from needlework.io import InputError
from workflow_helpers import ROOT, SMALL, snakemake

SOURCE = "experiment=tiny_base data=jsonl data.text_field=bio data.path={path}"


def _bios(path, malformed: bool) -> None:
    rows = [json.dumps({"name": rec["name"], "bio": rec["text"]}) for rec in generate(40, seed=3)]
    if malformed:
        rows.insert(5, '{"name": "c d", "bio": ')
    path.write_text("\n".join(rows) + "\n")


def _runs(db_path, where: str, *args) -> list[tuple[str, str, str | None]]:
    """(run id, status, error tag) of the runs whose tags match `where` (on tags t)."""
    db = sqlite3.connect(db_path)
    return db.execute("select r.run_uuid, r.status, (select value from tags e where e.run_uuid = r.run_uuid "
                      "and e.key = 'error') from runs r join tags t on t.run_uuid = r.run_uuid "
                      f"where {where} order by r.start_time", args).fetchall()


def test_a_failed_step_fails_its_run_and_the_parent_until_a_fixed_rerun(tmp_path):
    path = tmp_path / "bios.jsonl"
    _bios(path, malformed=True)
    workdir = tmp_path / "w"
    failed = snakemake(workdir, "corpus", overrides=SOURCE.format(path=path))
    assert failed.returncode != 0
    db = workdir / "results" / "mlflow.db"
    [(_, status, error)] = _runs(db, "t.key = 'stage' and t.value = 'corpus'")
    assert status == "FAILED"
    assert error.startswith(f"{path}:6: malformed JSON")
    assert f"needlework: {error}\n" in failed.stderr  # the tag is the line the step printed
    [(parent, status, parent_error)] = _runs(db, "t.key = 'needlework.parent'")
    assert status == "FAILED" and parent_error == f"corpus: {error}"

    _bios(path, malformed=False)  # the user fixes the file (same config) and reruns
    fixed = snakemake(workdir, "corpus", overrides=SOURCE.format(path=path))
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert _runs(db, "t.key = 'needlework.parent'") == [(parent, "FINISHED", None)]
    assert [s for _, s, _ in _runs(db, "t.key = 'stage' and t.value = 'corpus'")] == ["FAILED", "FINISHED"]


def test_a_failed_combination_fails_the_sweep_run_naming_it(tmp_path):
    path = tmp_path / "bios.jsonl"
    _bios(path, malformed=False)
    cmd = [sys.executable, "-m", "needlework.sweep", "--cores", "1", "-m", "experiment=tiny_base", "data=jsonl",
           f"data.path={path}", "data.text_field=bio_a,bio_b"]  # both miss their field: fast failures
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, NEEDLEWORK_ROOT=str(ROOT)))
    assert result.returncode != 0
    db = tmp_path / "results" / "mlflow.db"
    [(_, status, error)] = _runs(db, "t.key = 'needlework.sweep'")
    assert status == "FAILED"
    assert error == (f"data.text_field=bio_a: corpus: {path}:1: missing field 'bio_a'; "
                     f"data.text_field=bio_b: corpus: {path}:1: missing field 'bio_b'")
    assert [s for _, s, _ in _runs(db, "t.key = 'needlework.parent'")] == ["FAILED", "FAILED"]


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # stage_run sets it for the HF Trainer: not for later tests
    return compose(["experiment=tiny_base", f"results_dir={tmp_path / 'results'}"], config_dir=ROOT / "conf")


def test_the_error_tag_never_shows_a_secret(cfg, monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "sk-live-0123456789")
    tracking.init(cfg)
    with pytest.raises(InputError), tracking.stage_run(cfg, "labels", "k", {}):
        raise InputError("server answered 401 for sk-live-0123456789\n(check the key)")
    with pytest.raises(ZeroDivisionError), tracking.stage_run(cfg, "train", "k", {}):
        1 / 0  # noqa: B018 - a bug: its type and message
    db = f"{cfg['results_dir']}/mlflow.db"
    assert _runs(db, "t.key = 'stage' and t.value = 'labels'")[0][1:] == (
        "FAILED", "server answered 401 for *** (check the key)")
    assert _runs(db, "t.key = 'stage' and t.value = 'train'")[0][1:] == ("FAILED", "ZeroDivisionError: division by zero")


def test_a_sweep_that_had_a_failed_combination_stays_failed(cfg):
    sweep = tracking.start_sweep(cfg, "lora=r8,r16")
    tracking.fail_sweep(cfg, sweep, "lora=r8", "no parent run: this message")
    tracking.log_to_sweep(cfg, sweep, {"combinations": 2}, [])  # the next combination succeeded
    db = f"{cfg['results_dir']}/mlflow.db"
    assert _runs(db, "t.key = 'needlework.sweep'")[0][1:] == ("FAILED", "lora=r8: no parent run: this message")


def test_a_dry_run_writes_nothing_under_results(tmp_path):
    results = tmp_path / "elsewhere" / "results"
    result = snakemake(tmp_path / "w", "-n", overrides=f"{SMALL} results_dir={results}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "This was a dry-run" in result.stdout
    assert not results.exists() and not (tmp_path / "w" / "results").exists()


STOPPED_STEP = """
import json, signal, sys, time
from needlework import tracking
from needlework.stages.runtime import step_log

signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as on a terminal (a background parent ignores it)

cfg = json.loads(open(sys.argv[1]).read())
tracking.init(cfg)
with step_log(sys.argv[2]), tracking.stage_run(cfg, "train", "k", {}):
    print("training", flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_step_stopped_from_outside_ends_its_run_killed_with_one_line(cfg, tmp_path, stop):
    """A cancelled cluster job or a killed workflow (SIGTERM), or Ctrl-C: the run must not stay RUNNING forever."""
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    log = tmp_path / "step.log"
    step = subprocess.Popen([sys.executable, "-c", STOPPED_STEP, str(tmp_path / "cfg.json"), str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert step.stdout.readline() == "training\n"  # inside the run
    step.send_signal(stop)
    _, err = step.communicate(timeout=60)
    assert step.returncode == 128 + stop
    line = f"stopped by {stop.name}"
    assert err.strip().splitlines()[-1] == f"needlework: {line}" and line in log.read_text()
    db = f"{cfg['results_dir']}/mlflow.db"
    assert _runs(db, "t.key = 'stage' and t.value = 'train'")[0][1:] == ("KILLED", line)
