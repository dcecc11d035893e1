# Helpers only (no rules): compose and validate the configuration, name every output, list targets.
import re
import sys
from pathlib import Path

from needlework.config import ConfigError, compose, group_config, model_config, print_requested, to_yaml
from needlework.config import workflow_overrides
from needlework.io import InputError
from needlework import tracking
from needlework.env import apply_offline_env, prepend_pythonpath
from needlework.identity import converted_dir
from needlework.longctx.paths import Paths
from needlework.stages.preflight import check_before_run, endpoint

apply_offline_env()  # every job inherits it (set HF_HUB_OFFLINE=0 yourself to reach the hub)
# Jobs import needlework from this checkout, also inside --use-conda envs (which hold only its dependencies).
prepend_pythonpath(Path(workflow.basedir) / "src")

try:
    # `--config overrides="..."`, `--config lora=r64` and `--configfile FILE` become the same Hydra overrides;
    # any other config key stops here, naming it (needlework.config.workflow_overrides)
    CONF = Path(workflow.basedir) / "conf"
    CFG = compose(workflow_overrides(config, CONF), config_dir=CONF)
    if print_requested(config):  # `--config print_config=true`: the composed config, and no run
        print(to_yaml(CFG), end="")
        sys.exit(0)
    P = Paths(CFG)
    COMPARE = CFG["labeler"]["compare_with"]
    OTHER_LABELER = group_config(CFG, "labeler", COMPARE, "labeler.compare_with") if COMPARE else None
    EVAL_MODELS = {P.eval_key(m): m for m in CFG["eval"]["models"]}
except ConfigError as exc:
    sys.exit(f"needlework: {exc}")
config["cfg"] = CFG  # scripts read the resolved config from snakemake.config["cfg"]

R = P.root
ENV = "../../envs/needlework.yaml"  # conda envs for --use-conda (paths relative to workflow/rules)
GPU_ENV = "../../envs/needlework-gpu.yaml"
LOGS, BENCH, CACHE = R / "logs", R / "benchmarks", R / "cache"

CORPUS = P.corpus_dir / "corpus.jsonl"
NEEDLES = P.needles_dir / "needles.jsonl"
LABELS = P.labels_dir / "labels.jsonl"
# Labels by key: the experiment's labeler, and the one it is compared with (agreement table).
LABELERS = {P.labels_dir.name: CFG["labeler"]}
AGREEMENT = []
if OTHER_LABELER:
    LABELERS[P.labels_dir_for(OTHER_LABELER).name] = OTHER_LABELER
    AGREEMENT = [P.labels_dir / f"agreement-{COMPARE}.csv"]

MODEL_DIR = P.model_dir if P.builds_model else None  # built (tiny) or converted (GGUF) here


def _gguf_dirs():
    """Converted directory name -> `model.gguf` spec, for every packaged GGUF model the experiment uses (its own
    model and any evaluated one): each file is converted once, whichever configs name it."""
    names = {"base", *CFG["eval"]["models"], *CFG["raft"]["eval"]["models"]}
    specs = [spec for spec in (model_config(CFG, m).get("gguf") for m in sorted(names)) if spec]
    return {converted_dir(R, spec).name: spec for spec in specs}


try:
    GGUF_DIRS = _gguf_dirs()
except (ConfigError, InputError) as exc:
    sys.exit(f"needlework: {exc}")
def identity_input(model_name, what="model"):
    """The file recording an evaluated model's identity (``what``: model or tokenizer; a changed one is a new
    file, so the steps that take it rerun), or none for a model the workflow builds or an API."""
    path = P.identity_file(model_name, what)
    return [path] if path is not None else []


def _identity_files():
    """results/identity/<stem>.json -> the model it records, for every local or hub model the experiment uses (its
    own model's tokenizer too)."""
    names = sorted({"base", *CFG["eval"]["models"], *CFG["raft"]["eval"]["models"]})
    return {path.stem: name for name in names for what in ("model", "tokenizer")
            for path in identity_input(name, what) if what == "model" or name == "base"}


try:
    IDENTITY_FILES = _identity_files()
except (ConfigError, InputError) as exc:
    sys.exit(f"needlework: {exc}")
MODEL_TARGETS = sorted({*([MODEL_DIR] if MODEL_DIR else []), *(R / "models" / name for name in GGUF_DIRS)})
TRAIN_HAYSTACKS = P.train_hay_dir / "train.jsonl"
EVAL_HAYSTACKS = P.eval_hay_dir / "eval.jsonl"
ADAPTER = P.train_dir / "adapter"
TRAIN_METRICS = P.train_dir / "metrics.json"
MERGED = P.train_dir / "merged"  # train.export_merged: base + adapter as one model, for serving
CELLS = [R / "evaluate" / key / "cells.csv" for key in EVAL_MODELS]
BASELINE = P.baseline_dir / "cells.csv"
REPORT_HTML = P.report_dir / "index.html"
# What the cost table reads: per model (input, output) USD per 1M tokens, and the training GPU-hour rate.
REPORT_PRICES = {
    "models": {m: [model_config(CFG, m).get(k, 0.0) for k in ("price_input_per_1m", "price_output_per_1m")]
               for m in CFG["eval"]["models"]},
    "gpu_hour_usd": CFG["train"]["gpu_hour_usd"],
}
ALL_TARGETS = [REPORT_HTML, *AGREEMENT, *([MERGED] if CFG["train"]["export_merged"] else [])]
SCALED_BY_FINETUNE = {m for m in CFG["eval"]["models"] if model_config(CFG, m).get("rope_scaling") == "from_finetune"}
NEEDS_TRAINING = "finetuned" in CFG["eval"]["models"] or bool(SCALED_BY_FINETUNE)


