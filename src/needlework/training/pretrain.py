"""Causal-LM pretraining of the freshly built tiny Llama on the training biographies, at its native context.

This makes the offline `base` what a real base model is (a language model of its native context length) before
fine-tuning extends it; a randomly initialised model would leave LoRA nothing to adapt (its output head is
random and near-uniform, and LoRA does not train it).
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from needlework.config import fingerprint as config_fingerprint
from needlework.identity import file_sha256
from needlework.io import InputError, atomic_path
from needlework.training import loop

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"  # in <out_dir>.work while the model is trained
CHECKPOINT_MINUTES = 2.0  # checkpoint at most this often; a killed run resumes from the last one


def pack(tokenizer: Any, texts: list[str], seq_len: int) -> torch.Tensor:
    """Concatenate `<bos> text <eos>` for every text and cut into full blocks of `seq_len` tokens."""
    ids: list[int] = []
    for encoded in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend([tokenizer.bos_token_id, *encoded, tokenizer.eos_token_id])
    n_blocks = len(ids) // seq_len
    if n_blocks == 0:
        raise InputError(f"pretraining: {len(ids)} corpus tokens do not fill one block of {seq_len}")
    return torch.tensor(ids[: n_blocks * seq_len]).view(n_blocks, seq_len)


def pretrain(model: LlamaForCausalLM, blocks: torch.Tensor, *, steps: int, batch_size: int, learning_rate: float,
             seed: int, checkpoint: Path | None = None, fingerprint: str = "",
             stop_at: int | None = None) -> list[float]:
    """The pretraining recipe of :func:`needlework.training.loop.train`: next-token loss on ``batch_size`` random
    blocks a step (drawn from a generator of ``seed``), warmup over a twentieth of the steps and a cosine to 0,
    weight decay 0.01; checkpoints to ``checkpoint`` (a rerun of the same ``fingerprint`` resumes from it).
    Deterministic for a seed. Returns the loss of every step."""

    def batches(start: int, stop: int) -> Iterator[dict[str, torch.Tensor]]:
        generator = torch.Generator().manual_seed(seed)
        for step in range(stop):  # the draws of the steps before ``start`` too: each step's blocks are the same
            pick = torch.randint(len(blocks), (batch_size,), generator=generator)
            if step >= start:
                yield {"ids": blocks[pick]}

    def step_loss(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = model(input_ids=batch["ids"], labels=batch["ids"]).loss
        return loss, {"loss": float(loss.detach())}

    rows = loop.train(model, batches, step_loss, steps=steps, learning_rate=learning_rate, weight_decay=0.01,
                      schedule=loop.warmup_cosine(steps, warmup=max(1, steps // 20)), checkpoint=checkpoint,
                      fingerprint=fingerprint, checkpoint_minutes=CHECKPOINT_MINUTES, stop=stop_at, desc="pretrain")
    return [row["loss"] for row in rows]


def pretrain_tiny(init_dir: Path, texts: list[str], cfg: dict[str, Any], seed: int, out_dir: Path) -> dict[str, Any]:
    """Pretrain the model saved in `init_dir` (see `models.build_tiny`) and save it with its tokenizer to `out_dir`.

    cfg: steps, batch_size, learning_rate (`model.build.pretrain`); blocks are the model's native context long.
    A killed run resumes from its checkpoint in ``<out_dir>.work`` (removed once ``out_dir`` is saved).
    """
    tokenizer = AutoTokenizer.from_pretrained(str(init_dir))
    model = LlamaForCausalLM.from_pretrained(str(init_dir))
    blocks = pack(tokenizer, texts, model.config.max_position_embeddings)
    work = Path(f"{out_dir}.work")
    fingerprint = config_fingerprint(cfg, seed, hashlib.sha256(blocks.numpy().tobytes()).hexdigest(),
                                     file_sha256(Path(init_dir) / "model.safetensors"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        losses = pretrain(model, blocks, steps=cfg["steps"], batch_size=cfg["batch_size"],
                          learning_rate=cfg["learning_rate"], seed=seed, checkpoint=work / CHECKPOINT,
                          fingerprint=fingerprint)
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    shutil.rmtree(work, ignore_errors=True)
    tail = losses[-10:] or [float("nan")]
    result = {"pretrain_steps": len(losses), "pretrain_blocks": len(blocks), "pretrain_first_loss": losses[0],
              "pretrain_final_loss": sum(tail) / len(tail)}
    log.info("pretraining: %s", result)
    return result
