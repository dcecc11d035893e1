"""The training loop of the models trained here from scratch; fine-tuning goes through TRL (:mod:`.sft`).

Two recipes use it, each passing its batches, loss, schedule shape and settings: the shipped tiny base
(:mod:`.tiny_base`) and the per-corpus tiny model's causal-LM pretraining (:mod:`.pretrain`). Every step is
forward (the recipe's loss), backward, gradients clipped to norm 1, AdamW step (betas 0.9, 0.95), schedule step.
A checkpoint (weights, optimiser, schedule, step, metric rows) is written atomically every ``checkpoint_minutes``
and after the last step; a rerun whose ``fingerprint`` is the checkpoint's resumes from it and ends with the same
bytes as an uninterrupted run, as every recipe's batches are a function of the step alone.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from needlework.io import atomic_path
from needlework.progress import progress

log = logging.getLogger(__name__)

BatchMaker = Callable[[int, int], Iterable[dict[str, Any]]]  # (start, stop) -> the batch of every step in between
StepLoss = Callable[[dict[str, Any]], tuple[torch.Tensor, dict[str, Any]]]  # batch -> loss, its metric row


def warmup_cosine(steps: int, warmup: int, floor: float = 0.0) -> Callable[[int], float]:
    """Learning-rate factor of step ``s``: linear warmup over ``warmup`` steps, then a cosine from 1 down to
    ``floor`` at ``steps``."""
    return lambda s: min(1.0, (s + 1) / warmup) * (
        floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))


def train(model: torch.nn.Module, batches: BatchMaker, step_loss: StepLoss, *, steps: int, learning_rate: float,
          weight_decay: float, schedule: Callable[[int], float], checkpoint: Path | None, fingerprint: str,
          checkpoint_minutes: float, stop: int | None = None, evaluate: Callable[[], dict] | None = None,
          eval_every: int = 0, desc: str = "train") -> list[dict[str, Any]]:
    """Train ``model`` (on the device it is on) for ``steps`` steps, or up to step ``stop``; returns the metric row
    of every step (``step``, 1-based, and what ``step_loss`` gives). ``batches(start, stop)`` yields the batches of
    steps ``start`` to ``stop - 1``, each a dict with at least ``ids`` (its token count gives the throughput).
    Every ``eval_every`` steps and at the last one, the row also gets ``evaluate()``'s metrics (the model is put
    back in training mode after it), ``seconds`` and ``tokens_per_s`` (since this run or resume started)."""
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=weight_decay,
                            fused=device.type == "cuda" or None)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    start, rows = _resume(checkpoint, fingerprint, model, opt, sched, device)
    stop = min(steps, stop or steps)
    last_save = t0 = time.monotonic()
    tokens = 0
    model.train()
    bar = progress(batches(start, stop), desc=desc, unit="step", initial=start, total=stop)
    for step, batch in enumerate(bar, start):
        loss, row = step_loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        tokens += batch["ids"].numel()
        row = {"step": step + 1, **row}
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}", refresh=False)
        if (eval_every and (step + 1) % eval_every == 0) or step + 1 == stop:
            if evaluate is not None:
                row.update(evaluate())
                model.train()
            elapsed = time.monotonic() - t0
            row.update(seconds=round(elapsed, 1), tokens_per_s=round(tokens / elapsed))
            log.info("step %d/%d %s", step + 1, steps, json.dumps(row))
        rows.append(row)
        if checkpoint is not None and (time.monotonic() - last_save > 60 * checkpoint_minutes or step + 1 == stop):
            _save(checkpoint, model, opt, sched, step + 1, rows, fingerprint)
            last_save = time.monotonic()
    model.eval()
    return rows


def _resume(path: Path | None, fingerprint: str, model: torch.nn.Module, opt: torch.optim.Optimizer,
            sched: torch.optim.lr_scheduler.LRScheduler, device: torch.device) -> tuple[int, list[dict]]:
    """The step and rows of the checkpoint at ``path`` with its states loaded, if it is one of ``fingerprint``."""
    if path is None or not Path(path).is_file():
        return 0, []
    state = torch.load(path, weights_only=False, map_location=device)
    if state["fingerprint"] != fingerprint:
        log.info("not resuming from %s: a checkpoint of other settings or data", path)
        return 0, []
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    log.info("resuming from step %d (%s)", state["step"], path)
    return state["step"], state["rows"]


def _save(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler,
          step: int, rows: list[dict], fingerprint: str) -> None:
    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "rows": rows, "fingerprint": fingerprint}, tmp)
