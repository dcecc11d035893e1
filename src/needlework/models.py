"""Model loading and building: the tiny offline Llama, hub/local bases, LoRA adapters on top, RoPE scaling.

A model config (``conf/model/*.yaml``, hf backend) names a hub id or a local directory (``path``), its native
context length, dtype, attention kernel and an optional chat-template override. Fine-tuning beyond the native
context switches on RoPE scaling (:func:`rope_scaling_for`); an adapter trained that way stores its RoPE
parameters next to itself (:data:`ROPE_FILE`) and :func:`load_model` re-applies them to the base automatically.
"""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from needlework.io import InputError, atomic_path, write_json
from needlework.identity import cached_commit, local_path

log = logging.getLogger(__name__)

ROPE_TYPES = ("linear", "dynamic", "yarn")
DTYPES = ("auto", "float32", "bfloat16", "float16")
QUANTIZATIONS = ("4bit",)
ROPE_FILE = "needlework_rope.json"  # RoPE parameters an adapter was trained with, next to adapter_config.json
FROM_FINETUNE = "from_finetune"  # model.rope_scaling: the scaling the experiment's fine-tune was trained with
BUILD_KEYS = ("hidden_size", "num_layers", "num_heads", "intermediate_size")


def build_tiny(tokenizer_dir: Path, build_cfg: dict, native_context: int, seed: int, out_dir: Path) -> Path:
    """Build a randomly initialised small Llama over the tokenizer in ``tokenizer_dir``; save model + tokenizer.

    ``build_cfg`` holds hidden_size, num_layers, num_heads and intermediate_size (``model.build.*``); the vocabulary
    comes from the tokenizer and ``max_position_embeddings`` is ``native_context``. The same seed gives
    byte-identical weights. ``out_dir`` appears complete or not at all.
    """
    missing = [key for key in BUILD_KEYS if key not in build_cfg]
    if missing:
        raise InputError(f"config key model.build: missing {', '.join('model.build.' + k for k in missing)}")
    if build_cfg["hidden_size"] % build_cfg["num_heads"]:
        raise InputError(
            f"config key model.build.num_heads: hidden_size {build_cfg['hidden_size']} is not divisible by "
            f"num_heads {build_cfg['num_heads']}"
        )
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=build_cfg["hidden_size"],
        num_hidden_layers=build_cfg["num_layers"],
        num_attention_heads=build_cfg["num_heads"],
        num_key_value_heads=build_cfg["num_heads"],
        intermediate_size=build_cfg["intermediate_size"],
        max_position_embeddings=native_context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's global RNG
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


def rope_scaling_for(native_context: int, needed_context: int, rope_type: str) -> dict | None:
    """RoPE scaling that stretches ``native_context`` to cover ``needed_context`` tokens, or None if it fits.

    The factor is ``needed / native`` rounded up to two decimals (4096 -> 16384 gives 4.0, 512 -> 1100 gives 2.15).
    YaRN also records the pretraining length as ``original_max_position_embeddings``. ``rope_theta`` is not part of
    the result: :func:`load_model` keeps the base model's.
    """
    if rope_type not in ROPE_TYPES:
        raise ValueError(
            f"config key train.rope_type: unknown RoPE scaling {rope_type!r} (expected one of {ROPE_TYPES})"
        )
    if needed_context <= native_context:
        return None
    factor = math.ceil(100 * needed_context / native_context) / 100
    rope: dict[str, Any] = {"rope_type": rope_type, "factor": float(factor)}
    if rope_type == "yarn":
        rope["original_max_position_embeddings"] = int(native_context)
    return rope


def model_path(model_cfg: dict) -> str:
    """The base model's location: an absolute path for a local directory, else the hub id as given.

    Anything that looks like a filesystem path (absolute, ``./``, ``../``, ``~``) must exist. A relative path that
    is not there is looked up in the repository too (the shipped ``models/tiny-base`` works from any working
    directory). Adapters record this string as their base, so local bases are always made absolute.
    """
    raw = model_cfg.get("path")
    if not raw:
        raise InputError(f"config key model.path: no base model given for model {model_cfg.get('name', '?')!r}")
    local = local_path(raw)
    if local.exists():
        if not local.is_dir():
            raise InputError(f"config key model.path: {raw} is a file, expected a model directory or a hub id")
        if model_cfg.get("revision"):
            raise InputError(f"config key model.revision: {model_cfg['revision']!r} pins a version of a hub model, "
                             f"but model.path {raw} is a local directory (its files are its version); remove it")
        return str(local.resolve())
    if local.is_absolute() or str(raw).startswith((".", "~")) or str(raw).count("/") > 1:
        raise InputError(f"config key model.path: model directory {raw} does not exist")
    return str(raw)


