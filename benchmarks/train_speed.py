"""Training throughput of needlework.train.finetune on a tiny Llama: LoRA vs full, with and without packing.

Each variant runs in its own process (so that its peak RSS is its own) on the same synthetic chat haystacks of
varied length (packing matters only when lengths vary). Prints steps/s, non-padding tokens/s and peak RSS.

    python benchmarks/train_speed.py                                  # CPU: hidden 64, 2 layers, 20 steps
    python benchmarks/train_speed.py --hidden 512 --layers 8 --steps 50 --bf16   # a GPU
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
from pathlib import Path

VARIANTS = {  # name -> (lora.method, train.packing)
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
    from needlework.train import finetune

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
    parser.add_argument("--hidden", type=int, default=64, help="model width")
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
    args.bf16 = True if args.bf16 else "auto"
    args.heads = args.heads or max(4, args.hidden // 64)

    from needlework.env import apply_offline_env

    apply_offline_env()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="train_speed-") as tmp:
        root = Path(tmp)
        model_cfg = make_workspace(root, args)
        print(f"tiny Llama hidden={args.hidden} layers={args.layers}, {args.steps} steps x batch {args.batch_size}, "
              f"bf16={args.bf16}, gradient checkpointing={args.checkpointing}")
        print(f"{'variant':<14}{'train s':>9}{'steps/s':>9}{'tokens/s':>10}{'tokens':>9}{'max_len':>9}"
              f"{'trainable':>11}{'peak RSS MB':>13}")
        for variant in args.variants:
            queue = context.Queue()
            child = context.Process(target=run_variant, args=(variant, model_cfg, root, args, queue))
            child.start()
            child.join()
            if child.exitcode != 0:
                sys.exit(f"{variant}: failed with exit code {child.exitcode}")
            r = queue.get()
            print(f"{variant:<14}{r['train_runtime_s']:>9.2f}{r['steps'] / r['train_runtime_s']:>9.2f}"
                  f"{r['tokens_per_s']:>10.0f}{r['train_tokens']:>9}{r['max_length']:>9}"
                  f"{r['trainable_params']:>11}{r['peak_rss_mb']:>13.0f}", flush=True)


if __name__ == "__main__":
    main()
