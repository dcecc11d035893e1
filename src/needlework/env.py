"""Process environment every job of the workflow gets (without these, an accidental hub lookup
retries for 20-50 s before failing)."""
from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env() -> None:
    """Set the offline variables unless the user set them (e.g. HF_HUB_OFFLINE=0 to load wiki_bio online)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def prepend_pythonpath(directory: str | os.PathLike) -> None:
    """Let every job import from `directory` (the checkout's src/), also in envs that hold only dependencies."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))


def hub_offline() -> bool:
    """Whether hub models load from the local Hugging Face cache only (HF_HUB_OFFLINE, as apply_offline_env sets)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
