"""The workflow reruns exactly what a changed model feeds (`snakemake -n` on a local model directory): new weights
rerun training and evaluation but not the haystacks, a new tokenizer the haystacks too, a copy elsewhere nothing."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from needlework.identity import HASH_CACHE_ENV
from test_identity import SHIPPED, change_one_weight, change_tokenizer
from workflow_helpers import SMALL, snakemake


def planned(result) -> dict[str, int]:
    """The dry run's job counts per rule (its "Job stats" table); empty when there is nothing to do."""
    assert result.returncode == 0, result.stderr[-4000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def dry_run(workdir: Path, model_dir: Path):
    return snakemake(workdir, "-n", overrides=f"{SMALL} model.path={model_dir}", env=hash_cache(workdir))


def hash_cache(workdir: Path) -> dict[str, str]:
    return {HASH_CACHE_ENV: str(workdir.parent / "hash-cache.json")}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A workdir where every output of the small experiment on a local copy of the tiny base is up to date (made
    empty and marked done with --touch: the dry runs below only look at what would run)."""
    root = tmp_path_factory.mktemp("identity")
    model = Path(shutil.copytree(SHIPPED, root / "model"))
    workdir = root / "w"
    result = dry_run(workdir, model)
    assert not (workdir / "results").exists()  # identities are worked out without writing under results/
    outputs = [out for line in re.findall(r"^\s+output: (.+)$", result.stdout, re.M) for out in line.split(", ")]
    assert any(out.startswith("results/identity/") for out in outputs)
    for out in map(workdir.joinpath, outputs):
        if "." in out.name:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.touch()
        else:  # a directory output (adapter, dataset, figures)
            out.mkdir(parents=True, exist_ok=True)
    touched = snakemake(workdir, "--touch", overrides=f"{SMALL} model.path={model}", env=hash_cache(workdir))
    assert touched.returncode == 0, touched.stderr[-4000:]
    assert planned(dry_run(workdir, model)) == {}
    return root, workdir


def variant(root: Path, name: str) -> Path:
    return Path(shutil.copytree(SHIPPED, root / name))


def test_a_copy_of_the_model_elsewhere_reruns_nothing(done):
    root, workdir = done
    assert planned(dry_run(workdir, variant(root, "copied-elsewhere"))) == {}


def test_new_weights_rerun_training_and_evaluation_but_not_the_haystacks(done):
    root, workdir = done
    model = variant(root, "new-weights")
    change_one_weight(model)
    assert planned(dry_run(workdir, model)) == {
        "model_identity": 1,  # the new weights' record (the tokenizer's is unchanged)
        "finetune": 1,
        "evaluate_model": 3,  # base, finetuned and the base scaled like the fine-tune
        "make_report": 1,
        "all": 1,
    }


def test_a_new_tokenizer_rebuilds_the_haystacks(done):
    root, workdir = done
    model = variant(root, "new-tokenizer")
    change_tokenizer(model)
    jobs = planned(dry_run(workdir, model))
    assert jobs["haystacks_train"] == 1 and jobs["haystacks_eval"] == 1 and jobs["model_identity"] == 2
    assert jobs["finetune"] == 1 and jobs["majority_baseline"] == 1  # the grid changed
    assert not {"build_corpus", "select_needles", "label_needles"} & set(jobs)
