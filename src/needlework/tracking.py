"""MLflow tracking: the only module that imports mlflow.

One MLflow experiment per `name` (experiment config). Each composed configuration gets a parent run (created
once, before any job); every workflow step opens a child run tagged with its stage and result key that logs its
config subtree as params, its metrics, and its small outputs as artifacts. The report step also logs its summary
and the HTML report into the parent run. A sweep (`needlework.sweep`) adds one run above them all: each
combination's parent run is its child (NEEDLEWORK_SWEEP_RUN_ID names it to every job).
A step that fails leaves its run FAILED with the line it ended with as tag `error` (KILLED when it was stopped:
SIGTERM or Ctrl-C); the workflow's end (`end_parent`, from Snakemake's onsuccess/onerror) sets the parent run FAILED
(the failed steps' lines as its `error`) or, after a successful rerun, FINISHED again; a sweep whose combination
failed ends FAILED (`fail_sweep`).
Error tags never hold the value of an environment variable that names a key, token, secret or password.
"""
from __future__ import annotations

import contextlib
import os
import platform
import re
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from needlework.version import code_version

SWEEP_RUN_ENV = "NEEDLEWORK_SWEEP_RUN_ID"
RUN_NAME_ENV = "NEEDLEWORK_RUN_NAME"  # a sweep names each combination's run by what it varies
# MLflow 3's UI opens an experiment by its kind: untagged ones land on an empty GenAI traces page, this kind on the
# runs table (values in mlflow/server/js: genai_development | custom_model_development).
_EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
ERROR_TAG = "error"
# Variables whose value never shows in a tag: OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD ...
_SECRET_ENV = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(_|$)", re.I)
_MAX_TAG = 5000  # MLflow's limit on a tag value is 8000 characters
_WORKFLOW_START_MS: list[int] = []  # when init() ran last: the failed steps end_parent reports ran after it
# Versions recorded on every run: the stack, and what decides the bytes of a dataset (Faker's name lists make the
# synthetic corpus, tokenizers the BPE tokenizer, numpy/torch the seeded draws and losses, regex the name matching).
_PACKAGES = ("needlework", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers",
             "snakemake", "hydra-core", "mlflow", "openai", "Faker", "numpy", "pandas", "pyarrow", "regex", "bm25s")


def tracking_uri(cfg: dict[str, Any]) -> str | None:
    """The configured URI; by default a SQLite file under results_dir (absolute, so any cwd works)."""
    tracking = cfg.get("tracking", {})
    if not tracking.get("enabled", True):
        return None
    if tracking.get("uri"):
        return tracking["uri"]
    return f"sqlite:///{(Path(cfg['results_dir']) / 'mlflow.db').resolve()}"


def init(cfg: dict[str, Any]) -> None:
    """Create the tracking DB, the experiment and the parent run once, before parallel jobs (concurrent first
    writers corrupt a fresh SQLite DB)."""
    uri = tracking_uri(cfg)
    if uri is None:
        return
    _open_store(uri)
    parent_run_id(cfg)
    _WORKFLOW_START_MS[:] = [int(time.time() * 1000)]


def _open_store(uri: str) -> None:
    """The tracking URI of this process, its SQLite file's folder created."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    import mlflow

    mlflow.set_tracking_uri(uri)


def _experiment_id(cfg: dict[str, Any]) -> str:
    """The MLflow experiment of `name`, created with its artifacts under results_dir/mlruns (not the cwd)."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(cfg["name"])
    if experiment is not None:
        for tag, value in _EXPERIMENT_KIND.items():
            if experiment.tags.get(tag) is None:  # a store made before the tag existed
                mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, tag, value)
        return experiment.experiment_id
    artifacts = (Path(cfg["results_dir"]) / "mlruns").resolve().as_uri()
    return mlflow.create_experiment(cfg["name"], artifact_location=artifacts, tags=_EXPERIMENT_KIND)


def parent_key(cfg: dict[str, Any]) -> str:
    """Identifies one composed configuration of an experiment (its overrides resolved)."""
    from needlework.config import fingerprint

    return f"{cfg['name']}-{fingerprint({k: v for k, v in cfg.items() if k != '_meta'})}"


def _parent_tag(cfg: dict[str, Any]) -> str:
    """The `needlework.parent` tag of the configuration's parent run (inside a sweep, that sweep's own)."""
    sweep = os.environ.get(SWEEP_RUN_ENV)
    return parent_key(cfg) + (f"@{sweep}" if sweep else "")


