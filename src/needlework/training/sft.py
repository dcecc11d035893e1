"""Supervised fine-tuning on chat haystacks with TRL's SFTTrainer: LoRA, QLoRA or full, with context extension.

The longest training example decides the sequence length; when it (or the longest prompt plus
``train.max_answer_tokens``) exceeds the model's native context, RoPE scaling is switched on (``train.rope_type``).
Checkpoints go to ``out_dir/checkpoints`` every ``train.save_steps`` steps. A rerun resumes from the last complete
one only when it continues an *unfinished* run of the *same inputs* (training records, model, adapter and training
settings, seed: their fingerprint is kept beside the checkpoints); anything else (changed inputs, or a finished run
that Snakemake asks to redo, e.g. ``snakemake -R finetune``) starts fresh. The result (adapter, or full model, plus tokenizer) appears atomically in ``out_dir/adapter``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jinja2 import TemplateError
from transformers import TrainerCallback

from needlework.io import InputError, atomic_path, read_records
from needlework.models import load_model, load_tokenizer, require_cuda_for, rope_scaling_for, save_rope
from needlework.progress import progress

log = logging.getLogger(__name__)

METHODS = ("lora", "qlora", "full")
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"
INPUTS_FILE = "inputs.json"  # beside the checkpoints: the fingerprint of the run they belong to


def finetune(
    model_cfg: dict,
    lora_cfg: dict,
    train_cfg: dict,
    train_jsonl: Path,
    out_dir: Path,
    *,
    seed: int,
    report_to: str = "none",
    callbacks: Sequence[Any] = (),
    hash_cache: Path | None = None,
) -> dict:
    """Fine-tune ``model_cfg``'s model on the chat records of ``train_jsonl``; return what a tracker logs.

    Result keys: train_runtime_s, train_tokens and tokens_per_s (non-padding tokens of this call), final_loss (last
    logged), steps (global), resumed_from_step (0 for a fresh run), rope (dict or None), max_length,
    needed_context, trainable_params, total_params, loss_mode ("assistant_only" or "completion_only").
    """
    method = lora_cfg.get("method")
    if method not in METHODS:
        raise InputError(f"config key lora.method: {method!r} is not one of {METHODS}")
    if method == "qlora":
        require_cuda_for("4bit")
    from peft import prepare_model_for_kbit_training
    from transformers import TrainerState
    from trl import SFTTrainer

    out_dir = Path(out_dir)
    tokenizer = load_tokenizer(model_cfg)
    conversations = read_conversations(Path(train_jsonl))
    loss_mode = choose_loss_mode(tokenizer)
    try:
        max_length, max_prompt = token_lengths(tokenizer, conversations)
    except TemplateError as exc:
        raise InputError(
            f"{train_jsonl}: the chat template of model {model_cfg.get('name')!r} cannot render the training "
            f"records ({exc}); set config key model.chat_template to one that can"
        ) from None
    needed = max(max_length, max_prompt + int(train_cfg.get("max_answer_tokens", 0)))
    rope = rope_scaling_for(int(model_cfg["native_context"]), needed, train_cfg["rope_type"])
    log.info("loss mode %s; longest example %d tokens; context needed %d; RoPE scaling %s",
             loss_mode, max_length, needed, rope)

    model = load_model(model_cfg, rope_scaling=rope, for_training=True,
                       quantization="4bit" if method == "qlora" else None)
    if method == "qlora":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=bool(train_cfg["gradient_checkpointing"])
        )
    checkpoints = out_dir / CHECKPOINTS
    trainer = SFTTrainer(
        model=model,
        args=sft_config(train_cfg, checkpoints, max_length=max_length, loss_mode=loss_mode, seed=seed,
                        report_to=report_to),
        train_dataset=to_dataset(conversations, loss_mode),
        processing_class=tokenizer,
        peft_config=None if method == "full" else lora_config(lora_cfg, model_cfg),
        callbacks=[StepProgress(), *callbacks],
    )
    inputs = training_fingerprint(model_cfg, lora_cfg, train_cfg, Path(train_jsonl), seed, hash_cache)
    with trainer.accelerator.main_process_first():  # rank 0 clears stale checkpoints before the others look
        resume = resumable_checkpoint(checkpoints, inputs, clear=trainer.is_world_process_zero())
    resumed_from = TrainerState.load_from_json(str(resume / "trainer_state.json")) if resume else None
    if resume:
        log.info("resuming from %s", resume)
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)

    final = out_dir / ADAPTER
    if trainer.is_world_process_zero():
        with atomic_path(final) as tmp:
            trainer.save_model(str(tmp))  # adapter (or full model) + tokenizer
            if method != "full":
                save_rope(tmp, rope)  # a full model's config.json carries its RoPE scaling itself
    trainer.accelerator.wait_for_everyone()

    state = trainer.state
    tokens = state.num_input_tokens_seen - (resumed_from.num_input_tokens_seen if resumed_from else 0)
    runtime = float(output.metrics["train_runtime"])
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    trainable, total = _parameter_counts(trainer.model)
    return {
        "train_runtime_s": runtime,
        "train_tokens": int(tokens),
        "tokens_per_s": tokens / runtime if runtime > 0 else 0.0,
        "final_loss": float(losses[-1]) if losses else float(output.training_loss),
        "steps": int(state.global_step),
        "resumed_from_step": int(resumed_from.global_step) if resumed_from else 0,
        "rope": rope,
        "max_length": int(max_length),
        "needed_context": int(needed),
        "trainable_params": int(trainable),
        "total_params": int(total),
        "loss_mode": loss_mode,
        "world_size": int(trainer.args.world_size),  # ranks that trained (train.num_processes)
        "device": trainer.args.device.type,  # cuda | cpu (| mps): GPU hours are only GPU hours on a GPU
    }


class StepProgress(TrainerCallback):
    """Optimiser steps through :func:`needlework.progress.progress` (a live bar on a terminal, a line with count,
    rate and ETA every 30 s in log files), on the main process only; replaces the Trainer's own bar."""

    def __init__(self):
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = progress(total=state.max_steps, initial=state.global_step, desc="train", unit="step")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def lora_config(lora_cfg: dict, model_cfg: dict | None = None) -> Any:
    """PEFT ``LoraConfig`` from the ``lora`` config group (target_modules: 'all-linear' or module names).

    Modules trained in full beside the adapter: ``lora.modules_to_save`` when set, else the model's own
    ``modules_to_save`` (a property of the base, e.g. the tiny model that never saw the chat tokens), else none.
    """
    from peft import LoraConfig

    target = lora_cfg["target_modules"]
    return LoraConfig(
        r=int(lora_cfg["r"]),
        lora_alpha=lora_cfg["alpha"],
        lora_dropout=float(lora_cfg["dropout"]),
        target_modules=target if isinstance(target, str) else list(target),
        modules_to_save=list(lora_cfg.get("modules_to_save") or (model_cfg or {}).get("modules_to_save") or [])
        or None,
        task_type="CAUSAL_LM",
    )