def load_tokenizer(model_cfg: dict) -> Any:
    """The model's tokenizer with a chat template (``model.chat_template`` overrides the tokenizer's own).

    A pad token is ensured (the eos token when the tokenizer has none) and padding is on the left, as batched
    generation needs; the training collator pads on its own.
    """
    path = model_path(model_cfg)
    tokenizer = _from_pretrained(AutoTokenizer, path, **hub_revision_kwargs(model_cfg, path))
    if model_cfg.get("chat_template"):
        tokenizer.chat_template = model_cfg["chat_template"]
    if not tokenizer.chat_template:
        raise InputError(
            f"model {model_cfg.get('name', path)!r} ({path}) has no chat template: set config key "
            "model.chat_template to a Jinja chat template"
        )
    fold_system_prompt_if_rejected(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


# Prepended to a chat template that rejects the system role (Mistral-Instruct): the system message is folded into
# the first user turn, so every model gets the same prompt text whatever its template accepts.
_FOLD_SYSTEM = (
    "{%- if messages and messages[0]['role'] == 'system' and messages|length > 1 -%}"
    "{%- set messages = [{'role': messages[1]['role'], 'content': messages[0]['content'] + '\\n\\n' "
    "+ messages[1]['content']}] + messages[2:] -%}{%- endif -%}"
)


def fold_system_prompt_if_rejected(tokenizer: Any) -> bool:
    """If the chat template raises on a system message, make it fold the system prompt into the first user
    turn instead (logged). Returns whether the template was changed."""
    from jinja2 import TemplateError

    probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    try:
        tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
        return False
    except TemplateError:
        original = tokenizer.chat_template
    tokenizer.chat_template = _FOLD_SYSTEM + original
    try:
        tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except TemplateError:  # broken for another reason: keep it, so the error surfaces where it is rendered
        tokenizer.chat_template = original
        return False
    log.info("chat template of %s rejects the system role: folding the system prompt into the user turn",
             tokenizer.name_or_path)
    return True


def load_model(
    model_cfg: dict,
    *,
    adapter_dir: Path | None = None,
    rope_scaling: dict | None = None,
    for_training: bool = False,
    quantization: str | None = None,
) -> Any:
    """Load the base model (optionally 4-bit, optionally RoPE-scaled), with the adapter in ``adapter_dir`` on top.

    ``adapter_dir`` may also hold a fully fine-tuned model (``lora.method=full``), which is then loaded instead of
    the base. The RoPE scaling an adapter was trained with is read from its :data:`ROPE_FILE`. Under a
    multi-process launch (``WORLD_SIZE`` > 1) no device map is used, so that each process holds its own copy.
    """
    if quantization is not None:
        require_cuda_for(quantization)
    path = model_path(model_cfg)
    dtype = model_cfg.get("dtype", "auto")
    if dtype not in DTYPES:
        raise InputError(f"config key model.dtype: {dtype!r} is not one of {DTYPES}")
    is_adapter = False
    if adapter_dir is not None:
        adapter_dir = Path(adapter_dir).resolve()
        is_adapter = _is_adapter(adapter_dir)
        if not is_adapter:
            path = str(adapter_dir)  # a fully fine-tuned model: its config.json already carries its RoPE scaling
        rope_scaling = _stored_rope(adapter_dir, rope_scaling)
    elif rope_scaling is None:
        rope_scaling = model_cfg.get("rope_scaling")  # a base evaluated RoPE-scaled without training
        if rope_scaling == FROM_FINETUNE:
            raise InputError(f"config key model.rope_scaling: model {model_cfg.get('name')!r} takes its RoPE scaling "
                             "from the fine-tune, but no fine-tune was given (evaluate it beside `finetuned`)")

    revision = hub_revision_kwargs(model_cfg, path)
    config = _from_pretrained(AutoConfig, path, **revision)
    if rope_scaling is not None:
        apply_rope_scaling(config, rope_scaling)
    kwargs: dict[str, Any] = {"config": config, "dtype": dtype if dtype == "auto" else getattr(torch, dtype),
                              **revision}
    if model_cfg.get("attn_implementation"):
        kwargs["attn_implementation"] = model_cfg["attn_implementation"]
    if quantization is not None:
        kwargs["quantization_config"] = _bnb_config(dtype)
    if torch.cuda.is_available() and (for_training or quantization or int(os.environ.get("WORLD_SIZE", 1)) > 1):
        # one whole copy per process, straight onto its own GPU (DDP): never N full copies in host RAM
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    elif torch.cuda.is_available():
        kwargs["device_map"] = "auto"  # inference on one machine: shard a big model over its GPUs
    model = _from_pretrained(AutoModelForCausalLM, path, **kwargs)

    if is_adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=for_training)
        if not for_training and quantization is None:
            # W + BA folded into the base weights: the adapter's extra matmuls per layer cost 1.5x at decode on
            # a CPU (SmolLM2, 16 prompts of 512 tokens: 56 -> 37 CPU s); in bfloat16 the fold rounds differently,
            # so a few greedy answers differ from the unmerged model's (13 of those 16 identical)
            model = model.merge_and_unload()
    if not for_training:
        model.eval()
    return model