def parent_run_id(cfg: dict[str, Any]) -> str:
    """The id of the configuration's parent run, created (with the full config as params) if it does not exist;
    inside a sweep, a child of the sweep's run."""
    import mlflow

    sweep = os.environ.get(SWEEP_RUN_ENV) or None
    key = _parent_tag(cfg)
    experiment = mlflow.set_experiment(experiment_id=_experiment_id(cfg))
    found = mlflow.search_runs([experiment.experiment_id], filter_string=f"tags.`needlework.parent` = '{key}'",
                               output_format="list", max_results=1)
    if found:
        return found[0].info.run_id
    overrides = " ".join(cfg.get("_meta", {}).get("overrides", []))
    tags = {"needlework.parent": key, "experiment": cfg["name"], "overrides": overrides, **environment_tags()}
    name = os.environ.get(RUN_NAME_ENV) or overrides or cfg["name"]
    with mlflow.start_run(run_name=name, tags=tags, parent_run_id=sweep) as run:
        mlflow.log_params({k: str(v)[:6000] for k, v in flatten({k: v for k, v in cfg.items()
                                                                   if k != "_meta"}).items()})
    return run.info.run_id


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"a.b.c": value} (lists kept as their string form)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def environment_tags() -> dict[str, str]:
    """Versions of the stack and the git commit: what a rerun needs to reproduce a number."""
    tags = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            tags[f"version.{pkg}"] = metadata.version(pkg)
    commit = code_version().get("git_commit")
    if commit:
        tags["git_commit"] = commit
    return tags


class StageRun:
    """What a step records; a no-op when tracking is disabled."""

    def __init__(self, run: Any | None):
        self._run = run

    @property
    def active(self) -> bool:
        return self._run is not None

    @property
    def run_id(self) -> str | None:
        return self._run.info.run_id if self._run else None

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if not self._run:
            return
        import mlflow

        numeric = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, int | float) and v == v}
        if numeric:
            mlflow.log_metrics(numeric, step=step)

    def log_params(self, params: dict[str, Any]) -> None:
        if not self._run:
            return
        import mlflow

        mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if not self._run:
            return
        import mlflow

        path = Path(path)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path or path.name)
        elif path.exists():
            mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_dict(self, obj: dict[str, Any], name: str) -> None:
        if not self._run:
            return
        import mlflow

        mlflow.log_dict(obj, name)


@contextlib.contextmanager
def stage_run(cfg: dict[str, Any], stage: str, key: str, params: dict[str, Any]) -> Iterator[StageRun]:
    """Open the MLflow run of one workflow step (tags: stage, key, experiment; params: its config subtree)."""
    uri = tracking_uri(cfg)
    if uri is None:
        yield StageRun(None)
        return
    import mlflow

    mlflow.set_tracking_uri(uri)
    os.environ["MLFLOW_TRACKING_URI"] = uri  # the HF Trainer's MLflow callback reads it
    parent = parent_run_id(cfg)
    tags = {"stage": stage, "key": key, "experiment": cfg["name"], "seed": str(cfg["seed"]), **environment_tags()}
    with mlflow.start_run(run_name=f"{stage}:{key}", tags=tags, parent_run_id=parent) as run:
        recorder = StageRun(run)
        recorder.log_params({"seed": cfg["seed"], **params})
        try:
            yield recorder
        except BaseException as exc:  # the run ends FAILED (mlflow's context manager), with the step's last line
            from needlework.stages.runtime import one_line, stopped_by

            mlflow.set_tag(ERROR_TAG, scrub(one_line(exc)))
            if stopped_by(exc):  # stopped from outside: no failure of the step
                mlflow.end_run("KILLED")
            raise


def log_to_parent(cfg: dict[str, Any], metrics: dict[str, Any], artifacts: list[str | Path]) -> None:
    """Summary metrics and artifacts (the report) on the configuration's parent run, which ends now: its duration
    and `wall_time_s` span the configuration's first job to its report."""
    uri = tracking_uri(cfg)
    if uri is None:
        return
    import mlflow

    mlflow.set_tracking_uri(uri)
    _log_to_run(uri, parent_run_id(cfg), metrics, artifacts)


def _log_to_run(uri: str, run_id: str, metrics: dict[str, Any], artifacts: list[str | Path],
                status: str = "FINISHED") -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    now_ms = int(time.time() * 1000)
    wall = {"wall_time_s": (now_ms - client.get_run(run_id).info.start_time) / 1000}
    for name, value in {**flatten(metrics), **wall}.items():
        if isinstance(value, int | float) and value == value:
            client.log_metric(run_id, name, float(value), timestamp=now_ms)
    for path in map(Path, artifacts):
        if path.is_dir():
            client.log_artifacts(run_id, str(path), artifact_path=path.name)
        elif path.exists():
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, status, end_time=now_ms)


