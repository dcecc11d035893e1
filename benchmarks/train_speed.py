"""Training throughput and peak memory of needlework.training.sft.finetune, beside plain TRL on the same examples.

SmolLM2-135M-Instruct (default): LoRA r8 all-linear (conf/lora/r8.yaml) on training haystacks built by the
project's builder (``build_train``, synthetic corpus, SmolLM2's tokenizer) of 1,024 / 2,048 / 4,096 tokens, batch 1,
a few steps each, in the model's configured dtype (bfloat16) and in float32 at 1,024. Each run is its own process
(its peak RSS is its own). Runs:

- ``needlework``: ``needlework.training.sft.finetune`` with conf/train/smollm2.yaml (steps, batch and checkpoints set here).
- ``trl``: plain TRL as a user writes it: ``AutoModelForCausalLM.from_pretrained(path, dtype=...)``,
  ``SFTTrainer(model, args=SFTConfig(output_dir, max_steps, per_device_train_batch_size=1, max_length=None,
  use_cpu=<no GPU>),
  train_dataset=<the same prompt/completion rows>, peft_config=LoraConfig(<the same r, alpha, dropout, modules>))``:
  TRL's defaults otherwise, i.e. gradient checkpointing on and bf16 autocast on.
- ``trl-nogc``: the same with ``gradient_checkpointing=False`` (TRL's fastest setting on a CPU).

tokens/s: non-padding tokens per CPU second of the training steps after the first (the first step warms up), with
``--threads`` torch threads (1: CPU seconds stay meaningful on a shared machine); wall-clock rates beside. Peak
memory: the process's max RSS, and ``torch.cuda.max_memory_allocated`` on a GPU.

    python benchmarks/train_speed.py                                      # SmolLM2, the runs listed in RUNS
    python benchmarks/train_speed.py --runs needlework:bfloat16:1024:4 trl:bfloat16:1024:4
    python benchmarks/train_speed.py --model tiny [--hidden 512 --layers 8 --steps 50 --bf16]   # tiny Llama
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml
from transformers import TrainerCallback

REPO = Path(__file__).resolve().parents[1]

RUNS = [  # impl:dtype:prompt tokens:steps
    "needlework:bfloat16:1024:4", "trl:bfloat16:1024:4", "trl-nogc:bfloat16:1024:4",
    "needlework:float32:1024:4", "trl:float32:1024:4",
    "needlework:bfloat16:2048:3", "trl:bfloat16:2048:3",
    "needlework:bfloat16:4096:3", "trl:bfloat16:4096:3",
]

VARIANTS = {  # tiny model: name -> (lora.method, train.packing)
    "lora": ("lora", False),
    "lora+packing": ("lora", True),
    "full": ("full", False),
    "full+packing": ("full", True),
}


def make_workspace(root: Path, args: argparse.Namespace) -> dict:
    """Tokenizer, tiny model and training records under ``root``; returns the model config."""
    from faker import Faker

    from needlework.io import write_jsonl
    from needlework.labels.schema import Date, Label
    from needlework.models import build_tiny
    from needlework.tokenizer import train_tokenizer

    faker = Faker()
    faker.seed_instance(0)
    rng = random.Random(0)
    records = []
    for _ in range(args.examples):
        paragraphs = rng.randint(1, args.max_paragraphs)
        haystack = " ".join(faker.paragraph(nb_sentences=8).lower() for _ in range(paragraphs))
        label = Label(nationality=rng.choice(["swedish", "french"]), date_of_birth=Date(year=rng.randint(1900, 2000)))
        records.append({"messages": [
            {"role": "system", "content": "extract information about a person in JSON"},
            {"role": "user", "content": f"{haystack}\n\nGiven this information, extract information about "
                                        f"{faker.name().lower()}."},
            {"role": "assistant", "content": label.to_json()},
        ]})
    write_jsonl(root / "train.jsonl", records)
    tokenizer = train_tokenizer([m["content"] for r in records[:200] for m in r["messages"]], vocab_size=2048)
    tokenizer.save_pretrained(root / "tokenizer")
    build = {"hidden_size": args.hidden, "num_layers": args.layers, "num_heads": args.heads,
             "intermediate_size": 4 * args.hidden}
    path = build_tiny(root / "tokenizer", build, args.native, seed=0, out_dir=root / "model")
    return {"name": "tiny", "backend": "hf", "path": str(path), "native_context": args.native,
            "dtype": "float32", "attn_implementation": "sdpa", "chat_template": None}


def run_variant(variant: str, model_cfg: dict, root: Path, args: argparse.Namespace, queue) -> None:
    """Child process: fine-tune one variant, report its result and peak RSS."""
    from needlework.env import apply_offline_env

    apply_offline_env()
    os.environ["TQDM_DISABLE"] = "1"  # no progress bars between the table's rows
    from needlework.training.sft import finetune

    method, packing = VARIANTS[variant]
    lora = {"method": method, "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"}
    train = {"learning_rate": 1e-3, "epochs": 1, "max_steps": args.steps, "batch_size": args.batch_size,
             "grad_accum": 1, "warmup_ratio": 0.0, "weight_decay": 0.0, "lr_scheduler": "constant",
             "packing": packing, "gradient_checkpointing": args.checkpointing, "save_steps": 10**9,
             "save_total_limit": 1, "logging_steps": args.steps, "rope_type": "linear", "bf16": args.bf16,
             "max_answer_tokens": 0}
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # the Trainer prints its logs
        result = finetune(model_cfg, lora, train, root / "train.jsonl", root / variant, seed=0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    queue.put({**result, "peak_rss_mb": peak_mb})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["smollm2", "tiny"], default="smollm2")
    parser.add_argument("--runs", nargs="+", default=RUNS, help="SmolLM2 runs, impl:dtype:prompt tokens:steps "
                        "(impl: needlework | trl | trl-nogc)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per SmolLM2 run (0: torch's default)")
    parser.add_argument("--hidden", type=int, default=64, help="tiny model: width")
    parser.add_argument("--layers", type=int, default=2, help="transformer blocks")
    parser.add_argument("--heads", type=int, help="attention heads (default: hidden / 64, at least 4)")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per variant")
    parser.add_argument("--batch-size", type=int, default=2, help="examples per step")
    parser.add_argument("--examples", type=int, default=200, help="training records")
    parser.add_argument("--max-paragraphs", type=int, default=6, help="haystack length varies from 1 to this")
    parser.add_argument("--native", type=int, default=4096, help="native context (above the longest example)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (default: auto, i.e. on GPUs only)")
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)
    if args.model == "smollm2":
        return main_smollm2(args)
    args.bf16 = True if args.bf16 else "auto"
    args.heads = args.heads or max(4, args.hidden // 64)

    from needlework.env import apply_offline_env

    apply_offline_env()
    with tempfile.TemporaryDirectory(prefix="train_speed-") as tmp:
        root = Path(tmp)
        model_cfg = make_workspace(root, args)
        print(f"tiny Llama hidden={args.hidden} layers={args.layers}, {args.steps} steps x batch {args.batch_size}, "
              f"bf16={args.bf16}, gradient checkpointing={args.checkpointing}")
        print(f"{'variant':<14}{'train s':>9}{'steps/s':>9}{'tokens/s':>10}{'tokens':>9}{'max_len':>9}"
              f"{'trainable':>11}{'peak RSS MB':>13}")
        for variant in args.variants:
            r = in_child(run_variant, variant, model_cfg, root, args)
            if r is None:
                sys.exit(f"{variant}: failed")
            print(f"{variant:<14}{r['train_runtime_s']:>9.2f}{r['steps'] / r['train_runtime_s']:>9.2f}"
                  f"{r['tokens_per_s']:>10.0f}{r['train_tokens']:>9}{r['max_length']:>9}"
                  f"{r['trainable_params']:>11}{r['peak_rss_mb']:>13.0f}", flush=True)



def in_child(target, *args):
    """Run ``target(*args, queue)`` in a fresh (spawned) process; what it put on the queue, or None if it failed."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    child.join()
    return queue.get() if child.exitcode == 0 else None