def apply_rope_scaling(config: Any, rope: dict) -> None:
    """Set ``rope`` (from :func:`rope_scaling_for`) as the config's RoPE parameters, keeping its ``rope_theta``."""
    base = dict(getattr(config, "rope_parameters", None) or {})
    theta = base.get("rope_theta", getattr(config, "rope_theta", None))
    params = dict(rope)
    if theta is not None:
        params.setdefault("rope_theta", theta)
    if "partial_rotary_factor" in base:
        params.setdefault("partial_rotary_factor", base["partial_rotary_factor"])
    if base.get("rope_type", "default") != "default":
        log.warning("replacing the base model's %s RoPE scaling with %s", base.get("rope_type"), params)
    config.rope_parameters = params


def trained_rope(adapter_dir: Path) -> dict | None:
    """The RoPE scaling a fine-tune was trained with (None: it trained within the native context)."""
    return _stored_rope(Path(adapter_dir), None)


def save_rope(adapter_dir: Path, rope: dict | None) -> None:
    """Record the RoPE scaling an adapter was trained with (nothing to record without scaling)."""
    if rope is not None:
        write_json(Path(adapter_dir) / ROPE_FILE, rope)


def require_cuda_for(quantization: str) -> None:
    """Fail fast (before loading anything) when a quantized base is asked for without a CUDA GPU."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r} (expected one of {QUANTIZATIONS})")
    if not torch.cuda.is_available():
        raise InputError(
            "lora.method=qlora needs a CUDA GPU (bitsandbytes 4-bit quantization); use lora.method=lora on CPU"
        )


def _bnb_config(dtype: str) -> Any:
    """NF4 4-bit quantization with double quantization, computing in the model dtype (bf16 for 'auto')."""
    try:
        from transformers import BitsAndBytesConfig
        import bitsandbytes  # noqa: F401  (fail here with a clear message rather than deep inside transformers)
    except ImportError:
        raise InputError("lora.method=qlora needs bitsandbytes: pip install 'needlework[gpu]'") from None
    compute = torch.bfloat16 if dtype in ("auto", "bfloat16") else getattr(torch, dtype)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
    )


def _is_adapter(adapter_dir: Path) -> bool:
    """True for a PEFT adapter, False for a full model directory; InputError when it is neither."""
    if (adapter_dir / "adapter_config.json").is_file():
        return True
    if (adapter_dir / "config.json").is_file():
        return False
    if not adapter_dir.is_dir():
        raise InputError(f"adapter directory {adapter_dir} does not exist (train the model first)")
    raise InputError(f"adapter directory {adapter_dir} holds neither adapter_config.json nor config.json")


def _stored_rope(adapter_dir: Path, requested: dict | None) -> dict | None:
    """The RoPE scaling stored with an adapter; a different explicitly requested one is an error."""
    rope_file = adapter_dir / ROPE_FILE
    if not rope_file.is_file():
        return requested
    stored = json.loads(rope_file.read_text(encoding="utf-8"))
    if requested is not None and requested != stored:
        raise ValueError(f"{rope_file}: adapter was trained with RoPE scaling {stored}, not {requested}")
    return stored


def hub_revision_kwargs(model_cfg: dict, path: str) -> dict[str, str]:
    """``revision=`` for a hub model: the commit that its ``model.revision`` (a branch, tag or commit; default
    ``main``) resolves to in the local hub cache, so that what loads is what the results are keyed by
    (needlework.identity), even if the branch moves meanwhile; the revision as configured when it is not cached.
    Nothing for a local directory (:func:`model_path` makes those absolute)."""
    if Path(path).is_absolute():
        return {}
    revision = cached_commit(path, model_cfg.get("revision")) or model_cfg.get("revision")
    return {"revision": revision} if revision else {}


def _from_pretrained(cls: Any, path: str, **kwargs: Any) -> Any:
    """``cls.from_pretrained(path)`` with a message naming ``model.path`` when nothing loadable is there."""
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as exc:
        at = f" at revision {kwargs['revision']!r} (config key model.revision)" if kwargs.get("revision") else ""
        raise InputError(
            f"config key model.path: cannot load {path!r}{at} ({str(exc).splitlines()[0]}); give an existing model "
            "directory or a hub id that is in the local Hugging Face cache (jobs run offline)"
        ) from None