def preflight():
    """Before any job (skipped by dry runs): check what the jobs about to run need (API keys, endpoints that
    answer, hub models in the cache, GPUs), then create the MLflow tracking DB once, so parallel jobs never race to
    initialise it."""
    jobs = list(workflow.dag.needrun_jobs())
    endpoints, hub_models = job_needs(jobs)
    try:
        check_before_run(CFG, endpoints, any(j.rule.name == "finetune" for j in jobs), hub_models)
    except ConfigError as exc:
        sys.exit(f"needlework: {exc}")
    tracking.init(CFG)


def job_needs(jobs):
    """What these jobs call or load: OpenAI-compatible endpoints (labelers, evaluated models, the RAFT teacher) and
    hub models (config key -> hub id: the experiment's own for haystacks and training, evaluated ones)."""
    endpoints, hub_models = [], {}
    for job in jobs:
        step, wc, name = job.rule.name, job.wildcards, None
        if step == "label_needles":
            labeler = LABELERS[wc.labels_key]
            endpoints.append(endpoint("labeler" if labeler is CFG["labeler"] else f"labeler '{COMPARE}'", labeler))
        elif step == "raft_generate" and RAFT["generator"]["kind"] == "openai":
            endpoints.append(endpoint(f"model '{RAFT['generator']['teacher']}'", RP.teacher()))
        elif step == "evaluate_model":
            name = EVAL_MODELS[wc.eval_key]
        elif step == "raft_evaluate":
            name = RP.eval_keys[wc.raft_eval_key]
        elif step in ("haystacks_train", "haystacks_eval", "finetune"):
            name = "base"
        if name:
            model = model_config(CFG, name)
            endpoints.append(endpoint(f"model '{name}'", model))
            if model["backend"] == "hf" and model.get("path") and not model.get("gguf"):
                hub_models["model.path" if name in ("base", "finetuned") else f"model '{name}' path"] = model
    return [e for e in endpoints if e], hub_models


def all_cores(step):
    """Locally the workflow's core count (--cores); on a cluster (a remote executor, and inside its jobs) the
    step's `resources.<step>.cpus`, what the job asks the scheduler for."""
    local = workflow.is_main_process and workflow.local_exec and workflow.resource_settings.cores
    return workflow.resource_settings.cores if local else CFG["resources"][step]["cpus"]


def is_api(model_name):
    return model_config(CFG, model_name)["backend"] == "openai"


def evaluation_threads(model_name):
    """Local models use every core; API models wait on the network and leave the cores to other jobs."""
    return 1 if is_api(model_name) else all_cores("evaluate")


def evaluation_gpus(model_name, built_here):
    """A local model evaluates on one GPU; the tiny model built here, one with `gpus: 0` (the shipped tiny base, the
    default SmolLM2) and API models need none."""
    return 0 if is_api(model_name) or built_here or not model_config(CFG, model_name).get("gpus", 1) else 1


def training_gpus():
    """GPUs the fine-tuning step asks the scheduler for: train.num_processes for a hub model, none for a CPU one."""
    return CFG["train"]["num_processes"] if not P.builds_tiny and CFG["model"].get("gpus", 1) else 0


def eval_threads(wildcards):
    return evaluation_threads(EVAL_MODELS[wildcards.eval_key])


def eval_gpus(wildcards):
    return evaluation_gpus(EVAL_MODELS[wildcards.eval_key], P.builds_tiny)


def step_resources(step, gpu=0):
    """A step's scheduler resources (memory, runtime, GPUs) from `resources.<step>` (read by SLURM; locally they
    only limit what runs at once when --resources says so)."""
    res = CFG["resources"][step]
    return {"mem_mb": res["mem_mb"], "runtime": res["runtime"], "gpu": gpu}  # `gpu`: the SLURM plugin asks --gpus=N


def tokenizer_input(wildcards=None):
    """The built model directory when the experiment builds its own model (its tokenizer makes the prompts)."""
    return [MODEL_DIR] if MODEL_DIR else []


def eval_model_inputs(wildcards):
    """What an evaluated model needs beyond the grid: the built base, the fine-tuned adapter, or nothing (APIs)."""
    name = EVAL_MODELS[wildcards.eval_key]
    inputs = {"grid": EVAL_HAYSTACKS}
    if name in ("base", "finetuned") and MODEL_DIR:
        inputs["model"] = MODEL_DIR
    elif model_config(CFG, name).get("gguf"):  # another packaged GGUF model (e.g. the base with the label schema)
        inputs["model"] = converted_dir(R, model_config(CFG, name)["gguf"])
    if name == "finetuned":
        inputs["adapter"] = ADAPTER
    if name in SCALED_BY_FINETUNE:  # a base evaluated with the RoPE scaling its fine-tune chose (no training)
        inputs["rope_from"] = ADAPTER
    inputs["identity"] = identity_input(name)
    return inputs


wildcard_constraints:
    eval_key="|".join(re.escape(key) for key in EVAL_MODELS),
    labels_key="|".join(re.escape(key) for key in LABELERS),
