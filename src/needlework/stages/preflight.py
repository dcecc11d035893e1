"""Checks run once before any job (not in dry runs): what would otherwise fail hours into a run."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from needlework.config import ConfigError, model_config


def required_api_keys(cfg: dict[str, Any], other_labelers: list[dict[str, Any]]) -> dict[str, str]:
    """Environment variable -> the config key that names it, for every endpoint the run will call."""
    needed: dict[str, str] = {}
    for where, labeler in [("labeler.api_key_env", cfg["labeler"])] + [
            ("labeler.compare_with", lab) for lab in other_labelers]:
        if labeler["kind"] == "openai" and labeler.get("api_key_env"):
            needed[labeler["api_key_env"]] = where
    for name in cfg["eval"]["models"]:
        model = model_config(cfg, name)
        if model["backend"] == "openai" and model.get("api_key_env"):
            needed[model["api_key_env"]] = f"model '{name}' api_key_env"
    return needed


def check_before_run(cfg: dict[str, Any], other_labelers: list[dict[str, Any]]) -> None:
    """Raise ConfigError naming the variable or key for: unset API keys, missing local model paths,
    QLoRA without a CUDA GPU."""
    missing = [f"{var} (from {where})" for var, where in required_api_keys(cfg, other_labelers).items()
               if not os.environ.get(var)]
    if missing:
        raise ConfigError("environment variable not set: " + ", ".join(missing)
                          + ". Export it before running (keys are never read from config files).")
    path = cfg["model"]["path"]
    if path and (path.startswith(("/", ".", "~")) or Path(path).exists()) and not Path(path).expanduser().exists():
        raise ConfigError(f"config key model.path: {path} does not exist")
    if cfg["lora"]["method"] == "qlora" and "finetuned" in cfg["eval"]["models"]:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("config key lora.method: qlora loads the base model in 4 bits with bitsandbytes, "
                              "which needs a CUDA GPU; use lora=r16 (or another LoRA) on this machine")
