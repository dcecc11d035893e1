"""Causal-LM pretraining of the freshly built tiny Llama on the training biographies, at its native context.

This makes the offline `base` what a real base model is (a language model of its native context length) before
fine-tuning extends it; a randomly initialised model would leave LoRA nothing to adapt (its output head is
random and near-uniform, and LoRA does not train it).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from needlework.io import InputError, atomic_path
from needlework.progress import progress

log = logging.getLogger(__name__)


def pack(tokenizer: Any, texts: list[str], seq_len: int) -> torch.Tensor:
    """Concatenate `<bos> text <eos>` for every text and cut into full blocks of `seq_len` tokens."""
    ids: list[int] = []
    for encoded in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend([tokenizer.bos_token_id, *encoded, tokenizer.eos_token_id])
    n_blocks = len(ids) // seq_len
    if n_blocks == 0:
        raise InputError(f"pretraining: {len(ids)} corpus tokens do not fill one block of {seq_len}")
    return torch.tensor(ids[: n_blocks * seq_len]).view(n_blocks, seq_len)


def pretrain(model: LlamaForCausalLM, blocks: torch.Tensor, *, steps: int, batch_size: int,
             learning_rate: float, seed: int) -> list[float]:
    """AdamW with warmup + cosine decay on random blocks; deterministic for a seed. Returns the loss per step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    model.train()
    losses = []
    bar = progress(range(steps), desc="pretrain", unit="step")
    for _ in bar:
        batch = blocks[torch.randint(len(blocks), (batch_size,), generator=generator)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def pretrain_tiny(init_dir: Path, texts: list[str], cfg: dict[str, Any], seed: int, out_dir: Path) -> dict[str, Any]:
    """Pretrain the model saved in `init_dir` (see `models.build_tiny`) and save it with its tokenizer to `out_dir`.

    cfg: steps, batch_size, learning_rate (`model.build.pretrain`); blocks are the model's native context long.
    """
    tokenizer = AutoTokenizer.from_pretrained(str(init_dir))
    model = LlamaForCausalLM.from_pretrained(str(init_dir))
    blocks = pack(tokenizer, texts, model.config.max_position_embeddings)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        losses = pretrain(model, blocks, steps=cfg["steps"], batch_size=cfg["batch_size"],
                          learning_rate=cfg["learning_rate"], seed=seed)
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    tail = losses[-10:] or [float("nan")]
    result = {"pretrain_steps": len(losses), "pretrain_blocks": len(blocks), "pretrain_first_loss": losses[0],
              "pretrain_final_loss": sum(tail) / len(tail)}
    log.info("pretraining: %s", result)
    return result
