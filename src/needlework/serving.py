"""Export a fine-tuned model for OpenAI-compatible servers that take one model directory (`transformers serve`,
vLLM without LoRA): the adapter folded into the base weights (peft `merge_and_unload`), with the tokenizer and the
RoPE scaling it was trained with in config.json."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from needlework.io import atomic_path
from needlework.models import load_model, load_tokenizer

log = logging.getLogger("needlework")


def export_merged(model_cfg: dict[str, Any], adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Write base + adapter as one model to `out_dir` (atomically); a fully fine-tuned model is copied as is."""
    model = load_model(model_cfg, adapter_dir=Path(adapter_dir))
    if hasattr(model, "merge_and_unload"):  # a PeftModel: fold W + BA into the base weights
        model = model.merge_and_unload()
    tokenizer = load_tokenizer(model_cfg)
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    log.info("merged model for serving: %s", out_dir)
    return Path(out_dir)