def sft_config(train_cfg: dict, output_dir: Path, *, max_length: int, loss_mode: str, seed: int,
               report_to: str) -> Any:
    """TRL ``SFTConfig`` from the ``train`` config group (bf16 'auto' = on CUDA GPUs that support it)."""
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    bf16 = train_cfg.get("bf16", "auto")
    if bf16 == "auto":
        bf16 = cuda and torch.cuda.is_bf16_supported()
    elif not isinstance(bf16, bool):
        raise InputError(f"config key train.bf16: {bf16!r} is not 'auto', true or false")
    warmup = float(train_cfg["warmup_ratio"])
    if not 0 <= warmup < 1:
        raise InputError(f"config key train.warmup_ratio: {warmup} is not a fraction in [0, 1)")
    checkpointing = bool(train_cfg["gradient_checkpointing"])
    distributed = int(os.environ.get("WORLD_SIZE", 1)) > 1
    return SFTConfig(
        output_dir=str(output_dir),
        seed=seed,
        data_seed=seed,
        learning_rate=float(train_cfg["learning_rate"]),
        num_train_epochs=float(train_cfg["epochs"]),
        max_steps=int(train_cfg["max_steps"]),
        per_device_train_batch_size=int(train_cfg["batch_size"]),
        gradient_accumulation_steps=int(train_cfg["grad_accum"]),
        warmup_steps=warmup,  # transformers 5: a float in [0, 1) is a ratio of the total steps
        weight_decay=float(train_cfg["weight_decay"]),
        lr_scheduler_type=train_cfg["lr_scheduler"],
        packing=bool(train_cfg["packing"]),
        max_length=max_length,
        assistant_only_loss=loss_mode == "assistant_only",
        completion_only_loss=loss_mode == "completion_only",
        activation_checkpointing=checkpointing,
        gradient_checkpointing=checkpointing,
        bf16=bf16,
        use_cpu=not cuda,
        save_strategy="steps",
        save_steps=int(train_cfg["save_steps"]),
        save_total_limit=int(train_cfg["save_total_limit"]),
        logging_steps=int(train_cfg["logging_steps"]),
        include_num_input_tokens_seen="non_padding",
        ddp_find_unused_parameters=False if distributed else None,
        eval_strategy="no",
        report_to=report_to,
        disable_tqdm=True,  # StepProgress reports instead, in log files too (needlework.progress)
    )


def read_conversations(path: Path) -> list[list[dict]]:
    """The ``messages`` of each chat record (system/user/assistant, assistant last); errors name ``file:line``."""
    conversations = []
    for line, record in read_records(path):
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise InputError(f"{path}:{line}: expected 'messages': a list of {{role, content}} strings")
        if messages[-1]["role"] != "assistant":
            raise InputError(f"{path}:{line}: the last message must be the assistant's answer")
        conversations.append([{"role": m["role"], "content": m["content"]} for m in messages])
    if not conversations:
        raise InputError(f"{path}: no training records")
    return conversations


