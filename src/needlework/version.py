"""The code a result was made by: this package's version and the git commit of its checkout (when it is one)."""
from __future__ import annotations

import contextlib
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]  # the repository root of an editable install


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """``{"needlework": version, "git_commit": sha}`` (the commit only inside a git checkout)."""
    version = {}
    with contextlib.suppress(metadata.PackageNotFoundError):
        version["needlework"] = metadata.version("needlework")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=_CHECKOUT).stdout.strip()
        if commit:
            version["git_commit"] = commit
    return version
