"""Run the real workflow (Snakemake CLI) in a scratch directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

# A small but complete experiment on the tiny test fixture (the shipped tiny base, not the default's SmolLM2):
# every stage runs, in about a minute on 2 cores.
SMALL = (
    "experiment=tiny_base data.n=300 needles.n_train=40 needles.n_eval=3 needles.max_words=80 "
    "context.lengths=[256,384] context.depths=[0,100] context.needles_per_cell=1 "
    "context.train_lengths=[512] context.train_examples=24 train.max_steps=6 train.save_steps=3 "
    "train.logging_steps=2"
)


def snakemake(workdir: Path, *args: str, overrides: str = "", env: dict | None = None,
              timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    if overrides:
        cmd += ["--config", f"overrides={overrides}"]
    full_env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