# --- SmolLM2: needlework.training.sft.finetune beside plain TRL ----------------------------------------------------------

class StepTimer(TrainerCallback):
    """CPU seconds, wall seconds and non-padding tokens of each optimiser step."""

    def __init__(self):
        self.steps: list[tuple[float, float, int]] = []
        self.mark = (0.0, 0.0, 0)

    def now(self, state) -> tuple[float, float, int]:
        return time.process_time(), time.perf_counter(), int(state.num_input_tokens_seen)

    def on_train_begin(self, args, state, control, **kwargs):
        self.mark = self.now(state)

    def on_step_end(self, args, state, control, **kwargs):
        now = self.now(state)
        self.steps.append(tuple(b - a for a, b in zip(self.mark, now)))
        self.mark = now

    def summary(self) -> dict:
        timed = self.steps[1:] or self.steps  # the first step warms up
        cpu, wall, tokens = (sum(step[i] for step in timed) for i in range(3))
        return {"steps": len(self.steps), "timed_steps": len(timed), "tokens": tokens,
                "tokens_per_cpu_s": tokens / cpu, "tokens_per_wall_s": tokens / wall, "cpu_s_per_step": cpu / len(timed),
                "first_step_cpu_s": self.steps[0][0]}


def smollm2_workspace(root: Path, lengths: list[int], n: int) -> dict:
    """SmolLM2's model config; ``root/train-<length>.jsonl`` with ``n`` training haystacks per length."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from eval_speed import smollm2_config, synthetic_needles

    from needlework.longctx.haystack import build_train
    from needlework.io import write_jsonl
    from needlework.models import load_tokenizer

    cfg = smollm2_config()
    tokenizer = load_tokenizer(cfg)
    needles, pool = synthetic_needles(max(n, 8))
    for length in lengths:
        write_jsonl(root / f"train-{length}.jsonl", list(build_train(needles, pool, tokenizer, [length], n, seed=0)))
    return cfg


def plain_trl(cfg: dict, dtype: str, jsonl: Path, out: Path, steps: int, checkpointing: bool, timer) -> None:
    """The reference: TRL as its README shows it, on the same rows and LoRA settings, TRL's defaults otherwise."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from needlework.training.sft import read_conversations, to_dataset

    lora = yaml.safe_load((REPO / "conf" / "lora" / "r8.yaml").read_text())
    model = AutoModelForCausalLM.from_pretrained(cfg["path"], dtype=getattr(torch, dtype))
    extra = {} if checkpointing else {"gradient_checkpointing": False}
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=1, max_length=None,
                       use_cpu=not torch.cuda.is_available(),  # else TRL's default bf16 refuses a CPU
                       report_to="none", disable_tqdm=True, include_num_input_tokens_seen="non_padding", **extra),
        train_dataset=to_dataset(read_conversations(jsonl), "completion_only"),
        processing_class=AutoTokenizer.from_pretrained(cfg["path"]),
        peft_config=LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                               target_modules=lora["target_modules"], task_type="CAUSAL_LM"),
        callbacks=[timer],
    )
    trainer.train()


