"""Hydra multirun over the workflow [contract]:  python -m needlework.sweep -m lora=r8,r16 context.lengths=[256],[512]

Each combination is one Snakemake run of the same workflow in the same working directory (Snakemake's Python API),
its overrides passed as `--config overrides=...`. Combinations run one after another (Hydra's basic launcher):
outputs they share (same result key: corpus, needles, labels, haystacks, base model) are built by the first and
reused by the others, each combination's own outputs (training, evaluation, report) have their own keys, and no
two Snakemake instances fight over the directory lock (parallel ones delete each other's locks).
A job returns the objective, the mean accuracy of `finetuned` (of the first evaluated model if `finetuned` is not
evaluated), so optimising sweepers work:
    python -m needlework.sweep -m hydra/sweeper=optuna hydra.sweeper.direction=maximize 'lora.r=choice(4,8,16)'
MLflow: one run per sweep; each combination's parent run is its child. The sweep's run (and its Hydra sweep dir)
gets a table of every combination and their accuracy-vs-length plot after each job; it ends FAILED, its `error` tag
naming each combination that failed and why, when one did (the others still run).
Options before the Hydra arguments: `--cores N` (default: all), `--dry-run` (Snakemake -n: writes nothing under
results/, no MLflow run, no sweep dir); `--help` lists them with Hydra's own. Hydra's `--cfg job` (`--cfg all`:
with Hydra's settings) prints the composed config and runs nothing (through Snakemake: `snakemake --config print_config=true overrides="..."`). An override naming a key the
config lacks stops before any run, naming the nearest key (`lora.rr=16`: did you mean lora.r?).
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.singleton import Singleton
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from needlework import tracking
from needlework.config import ConfigError, check_keys, compose
from needlework.longctx.paths import Paths
from needlework.stages.reporting import SUMMARY

log = logging.getLogger("needlework")


def _repo_root() -> Path:
    """The checkout holding Snakefile and conf/: $NEEDLEWORK_ROOT, this package's checkout, or the cwd."""
    here = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("NEEDLEWORK_ROOT") or (here if (here / "Snakefile").exists() else Path.cwd()))


ROOT = _repo_root()
# Column order of the sweep table (the columns a user compares); `acc_len_*` columns follow.
TABLE_PARAMS = ("model.name", "context.lengths", "lora.method", "lora.r", "lora.alpha", "lora.target_modules")
TABLE_METRICS = ("objective", "usd_per_1k_queries", "train.tokens_per_s", "wall_time_s")
_SWEPT_ENV = "NEEDLEWORK_SWEPT_KEYS"  # what the sweep varies (set before the first job)
_OPTIONS = {"cores": "all", "dry_run": False}  # set by cli() from the arguments Hydra does not know
USAGE = """usage: python -m needlework.sweep [--cores N] [--dry-run] [-m] [--cfg job|all] [OVERRIDES ...]
  --cores N      cores of each combination's Snakemake run (default: all)
  --dry-run      show each combination's jobs (snakemake -n) and run nothing
  -m             multirun: one workflow run per combination (e.g. lora=r8,r16)
  --cfg job|all  print the composed config (all: with Hydra's settings) and run nothing
  OVERRIDES      Hydra overrides, e.g. experiment=blog_16k lora=r64 'context.lengths=[256, 512]'
One run without the sweep: snakemake --cores all --config overrides="lora=r64" (or lora=r64, or --configfile
FILE); add print_config=true to print the composed config instead.
"""


def combination_config(overrides: list[str]) -> dict[str, Any]:
    """Compose a combination's config outside the running Hydra app (its GlobalHydra is set aside meanwhile)."""
    with _own_hydra():
        return compose(overrides, config_dir=ROOT / "conf")


