"""Supervised fine-tuning on chat haystacks with TRL's SFTTrainer: LoRA, QLoRA or full, with context extension.

The longest training example decides the sequence length; when it (or the longest prompt plus
``train.max_answer_tokens``) exceeds the model's native context, RoPE scaling is switched on (``train.rope_type``).
Checkpoints go to ``out_dir/checkpoints`` every ``train.save_steps`` steps and a rerun resumes from the last
complete one. The result (adapter, or full model, plus tokenizer) appears atomically in ``out_dir/adapter``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jinja2 import TemplateError
from tqdm import tqdm

from needlework.io import InputError, atomic_path, read_records
from needlework.models import load_model, load_tokenizer, require_cuda_for, rope_scaling_for, save_rope

log = logging.getLogger(__name__)

METHODS = ("lora", "qlora", "full")
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"


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
        peft_config=None if method == "full" else lora_config(lora_cfg),
        callbacks=list(callbacks),
    )
    resume = last_complete_checkpoint(checkpoints)
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
    }


def lora_config(lora_cfg: dict) -> Any:
    """PEFT ``LoraConfig`` from the ``lora`` config group (target_modules: 'all-linear' or module names)."""
    from peft import LoraConfig

    target = lora_cfg["target_modules"]
    return LoraConfig(
        r=int(lora_cfg["r"]),
        lora_alpha=lora_cfg["alpha"],
        lora_dropout=float(lora_cfg["dropout"]),
        target_modules=target if isinstance(target, str) else list(target),
        modules_to_save=list(lora_cfg.get("modules_to_save") or []) or None,
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
    for start in tqdm(range(0, len(conversations), batch), desc="measuring examples", disable=None):
        chunk = conversations[start:start + batch]
        full = tokenizer.apply_chat_template(chunk, tokenize=False)
        prompts = tokenizer.apply_chat_template([c[:-1] for c in chunk], tokenize=False, add_generation_prompt=True)
        encoded = tokenizer(full + prompts, add_special_tokens=False)["input_ids"]
        longest = max([longest, *map(len, encoded[: len(chunk)])])
        longest_prompt = max([longest_prompt, *map(len, encoded[len(chunk):])])
    return longest, longest_prompt


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
    """`accelerate launch -m needlework.train job.json`: one process per GPU; rank 0 writes result.json."""
    import argparse
    import json

    from needlework.env import apply_offline_env
    from needlework.io import write_json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("job", type=Path, help="JSON with model, lora, train, train_jsonl, out_dir, seed, report_to")
    job = json.loads(parser.parse_args(argv).job.read_text())
    apply_offline_env()
    result = finetune(job["model"], job["lora"], job["train"], Path(job["train_jsonl"]), Path(job["out_dir"]),
                      seed=job["seed"], report_to=job.get("report_to", "none"))
    if int(os.environ.get("RANK", "0")) == 0:
        write_json(Path(job["out_dir"]) / "result.json", result)


if __name__ == "__main__":
    main()