def run_smollm2(spec: str, cfg: dict, root: Path, threads: int, queue) -> None:
    """Child process: one run ``impl:dtype:length:steps``; reports the step timer's summary and peak memory."""
    from needlework.env import apply_offline_env

    apply_offline_env()
    os.environ["TQDM_DISABLE"] = "1"
    import torch

    if threads:
        torch.set_num_threads(threads)
    impl, dtype, length, steps = spec.split(":")
    jsonl, out, timer = root / f"train-{length}.jsonl", root / spec.replace(":", "-"), StepTimer()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        if impl == "needlework":
            from needlework.training.sft import finetune

            train = dict(yaml.safe_load((REPO / "conf" / "train" / "smollm2.yaml").read_text()),
                         max_steps=int(steps), batch_size=1, grad_accum=1, save_steps=10**9, logging_steps=int(steps))
            lora = yaml.safe_load((REPO / "conf" / "lora" / "r8.yaml").read_text())
            finetune(dict(cfg, dtype=dtype), lora, train, jsonl, out, seed=0, callbacks=[timer])
        else:
            plain_trl(cfg, dtype, jsonl, out, int(steps), impl == "trl", timer)
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    queue.put({**timer.summary(), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "cuda_peak_mb": cuda, "threads": torch.get_num_threads()})


def main_smollm2(args: argparse.Namespace) -> None:
    import torch

    lengths = sorted({int(spec.split(":")[2]) for spec in args.runs})
    with tempfile.TemporaryDirectory(prefix="train_speed-") as tmp:
        root = Path(tmp)
        cfg = smollm2_workspace(root, lengths, n=max(int(spec.split(":")[3]) for spec in args.runs))
        device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "cpu"
        print(f"SmolLM2-135M-Instruct ({cfg['path']}), LoRA r8 all-linear, batch 1, device {device}, "
              f"threads {args.threads or 'default'}; tokens/s over the steps after the first")
        print(f"{'run':<12}{'dtype':<10}{'prompt':>7}{'steps':>6}{'tok/step':>9}{'cpu s/step':>11}{'tok/cpu s':>10}"
              f"{'tok/wall s':>11}{'1st step':>9}{'RSS MB':>8}{'CUDA MB':>9}")
        for spec in args.runs:
            r = in_child(run_smollm2, spec, cfg, root, args.threads)
            if r is None:
                print(f"{spec}: failed", flush=True)
                continue
            impl, dtype, length, _ = spec.split(":")
            cuda = f"{r['cuda_peak_mb']:>9.0f}" if r["cuda_peak_mb"] is not None else f"{'-':>9}"
            print(f"{impl:<12}{dtype:<10}{length:>7}{r['steps']:>6}{r['tokens'] / r['timed_steps']:>9.0f}"
                  f"{r['cpu_s_per_step']:>11.2f}{r['tokens_per_cpu_s']:>10.0f}{r['tokens_per_wall_s']:>11.0f}"
                  f"{r['first_step_cpu_s']:>9.1f}{r['peak_rss_mb']:>8.0f}{cuda}", flush=True)


if __name__ == "__main__":
    main()