def run_workflow(overrides: list[str], cores: int | str = "all", dry_run: bool = False,
                 workdir: Path | None = None) -> None:
    """One Snakemake run of the workflow (all targets) with these Hydra overrides, in `workdir` (default: cwd)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (ConfigSettings, DAGSettings, ExecutionSettings, OutputSettings,
                                          ResourceSettings)

    n_cores = os.cpu_count() if cores == "all" else int(cores)
    text = " ".join(shlex.quote(o) for o in overrides)
    with _own_hydra(), SnakemakeApi(OutputSettings(dryrun=dry_run)) as api:
        workflow = api.workflow(snakefile=ROOT / "Snakefile", workdir=Path(workdir or Path.cwd()).resolve(),
                                resource_settings=ResourceSettings(cores=n_cores),
                                config_settings=ConfigSettings(config={"overrides": text}))
        workflow.dag(DAGSettings()).execute_workflow(
            executor="local", pseudo_executor="dryrun" if dry_run else None,
            execution_settings=ExecutionSettings(lock=True))


def objective(cfg: dict[str, Any]) -> float:
    """Mean accuracy (over all cells, weighted by their needles) of `finetuned`, else the first evaluated model."""
    models = cfg["eval"]["models"]
    model = "finetuned" if "finetuned" in models else models[0]
    cells = pd.read_csv(Paths(cfg).eval_dir(model) / "cells.csv")
    return float((cells["accuracy"] * cells["n"]).sum() / cells["n"].sum())


def sweep_table(children: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per combination run: what it varied and what a user sorts by."""
    rows = []
    for child in children:
        params, metrics = child["params"], child["metrics"]
        row = {"run": child["run_name"], **{k: params.get(k) for k in TABLE_PARAMS}}
        scored = [k.removesuffix(".accuracy") for k in metrics if k.endswith(".accuracy") and k != "majority.accuracy"]
        model = "finetuned" if "finetuned" in scored or not scored else scored[0]
        row.update(objective=metrics.get("objective", metrics.get(f"{model}.accuracy")),
                   usd_per_1k_queries=metrics.get(f"{model}.usd_per_1k_queries"),
                   **{k: metrics.get(k) for k in TABLE_METRICS[2:]})
        row.update({k.removeprefix(f"{model}."): v for k, v in sorted(metrics.items())
                    if k.startswith(f"{model}.acc_len_")})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_accuracy_vs_length(table: pd.DataFrame, out_png: Path) -> Path:
    """Accuracy vs context length, one line per combination."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for row in table.itertuples(index=False):
        points = sorted((int(k.removeprefix("acc_len_")), v) for k, v in row._asdict().items()
                        if k.startswith("acc_len_") and v == v and v is not None)
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=row.run)
    ax.set(xlabel="context length (tokens)", ylabel="accuracy", ylim=(0, 1), title="Sweep: accuracy vs length")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def record_sweep(cfg: dict[str, Any], sweep_id: str, out_dir: Path) -> pd.DataFrame:
    """Table and plot of every combination so far, on the sweep's run and in the Hydra sweep dir."""
    table = sweep_table(tracking.sweep_children(cfg, sweep_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "sweep_summary.csv", index=False)
    png = plot_accuracy_vs_length(table, out_dir / "sweep_accuracy_vs_length.png")
    best = table["objective"].max() if table["objective"].notna().any() else None
    tracking.log_to_sweep(cfg, sweep_id, {"combinations": len(table), "best_objective": best},
                          [out_dir / "sweep_summary.csv", png])
    return table


class SweepRun(Callback):
    """Before the first job (in the sweep's own process): create the sweep's MLflow run and name it to the jobs."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _OPTIONS["dry_run"]:
            return
        parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
        os.environ[_SWEPT_ENV] = ",".join(o.key_or_group for o in parsed if o.is_sweep_override())
        base = {"name": config.name, "results_dir": config.results_dir,
                "tracking": OmegaConf.to_container(config.tracking, resolve=True)}
        run_id = tracking.start_sweep(base, " ".join(config.hydra.overrides.task))
        if run_id:
            os.environ[tracking.SWEEP_RUN_ENV] = run_id
            log.info("MLflow sweep run %s", run_id)


@hydra.main(config_path=str(ROOT / "conf"), config_name="config", version_base="1.3")
def main(_: DictConfig) -> float:
    hc = HydraConfig.get()
    launcher = hc.launcher.get("_target_", "")
    if not launcher.endswith("BasicLauncher"):
        raise SystemExit(f"needlework.sweep: hydra/launcher {launcher} runs jobs in parallel; parallel Snakemake "
                         "runs in one directory delete each other's locks. Use the default (basic) launcher.")
    overrides = [*hc.overrides.task, *(o for o in hc.overrides.hydra if o.startswith("hydra.searchpath"))]
    cfg = combination_config(overrides)
    swept = set(filter(None, os.environ.get(_SWEPT_ENV, "").split(",")))
    # The combination's MLflow run is named by what the sweep varies (e.g. "lora=r16"), not by every override.
    os.environ[tracking.RUN_NAME_ENV] = " ".join(o for o in overrides if o.split("=", 1)[0].lstrip("+~") in swept)
    started = time.time()
    sweep_id = os.environ.get(tracking.SWEEP_RUN_ENV)
    try:
        run_workflow(overrides, _OPTIONS["cores"], _OPTIONS["dry_run"])
    except BaseException as exc:  # Snakemake's WorkflowError, a config error's SystemExit, Ctrl-C
        if sweep_id and tracking.tracking_uri(cfg):
            tracking.fail_sweep(cfg, sweep_id, os.environ[tracking.RUN_NAME_ENV] or " ".join(overrides), str(exc))
        raise
    if _OPTIONS["dry_run"]:
        return 0.0
    result = objective(cfg)
    log.info("combination %s: objective %.4f in %.0fs", " ".join(overrides), result, time.time() - started)
    if sweep_id and tracking.tracking_uri(cfg):
        # The combination's run gets the report's metrics also when nothing had to rerun (all outputs existed).
        summary = json.loads((Paths(cfg).report_dir / SUMMARY).read_text())
        tracking.log_to_parent(cfg, {**summary, "objective": result}, [])
        record_sweep(cfg, sweep_id, Path(hc.sweep.dir))
    return result


def cli(argv: list[str] | None = None) -> None:
    """Take `--cores N` and `--dry-run`, add the sweep's defaults (callback, output dirs), hand the rest to Hydra."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--cores" in args:
        i = args.index("--cores")
        _OPTIONS["cores"] = args[i + 1]
        del args[i:i + 2]
    if "--dry-run" in args:
        args.remove("--dry-run")
        _OPTIONS["dry_run"] = True
    if {"--help", "-h"} & set(args):
        print(USAGE)  # Hydra's help follows
    elif not {"--info", "-i", "--hydra-help", "--shell-completion", "-sc"} & set(args):
        try:
            check_keys([a for a in args if "=" in a and not a.startswith("-")], ROOT / "conf")
        except ConfigError as exc:
            raise SystemExit(f"needlework: {exc}") from None
    given = {a.split("=", 1)[0].lstrip("+") for a in args}
    # A dry run keeps Hydra's own files (multirun.yaml, each job's .hydra/ and log) in a scratch dir it removes.
    scratch = Path(tempfile.mkdtemp(prefix="needlework-dry-run-")) if _OPTIONS["dry_run"] else Path("results")
    defaults = {"hydra.callbacks.needlework_sweep._target_": "needlework.sweep.SweepRun",
                "hydra.sweep.dir": f"{scratch}/sweeps/${{now:%Y-%m-%d_%H-%M-%S}}",
                "hydra.run.dir": f"{scratch}/sweeps/run-${{now:%Y-%m-%d_%H-%M-%S}}"}
    extra = [f"+{k}={v}" if "callbacks" in k else f"{k}={v}" for k, v in defaults.items() if k not in given]
    sys.argv = [sys.argv[0], *args, *extra]
    try:
        main()
    finally:
        if _OPTIONS["dry_run"]:
            shutil.rmtree(scratch, ignore_errors=True)


class _own_hydra:
    """Set the running Hydra app's global state aside while needlework composes its own (and restore it)."""

    def __enter__(self) -> None:
        self._state = Singleton.get_state()
        GlobalHydra.instance().clear()

    def __exit__(self, *exc: Any) -> None:
        Singleton.set_state(self._state)


if __name__ == "__main__":
    # Run the imported module, not this __main__ copy: Hydra loads the SweepRun callback from `needlework.sweep`,
    # which must see the options cli() sets (a --dry-run that only __main__ knew created the sweep's MLflow run).
    from needlework.sweep import cli as _cli

    _cli()