def start_sweep(cfg: dict[str, Any], description: str) -> str | None:
    """Create the run a sweep's combinations nest under (in the experiment of `cfg`); None without tracking."""
    uri = tracking_uri(cfg)
    if uri is None:
        return None
    _open_store(uri)  # no parent run: each combination makes its own
    from mlflow.tracking import MlflowClient

    tags = {"needlework.sweep": description, "experiment": cfg["name"], "mlflow.runName": f"sweep {description}",
            **environment_tags()}
    run = MlflowClient(uri).create_run(_experiment_id(cfg), tags=tags)
    return run.info.run_id


def sweep_children(cfg: dict[str, Any], sweep_id: str) -> list[dict[str, Any]]:
    """Every combination run of a sweep: {"run_name", "params", "metrics"} (latest metric values)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(cfg))
    experiments = [e.experiment_id for e in client.search_experiments()]  # a sweep over `experiment=` spans several
    runs = client.search_runs(experiments,
                              filter_string=f"tags.mlflow.parentRunId = '{sweep_id}'", order_by=["start_time ASC"])
    return [{"run_name": r.info.run_name, "params": r.data.params, "metrics": r.data.metrics} for r in runs]


def log_to_sweep(cfg: dict[str, Any], sweep_id: str, metrics: dict[str, Any], artifacts: list[str | Path]) -> None:
    """Summary metrics and artifacts (table, plot) on the sweep's run; it ends now (and again after the next),
    FAILED if a combination failed before."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(cfg)
    failed = ERROR_TAG in MlflowClient(uri).get_run(sweep_id).data.tags
    _log_to_run(uri, sweep_id, metrics, artifacts, "FAILED" if failed else "FINISHED")


def scrub(text: str) -> str:
    """`text` on one line, without the value of any environment variable named like a key, token, secret or
    password (a message can quote what a server echoed back), cut to what a tag holds."""
    for name, value in os.environ.items():
        if len(value) >= 6 and _SECRET_ENV.search(name):
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TAG else text[:_MAX_TAG - 3] + "..."


def _existing_parent(cfg: dict[str, Any]) -> tuple[Any, Any] | None:
    """(client, run) of the configuration's parent run if the store and the run exist (nothing is created)."""
    uri = tracking_uri(cfg)
    if uri is None or (uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists()):
        return None
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(cfg["name"])
    if experiment is None:
        return None
    found = client.search_runs([experiment.experiment_id], f"tags.`needlework.parent` = '{_parent_tag(cfg)}'",
                               max_results=1)
    return (client, found[0]) if found else None


def end_parent(cfg: dict[str, Any], ok: bool, log: str | None = None) -> None:
    """At the workflow's end (Snakemake's onsuccess/onerror): the parent run FINISHED (its `error` tag removed:
    a successful rerun clears an earlier failure), or FAILED with the lines of the steps that failed in this
    workflow run (else a pointer to Snakemake's log) as its `error` tag."""
    parent = _existing_parent(cfg)
    if parent is None:
        return
    client, run = parent
    if ok:
        if ERROR_TAG in run.data.tags:
            client.delete_tag(run.info.run_id, ERROR_TAG)
        if run.info.status != "FINISHED":  # the report step set it FINISHED already, at the time it ended
            client.set_terminated(run.info.run_id, "FINISHED")
        return
    since = _WORKFLOW_START_MS[0] if _WORKFLOW_START_MS else 0
    failed = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}' "
                                f"and attributes.status = 'FAILED' and attributes.start_time >= {since}",
                                order_by=["start_time ASC"])
    lines = [f"{r.data.tags.get('stage', r.info.run_name)}: {r.data.tags.get(ERROR_TAG, 'failed')}" for r in failed]
    client.set_tag(run.info.run_id, ERROR_TAG, scrub("; ".join(lines) or f"the workflow failed (see {log})"))
    client.set_terminated(run.info.run_id, "FAILED")


def fail_sweep(cfg: dict[str, Any], sweep_id: str, combination: str, message: str) -> None:
    """A combination of the sweep failed: the sweep's run ends FAILED (and stays so), its `error` tag naming each
    failed combination and why (the combination's parent run's error, else `message`)."""
    from mlflow.tracking import MlflowClient

    parent = _existing_parent(cfg)
    why = parent[1].data.tags.get(ERROR_TAG) if parent else None
    client = MlflowClient(tracking_uri(cfg))
    before = client.get_run(sweep_id).data.tags.get(ERROR_TAG)
    line = f"{combination or 'the combination'}: {why or message}"
    client.set_tag(sweep_id, ERROR_TAG, scrub(f"{before}; {line}" if before else line))
    client.set_terminated(sweep_id, "FAILED")


def hf_report_to(cfg: dict[str, Any]) -> str:
    """`report_to` for the HF Trainer: it logs loss/lr/throughput into the step's active run."""
    return "mlflow" if tracking_uri(cfg) else "none"
