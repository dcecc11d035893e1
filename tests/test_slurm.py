"""The workflow on a real single-node SLURM (Debian's slurm-wlm, munge, slurmdbd + MariaDB for sacct) through
profiles/slurm and snakemake-executor-plugin-slurm. tests/slurm/start.sh brings the cluster up on localhost; the
test skips only where it cannot (not root, no packages and no apt-get, a foreign /etc/slurm/slurm.conf), saying why.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from workflow_helpers import ROOT, SMALL, SNAKEMAKE, snakemake

# Resources the training step must ask SLURM for (conf/resources/, overridden to fit this machine).
TRAIN_RESOURCES = "resources.train.cpus=1 resources.train.mem_mb=1500 resources.train.runtime=7"


@pytest.fixture(scope="module")
def slurm_cluster():
    # A fresh temp dir, world-traversable: MariaDB and munge run as their own users, and pytest's tmp_path lies
    # under a root-only directory they cannot enter.
    state = Path(tempfile.mkdtemp(prefix="needlework-slurm-"))
    state.chmod(0o755)
    started = subprocess.run([str(ROOT / "tests" / "slurm" / "start.sh"), str(state)], capture_output=True,
                             text=True, timeout=600)
    if started.returncode == 3:  # the script's "cannot start here", with the reason
        pytest.skip(started.stderr.strip().splitlines()[-1])
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        yield state
    finally:
        subprocess.run([str(ROOT / "tests" / "slurm" / "stop.sh"), str(state)], timeout=120)
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.slow
def test_training_chain_runs_as_slurm_jobs_with_the_configured_resources(slurm_cluster, tmp_path):
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 2))
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "train",
           "--profile", str(ROOT / "profiles" / "slurm"), "--slurm-init-seconds-before-status-checks", "2",
           "--seconds-between-status-checks", "3", "--config", f"overrides={SMALL} {TRAIN_RESOURCES}"]
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert list(tmp_path.glob("results/train/*/adapter/adapter_model.safetensors"))

    accounting = subprocess.run(["sacct", "-X", "-n", "-P", "-S", since, "-o", "Comment,State,ReqMem,Timelimit,ReqCPUS"],
                                capture_output=True, text=True, check=True).stdout
    jobs = {line.split("|")[0].split("_wildcards_")[0]: line.split("|")[1:]  # comment: rule_<name>[_wildcards_..]
            for line in accounting.splitlines() if line.startswith("rule_")}
    assert set(jobs) == {"rule_build_corpus", "rule_select_needles", "rule_label_needles",  # the base is shipped
                         "rule_haystacks_train", "rule_finetune"}, accounting
    assert all(state == "COMPLETED" for state, *_ in jobs.values()), accounting
    _, mem, limit, cpus = jobs["rule_finetune"]
    assert limit == "00:07:00" and cpus == "1", accounting  # resources.train.runtime / .cpus
    assert int(mem.rstrip("M")) >= 1500, accounting  # resources.train.mem_mb (the plugin adds a little headroom)
    assert jobs["rule_build_corpus"][2] == "00:30:00", accounting  # the profile's default-resources


def test_the_shipped_cpu_base_asks_for_no_gpu(tmp_path):
    """The default's tiny base (`gpus: 0`) trains and evaluates on CPU: a GPU request would make sbatch refuse the
    job on a cluster without GPUs."""
    result = snakemake(tmp_path, "-n", overrides="")
    assert result.returncode == 0, result.stderr[-3000:]
    for rule in ("finetune", "evaluate_model"):
        for block in result.stdout.split(f"rule {rule}:")[1:]:
            assert "gpu=0" in block.split("\n\n", 1)[0], block


def test_rules_ask_for_gpus_from_the_config(tmp_path):
    """A hub model trained on 2 GPUs asks the scheduler for 2 (`gpu`, which the SLURM plugin turns into --gpus)."""
    result = snakemake(tmp_path, "-n", "train", overrides="model=qwen2.5-0.5b train.num_processes=2 lora=r16")
    assert result.returncode == 0, result.stderr[-3000:]
    finetune = result.stdout.split("rule finetune:", 1)[1].split("\n\n", 1)[0]
    assert "gpu=2" in finetune and "mem_mb=32000" in finetune and "runtime=240" in finetune, finetune