def choose_loss_mode(tokenizer: Any) -> str:
    """'assistant_only' when the chat template has (or TRL can patch in) ``{% generation %}`` markers,
    else 'completion_only' (loss on the final assistant turn of a prompt/completion split)."""
    from trl.chat_template_utils import get_training_chat_template

    try:
        get_training_chat_template(tokenizer)
    except ValueError:
        log.warning("chat template has no {% generation %} markers and TRL cannot patch it: "
                    "training with completion-only loss instead of assistant-only loss")
        return "completion_only"
    return "assistant_only"


def to_dataset(conversations: list[list[dict]], loss_mode: str) -> Any:
    """An in-memory ``datasets.Dataset``: conversational 'messages', or 'prompt'/'completion' for completion-only."""
    from datasets import Dataset

    if loss_mode == "completion_only":
        rows = [{"prompt": c[:-1], "completion": c[-1:]} for c in conversations]
    else:
        rows = [{"messages": c} for c in conversations]
    return Dataset.from_list(rows)


def token_lengths(tokenizer: Any, conversations: list[list[dict]], batch: int = 256) -> tuple[int, int]:
    """(longest templated conversation, longest templated prompt with the generation prompt), in tokens."""
    longest = longest_prompt = 0
    for start in progress(range(0, len(conversations), batch), desc="measuring examples", unit="batch"):
        chunk = conversations[start:start + batch]
        full = tokenizer.apply_chat_template(chunk, tokenize=False)
        prompts = tokenizer.apply_chat_template([c[:-1] for c in chunk], tokenize=False, add_generation_prompt=True)
        encoded = tokenizer(full + prompts, add_special_tokens=False)["input_ids"]
        longest = max([longest, *map(len, encoded[: len(chunk)])])
        longest_prompt = max([longest_prompt, *map(len, encoded[len(chunk):])])
    return longest, longest_prompt


def training_fingerprint(model_cfg: dict, lora_cfg: dict, train_cfg: dict, train_jsonl: Path, seed: int,
                         cache: Path | None = None) -> str:
    """Hash of everything a training run's checkpoints depend on: the training records' content, the base model's
    identity (needlework.identity: its files' content, hashed once while their size and mtime stay, or its hub
    revision; never its path), its settings, the adapter and training settings, the seed."""
    from needlework.config import fingerprint
    from needlework.identity import file_sha256, model_identity, settings

    return fingerprint(file_sha256(train_jsonl, cache), model_identity(model_cfg, cache), settings(model_cfg),
                       lora_cfg, train_cfg, seed)


def resumable_checkpoint(checkpoints: Path, inputs: str, *, clear: bool = True) -> Path | None:
    """The checkpoint to resume from: the last complete one of an unfinished run with the same ``inputs``
    fingerprint, else None. With ``clear``, checkpoints of other inputs or of a finished run are deleted and the
    new fingerprint is recorded, so this run starts fresh and a kill of it resumes it."""
    from transformers import TrainerState

    record = checkpoints / INPUTS_FILE
    same = record.is_file() and json.loads(record.read_text()).get("fingerprint") == inputs
    last = last_complete_checkpoint(checkpoints) if same else None
    if last is not None:
        state = TrainerState.load_from_json(str(last / "trainer_state.json"))
        if state.max_steps and state.global_step >= state.max_steps:
            log.info("checkpoints in %s belong to a finished run: starting fresh", checkpoints)
            last = None
        else:
            return last
    elif record.is_file() and not same:
        log.info("checkpoints in %s belong to other inputs: starting fresh", checkpoints)
    if clear:
        shutil.rmtree(checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True)
        record.write_text(json.dumps({"fingerprint": inputs}))
    return None


def last_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The newest ``checkpoint-N`` whose trainer state was written (the Trainer writes it last), or None."""
    if not checkpoints.is_dir():
        return None
    candidates = [p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    for path in sorted(candidates, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        if (path / "trainer_state.json").is_file():
            return path
    return None


def _parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters; for a PEFT model the total includes the frozen base."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def main(argv: Sequence[str] | None = None) -> None:
    """`accelerate launch -m needlework.training.sft job.json`: one process per GPU; rank 0 writes result.json."""
    import argparse
    import json

    from needlework.env import apply_offline_env
    from needlework.io import write_json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("job", type=Path, help="JSON with model, lora, train, train_jsonl, out_dir, seed, report_to")
    job = json.loads(parser.parse_args(argv).job.read_text())
    apply_offline_env()
    result = finetune(job["model"], job["lora"], job["train"], Path(job["train_jsonl"]), Path(job["out_dir"]),
                      seed=job["seed"], report_to=job.get("report_to", "none"), hash_cache=job.get("hash_cache"))
    if int(os.environ.get("RANK", "0")) == 0:
        write_json(Path(job["out_dir"]) / "result.json", result)


if __name__ == "__main__":
    main()
