"""Checks run once before any job (not in dry runs): what would otherwise fail hours into a run.

Only what the jobs about to run need is checked: `snakemake labels` checks the labeler's endpoint, not an
evaluated model's key. Every OpenAI-compatible endpoint they will call is probed once (`GET {base_url}/models`,
PROBE_TIMEOUT_S): a refused connection, an unknown host, no answer or a rejected key (HTTP 401/403) stops the
run within seconds, naming the config key and the URL. Any other answer (even 404: not every server lists its
models) counts as up.
"""
from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from needlework.config import ConfigError
from needlework.env import hub_offline
from needlework.identity import local_path

PROBE_TIMEOUT_S = 3.0  # seconds a probe waits to connect and for an answer


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server a job will call, and the config key that names it."""

    where: str  # the config that names it: "labeler" (a config key), "model 'gpt-4o-mini'" (a model file)
    base_url: str
    api_key_env: str | None

    def key(self, field: str) -> str:
        """The config key of one of its fields, e.g. `labeler.base_url` or `model 'gpt-4o-mini' api_key_env`."""
        return f"{self.where}{' ' if ' ' in self.where else '.'}{field}"


def endpoint(where: str, model_or_labeler: dict[str, Any]) -> Endpoint | None:
    """The endpoint of a labeler or model config, or None when it calls none (an infobox labeler, an hf model)."""
    if model_or_labeler.get("kind", model_or_labeler.get("backend")) != "openai":
        return None
    return Endpoint(where, str(model_or_labeler["base_url"]), model_or_labeler.get("api_key_env"))


def check_before_run(cfg: dict[str, Any], endpoints: list[Endpoint], needs_training: bool = True,
                     hub_models: dict[str, dict[str, Any]] | None = None) -> None:
    """Raise ConfigError naming the variable or key for: unset API keys and unreachable endpoints (of the jobs about
    to run), hub models (config key -> model config) that offline jobs cannot load, missing local model paths, QLoRA
    without a CUDA GPU (when a job fine-tunes)."""
    missing = {e.api_key_env: e.key("api_key_env") for e in endpoints
               if e.api_key_env and not os.environ.get(e.api_key_env)}
    if missing:
        raise ConfigError("environment variable not set: " + ", ".join(f"{v} (from {w})" for v, w in missing.items())
                          + ". Export it before running (keys are never read from config files).")
    problems = probe_all(endpoints) + uncached_hub_models(hub_models or {})
    if problems:
        raise ConfigError("; ".join(problems))
    path = cfg["model"]["path"]
    if path and (path.startswith(("/", ".", "~")) or Path(path).exists()) and not Path(path).expanduser().exists():
        raise ConfigError(f"config key model.path: {path} does not exist")
    if needs_training and cfg["lora"]["method"] == "qlora" and "finetuned" in cfg["eval"]["models"]:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("config key lora.method: qlora loads the base model in 4 bits with bitsandbytes, "
                              "which needs a CUDA GPU; use lora=r16 (or another LoRA) on this machine")


def uncached_hub_models(hub_models: dict[str, dict[str, Any]]) -> list[str]:
    """Hub models (model configs by the config key of their path) that jobs, which run offline, will not find in
    the local Hugging Face cache at their ``revision``."""
    if not hub_offline():
        return []
    from needlework.identity import cached_commit

    problems = []
    for where, model in hub_models.items():
        path, revision = model["path"], model.get("revision")
        if _is_hub_id(path) and not cached_commit(path, revision):
            at, flag = (f" at revision {revision!r}", f" --revision {revision}") if revision else ("", "")
            problems.append(f"config key {where}: {path}{at} is not in the local Hugging Face cache and jobs run "
                            f"offline (download it once: HF_HUB_OFFLINE=0 hf download {path}{flag}; or run with "
                            "HF_HUB_OFFLINE=0)")
    return problems


def _is_hub_id(path: str) -> bool:
    """`owner/name` that is no directory here nor in the checkout (how models.model_path tells them apart)."""
    return (path.count("/") == 1 and not path.startswith((".", "~", "/"))
            and not local_path(path).exists())


def probe_all(endpoints: list[Endpoint]) -> list[str]:
    """What is wrong with each distinct endpoint (probed at the same time), as messages naming key and URL."""
    distinct: dict[tuple[str, str | None], list[str]] = {}
    for e in endpoints:
        distinct.setdefault((e.base_url, e.api_key_env), []).append(e.key("base_url"))
    if not distinct:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(distinct))) as pool:
        found = list(pool.map(lambda item: probe(*item), distinct))
    return [f"config key {', '.join(dict.fromkeys(distinct[item]))}: {item[0]} {problem}"
            for item, problem in zip(distinct, found, strict=True) if problem]


def probe(base_url: str, api_key_env: str | None) -> str | None:
    """What is wrong with an endpoint (with what to do), or None when it answers."""
    url = f"{base_url.rstrip('/')}/models"
    key = os.environ.get(api_key_env or "", "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return (f"rejected the API key: HTTP {exc.code} (export the right key in "
                    f"{api_key_env or 'the variable that api_key_env names'})")
        return None  # it answers
    except urllib.error.URLError as exc:  # while connecting: refused, unknown host, no answer, TLS
        if isinstance(exc.reason, TimeoutError):
            return f"did not answer within {PROBE_TIMEOUT_S:g} s (is the host right? check: curl {url})"
        reason = exc.reason if isinstance(exc.reason, str) else getattr(exc.reason, "strerror", None) or exc.reason
        return f"cannot be reached: {reason} (start the server or fix base_url; check: curl {url})"
    except TimeoutError:
        return None  # connected, but busy: the job's own timeouts and retries take it from here
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return f"cannot be reached: {type(exc).__name__}: {exc} (check base_url)"
