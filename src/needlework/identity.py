"""What an output depends on beyond its config: content identities, shared by both tracks' result keys.

- a model's identity (:func:`model_identity`): the content hash of its weights, config and tokenizer files for a
  local directory, the file hash for a packaged GGUF, the resolved revision (commit) for a hub model;
- its tokenizer's identity alone (:func:`tokenizer_identity`): haystacks depend on it, not on the weights;
- a data source's (:func:`data_identity`) and any directory's (:func:`directory_identity`): their files' hashes.

Identities never hold a path or a modification time: a model copied elsewhere keeps its identity, replaced weights
change it. Every file is hashed by :func:`file_sha256`, which remembers hashes in a small JSON file (by path, size,
modification time and inode), so a large model is read once, not on every workflow start.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Settings that do not change a result, left out of its key so that changing them reuses (and never re-pays for)
# what was computed: the cost estimate, and how an endpoint is called rather than what it is asked.
_CALL_KEYS_NOT_IN_HASH = ("max_concurrency", "timeout_s", "max_retries", "price_input_per_1m",
                          "price_output_per_1m", "tokenizer", "compare_with", "api_key_env", "gpus")


def semantic(section: dict[str, Any]) -> dict[str, Any]:
    """A labeler or model config without the keys that only say how an endpoint is called or priced."""
    return {k: v for k, v in section.items() if k not in _CALL_KEYS_NOT_IN_HASH}


# Where a model's or a data source's files are, and which version of them (a hub model's revision): their identity
# stands for them in keys, so a copy elsewhere changes no result, nor does pinning the commit a branch points at.
_LOCATION_KEYS = ("path", "gguf", "revision")


def settings(section: dict[str, Any]) -> dict[str, Any]:
    """A model or data config without the keys that only say where its files are (or which version)."""
    return {k: v for k, v in section.items() if k not in _LOCATION_KEYS}


class Keys:
    """Result keys, each a hash of a config subtree and input identities, remembered with what they were made of
    (a result folder's provenance)."""

    def __init__(self):
        self.parts: dict[str, dict[str, Any]] = {}

    def key(self, stage: str, config: dict[str, Any], inputs: dict[str, Any]) -> str:
        from needlework.config import fingerprint

        key = fingerprint(config, inputs)
        self.parts[key] = {"stage": stage, "key": key, "config": config, "inputs": inputs}
        return key

    def of(self, out_dir: str | os.PathLike) -> dict[str, Any] | None:
        """What the key of a result folder (``<readable-name>-<key>``) was made of; None for another folder."""
        return self.parts.get(Path(out_dir).name.rsplit("-", 1)[-1])


MANIFEST = "SHA256SUMS"  # hashes of a shipped model directory's files (needlework.training.tiny_base writes it)
REPO_ROOT = Path(__file__).resolve().parents[2]  # relative model paths not found here are looked up in the checkout
HASH_CACHE = "file_sha256.json"  # the remembered file hashes (:func:`hash_cache`)
HASH_CACHE_ENV = "NEEDLEWORK_HASH_CACHE"  # names another file for them
# The files of a model directory that make its tokenizer (prompts are built with it) ...
TOKENIZER_FILES = ("tokenizer*.json", "tokenizer.model", "*.tiktoken", "spiece.model", "vocab.*", "merges.txt",
                   "special_tokens_map.json", "added_tokens.json", "chat_template*")
# ... and those that make the whole model (its answers); metrics, manifests and readmes are neither.
MODEL_FILES = (*TOKENIZER_FILES, "*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf", "*.index.json",
               "config.json", "generation_config.json")


def hash_cache() -> Path:
    """Where file hashes are remembered: ``$NEEDLEWORK_HASH_CACHE``, else ``needlework/file_sha256.json`` in the
    user's cache directory (``$XDG_CACHE_HOME``, default ``~/.cache``). One file for every experiment and working
    directory of the machine (entries are absolute paths), and outside ``results/``: a dry run writes nothing there."""
    if os.environ.get(HASH_CACHE_ENV):
        return Path(os.environ[HASH_CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "needlework" / HASH_CACHE


def local_path(raw: str) -> Path:
    """``raw`` as a filesystem path; a relative one that is not there is looked up in the checkout (the shipped
    ``models/tiny-base`` works from any working directory)."""
    local = Path(str(raw)).expanduser()
    if not local.is_absolute() and not local.exists() and (REPO_ROOT / local).is_dir():
        return REPO_ROOT / local
    return local


def file_sha256(path: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """SHA-256 of a file's bytes: the one hashing function of the project. Remembered in memory and, with
    ``cache``, in that JSON file, while the file's size, modification time and inode stay the same (only the
    hash keys anything, never the time)."""
    path = Path(path).resolve()
    stat = path.stat()
    stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    entries = _entries(cache)
    hit = entries.get(str(path))
    if hit and hit[:3] == stamp:
        return hit[3]
    sha = _sha256(path)
    entries[str(path)] = [*stamp, sha]
    if cache is not None:
        _save(Path(cache), str(path), entries[str(path)])
    return sha


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


_MEMORY: dict[str, dict[str, list]] = {}  # cache file (or "" for none) -> path -> [size, mtime_ns, inode, sha]


def _entries(cache: str | os.PathLike | None) -> dict[str, list]:
    key = str(Path(cache).resolve()) if cache is not None else ""
    if key not in _MEMORY:
        _MEMORY[key] = _read(Path(key)) if key else {}
    return _MEMORY[key]


def _read(cache: Path) -> dict[str, list]:
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or cut short: hashes are recomputed, never wrong
        return {}


def _save(cache: Path, path: str, entry: list) -> None:
    """Add one entry to the cache file (read again first: parallel jobs add theirs), dropping files that are gone;
    written to a temporary file and renamed, so a reader never sees half of it."""
    entries = {p: e for p, e in _read(cache).items() if os.path.exists(p)}
    entries[path] = entry
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    tmp.write_text(json.dumps(entries, indent=0, sort_keys=True), encoding="utf-8")
    os.replace(tmp, cache)


def files_of(directory: Path, patterns: Iterable[str] | None) -> list[Path]:
    """The directory's files matching ``patterns`` (top level: what a model loads), or all of them, recursively
    (``patterns`` None: an adapter, a data folder)."""
    if patterns is None:
        return sorted(p for p in directory.rglob("*") if p.is_file())
    patterns = tuple(patterns)
    return sorted(p for p in directory.iterdir() if p.is_file() and any(fnmatch.fnmatch(p.name, g) for g in patterns))


def directory_identity(directory: str | os.PathLike, patterns: Iterable[str] | None = None,
                       cache: str | os.PathLike | None = None) -> str:
    """Hash of the (relative name, content hash) of a directory's files (:func:`files_of`)."""
    directory = Path(directory)
    return _digest({str(p.relative_to(directory)): file_sha256(p, cache) for p in files_of(directory, patterns)})


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def model_identity(model: dict[str, Any], cache: str | os.PathLike | None = None) -> str | None:
    """What a model's answers are made by: ``files:<hash>`` of a local directory's weights, config and tokenizer
    files (:data:`MODEL_FILES`), ``gguf:<sha256>`` of a packaged GGUF file, ``hub:<repo>@<commit>`` of a hub
    model. None for a model the workflow builds (``path: null``, no GGUF): its key holds what builds it."""
    return _identity(model, MODEL_FILES, cache)


def tokenizer_identity(model: dict[str, Any], cache: str | os.PathLike | None = None) -> str | None:
    """What a model's prompts are made by: like :func:`model_identity` but over :data:`TOKENIZER_FILES` only, so
    new weights keep it and a new tokenizer or chat template changes it (a GGUF file and a hub revision hold both)."""
    return _identity(model, TOKENIZER_FILES, cache)


def _identity(model: dict[str, Any], patterns: tuple[str, ...], cache: str | os.PathLike | None) -> str | None:
    if model.get("gguf"):
        from needlework.gguf import locate

        return f"gguf:{file_sha256(locate(model['gguf']), cache)}"
    raw = model.get("path")
    if not raw:
        return None
    local = local_path(raw)
    if local.is_dir():
        return f"files:{directory_identity(local, patterns, cache)}"
    return f"hub:{raw}@{hub_revision(str(raw), model.get('revision'))}"


def cached_commit(repo_id: str, revision: str | None = None) -> str | None:
    """The commit a hub model's ``revision`` (a branch, tag or commit; default ``main``) resolves to, read offline
    from the local hub cache (``refs/<revision>`` of its snapshot); None when it is not cached there."""
    revision = revision or "main"
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except (ImportError, ValueError, OSError):  # not a valid repo id, or no hub client
        found = None
    return Path(found).parent.name if isinstance(found, str) else None  # .../snapshots/<commit>/config.json


@lru_cache(maxsize=64)  # its warning once per model and process
def hub_revision(repo_id: str, revision: str | None = None) -> str:
    """:func:`cached_commit`, or the revision as configured, with a warning, when it is not cached."""
    commit = cached_commit(repo_id, revision)
    if commit:
        return commit
    log.warning("model %s: revision %r is not in the local hub cache; its results are keyed by the revision name, "
                "so a new upload under that name is not noticed (download it once with HF_HUB_OFFLINE=0, or pin "
                "model.revision to a commit)", repo_id, revision or "main")
    return f"{revision or 'main'} (unresolved)"


def data_identity(raw: str | os.PathLike | None, cache: str | os.PathLike | None = None) -> str | None:
    """A data source's identity: the content hash of a local file (or of a folder's files); anything else (no path,
    a hub dataset name) is its own identity."""
    if not raw:
        return None
    local = Path(str(raw)).expanduser()
    if local.is_file():
        return f"file:{file_sha256(local, cache)}"
    if local.is_dir():
        return f"files:{directory_identity(local, None, cache)}"
    return str(raw)


def identity_record(name: str, model: dict[str, Any], cache: str | os.PathLike | None = None) -> dict[str, Any]:
    """What the workflow writes to ``results/identity/``: a model's identities, and for a local directory the hash
    of each file they cover (no path: a copy of the model elsewhere has the same record)."""
    record = {"name": name, "model": model_identity(model, cache), "tokenizer": tokenizer_identity(model, cache)}
    local = local_path(model["path"]) if model.get("path") and not model.get("gguf") else None
    if local is not None and local.is_dir():
        record["files"] = {p.name: file_sha256(p, cache) for p in files_of(local, MODEL_FILES)}
    elif model.get("gguf"):
        record["gguf"] = dict(model["gguf"])
    elif model.get("path"):
        record["hub"] = {"repo": model["path"], "revision": model.get("revision") or "main"}  # what loading reads
    return record


def converted_dir(root: Path, gguf: dict[str, str]) -> Path:
    """Where a packaged GGUF model is converted once (shared by every model config naming the same file)."""
    from needlework.gguf import converted_name

    return Path(root) / "models" / converted_name(gguf, hash_cache())


PROVENANCE = "provenance.json"  # in every result folder: what made it


def write_provenance(out_dir: str | os.PathLike, parts: dict[str, Any]) -> Path:
    """Write ``provenance.json`` into a result folder: ``parts`` (the stage, its key, the config subtree and the
    input identities the key was made of, as the paths module recorded them) and the code version."""
    from needlework.io import write_json
    from needlework.version import code_version

    path = Path(out_dir) / PROVENANCE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {**parts, "code": code_version()})
    return path
