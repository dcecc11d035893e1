"""Model-half steps: build the tiny model, fine-tune (LoRA / QLoRA / full, RoPE scaling beyond native)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from needlework import tracking
from needlework.identity import hash_cache
from needlework.io import read_jsonl, write_json
from needlework.stages.runtime import record_provenance, timer

log = logging.getLogger("needlework")


def build_model(cfg: dict[str, Any], corpus_jsonl: str, needles_jsonl: str, labels_jsonl: str, out_dir: str) -> None:
    """Train a BPE tokenizer on the training data, build the tiny Llama and pretrain it as a language model at its
    native context (the offline stand-in for a real base model).

    Training data = every biography but the evaluation needles, plus the JSON labels of the training needles (the
    stand-in for the web text real base models learn JSON from). Nothing of the evaluation needles is seen.
    """
    from needlework.labels.schema import Label
    from needlework.models import build_tiny
    from needlework.training.pretrain import pretrain_tiny
    from needlework.tokenizer import train_tokenizer

    model = cfg["model"]
    eval_ids = {r["id"] for r in read_jsonl(needles_jsonl) if r["split"] == "eval"}
    texts = [r["text"] for r in read_jsonl(corpus_jsonl) if r["id"] not in eval_ids]
    texts += [Label.model_validate(r["label"]).to_json() for r in read_jsonl(labels_jsonl)
              if r["id"] not in eval_ids and not r.get("error")]
    with tracking.stage_run(cfg, "model", Path(out_dir).name, {"model": model}) as run, \
            tempfile.TemporaryDirectory() as scratch:
        with timer() as t:
            tokenizer = train_tokenizer(texts, vocab_size=model["build"]["vocab_size"])
            tokenizer.save_pretrained(Path(scratch) / "tokenizer")
            init = build_tiny(Path(scratch) / "tokenizer", model["build"], model["native_context"], cfg["seed"],
                              Path(scratch) / "init")
            result = pretrain_tiny(init, texts, model["build"]["pretrain"], cfg["seed"], Path(out_dir))
        log.info("built %s (vocab %d) in %.1fs from %d training texts", out_dir, len(tokenizer), t["seconds"],
                 len(texts))
        run.log_metrics({"vocab_size": len(tokenizer), "tokenizer_texts": len(texts), "seconds": t["seconds"],
                         **result})
    record_provenance(cfg, out_dir)


def convert_gguf(cfg: dict[str, Any], gguf: dict[str, str], out_dir: str) -> None:
    """Convert a packaged GGUF model (``model.gguf``) once into a plain HF directory, checked (needlework.gguf)."""
    from needlework.gguf import convert

    with tracking.stage_run(cfg, "model", Path(out_dir).name, {"gguf": gguf}) as run:
        with timer() as t:
            record = convert(gguf, out_dir)
        run.log_params({"sha256": record["sha256"], "version": record["version"]})
        run.log_metrics({"parameters": record["parameters"], "bytes": record["bytes"], "seconds": t["seconds"]})


def record_identity(cfg: dict[str, Any], model_name: str, out_json: str) -> None:
    """Write what identifies an evaluated model (a reserved name: the experiment's own) to ``out_json``:
    its content identity, its tokenizer's, the hash of each file they cover (needlework.identity)."""
    from needlework.config import RESERVED_MODELS, model_config
    from needlework.identity import identity_record

    mcfg = cfg["model"] if model_name in RESERVED_MODELS else model_config(cfg, model_name)
    with tracking.stage_run(cfg, "identity", Path(out_json).stem, {"model": mcfg["name"]}) as run:
        record = identity_record(mcfg["name"], mcfg, hash_cache())
        run.log_params({"model_identity": record["model"], "tokenizer_identity": record["tokenizer"]})
        write_json(out_json, record)
    log.info("%s: model %s, tokenizer %s", mcfg["name"], record["model"], record["tokenizer"])


def finetune(cfg: dict[str, Any], train_jsonl: str, base_dir: str | None, checkpoints: str, adapter_out: str,
             metrics_out: str, threads: int = 1) -> dict[str, Any]:
    """Fine-tune on the training haystacks; the Trainer logs loss/lr/throughput into this step's MLflow run."""
    from needlework.training import sft as train

    train_dir = Path(adapter_out).parent
    if Path(checkpoints).parent != train_dir:
        raise RuntimeError(f"checkpoints {checkpoints} must live beside the adapter in {train_dir} (workflow rule)")
    model = dict(cfg["model"], path=str(Path(base_dir).resolve()) if base_dir else cfg["model"]["path"])
    params = {"model": model, "lora": cfg["lora"], "train": cfg["train"]}
    n_proc = cfg["train"].get("num_processes", 1)
    with tracking.stage_run(cfg, "train", train_dir.name, params) as run:
        if n_proc > 1:
            result = _launch_distributed(cfg, model, train_jsonl, train_dir, n_proc, run.run_id, threads)
        else:
            import torch

            torch.set_num_threads(max(1, threads))
            result = train.finetune(model, cfg["lora"], cfg["train"], Path(train_jsonl), train_dir,
                                    seed=cfg["seed"], report_to=tracking.hf_report_to(cfg),
                                    hash_cache=hash_cache())
        if result["tokens_per_s"] > 0:
            from needlework.report.cost import training_cost

            cost = training_cost(result["train_tokens"], result["tokens_per_s"],
                                 cfg["train"].get("gpu_hour_usd", 0.0), n_proc)
            hours = "gpu_hours" if result.get("device") == "cuda" else "cpu_hours"  # what the run really used
            result = {**result, hours: round(cost["gpu_hours"], 4), "train_cost_usd": round(cost["usd"], 4)}
        write_json(metrics_out, result)
        log.info("training: %s", json.dumps(result))
        run.log_metrics({k: v for k, v in result.items() if k != "rope"})
        run.log_dict({"rope": result.get("rope")}, "rope_scaling.json")
        if cfg["lora"]["method"] == "full":  # a whole model (26 GB for 13B) is no artifact: record where it is
            run.log_params({"model_dir": str(Path(adapter_out).resolve())})
        else:
            run.log_artifact(adapter_out, "adapter")
    record_provenance(cfg, train_dir)
    return result


def _launch_distributed(cfg: dict[str, Any], model: dict[str, Any], train_jsonl: str, train_dir: Path,
                        n_proc: int, run_id: str | None, threads: int = 1) -> dict[str, Any]:
    """Run the same training under `accelerate launch` with `n_proc` ranks (DDP: one per GPU; gloo ranks on a CPU
    machine); rank 0 writes the result file and the adapter."""
    job = train_dir / "job.json"
    write_json(job, {"model": model, "lora": cfg["lora"], "train": cfg["train"], "train_jsonl": str(train_jsonl),
                     "out_dir": str(train_dir), "seed": cfg["seed"], "report_to": tracking.hf_report_to(cfg),
                     "hash_cache": str(hash_cache())})
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, threads // n_proc)),
               **({"MLFLOW_RUN_ID": run_id} if run_id else {}))
    cmd = [*accelerate_command(n_proc), "-m", "needlework.training.sft", str(job)]
    log.info("launching: %s", " ".join(cmd))
    subprocess.run(cmd, check=True, env=env)
    return json.loads((train_dir / "result.json").read_text())


def accelerate_command(n_proc: int) -> list[str]:
    """`accelerate launch` with `n_proc` ranks on this machine. `--multi_gpu` also on a CPU machine: there
    `--cpu --num_processes N` silently runs one process, while this gives N gloo ranks. Each launch
    gets a free rendezvous port, so concurrent trainings do not collide."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n_proc),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(port)]
