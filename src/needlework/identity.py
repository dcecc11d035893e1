"""What an output depends on beyond its config: the content identity of models (weights, tokenizer), shared by
both tracks' result keys."""
from __future__ import annotations

from pathlib import Path
from typing import Any

# Settings that do not change a result, left out of its key so that changing them reuses (and never re-pays for)
# what was computed: the cost estimate, and how an endpoint is called rather than what it is asked.
_CALL_KEYS_NOT_IN_HASH = ("max_concurrency", "timeout_s", "max_retries", "price_input_per_1m",
                          "price_output_per_1m", "tokenizer", "compare_with", "api_key_env", "gpus")


def semantic(section: dict[str, Any]) -> dict[str, Any]:
    """A labeler or model config without the keys that only say how an endpoint is called or priced."""
    return {k: v for k, v in section.items() if k not in _CALL_KEYS_NOT_IN_HASH}


MANIFEST = "SHA256SUMS"  # hashes of a shipped model directory's files (needlework.training.tiny_base writes it)
REPO_ROOT = Path(__file__).resolve().parents[2]  # relative model paths not found here are looked up in the checkout


def local_path(raw: str) -> Path:
    """``raw`` as a filesystem path; a relative one that is not there is looked up in the checkout (the shipped
    ``models/tiny-base`` works from any working directory)."""
    local = Path(str(raw)).expanduser()
    if not local.is_absolute() and not local.exists() and (REPO_ROOT / local).is_dir():
        return REPO_ROOT / local
    return local


def weights_identity(model: dict[str, Any]) -> str | None:
    """The content identity of a model's weights where it is known: the GGUF file's hash for a packaged GGUF
    model (``model.gguf``), the recorded file hashes of a local model directory that ships them
    (``models/tiny-base``); replacing the weights or tokenizer changes every key that depends on them. None for
    hub ids and unmanifested dirs."""
    if model.get("gguf"):
        from needlework.gguf import identity

        return identity(model["gguf"])
    raw = model.get("path")
    if not raw:
        return None
    manifest = local_path(raw) / MANIFEST
    return manifest.read_text(encoding="utf-8") if manifest.is_file() else None


def converted_dir(root: Path, gguf: dict[str, str]) -> Path:
    """Where a packaged GGUF model is converted once (shared by every model config naming the same file)."""
    from needlework.gguf import converted_name

    return Path(root) / "models" / converted_name(gguf)
