"""Progress of long steps, visible where users look: a live bar on a terminal, and in log files, CI output and
cluster jobs (no terminal) one complete line (count, rate, ETA) at most every :data:`LOG_EVERY_S` seconds.

tqdm's own ``disable=None`` prints nothing without a terminal, so a 5,000-needle labeling run or a 16k evaluation
looked dead in Snakemake logs until it ended; every long loop of the package goes through :func:`progress`.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

LOG_EVERY_S = 30.0  # seconds between progress lines when stderr is not a terminal


class _Lines:
    """A stream that turns each tqdm refresh (``\\r`` + status) into one newline-terminated line."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress(iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it",
             **kwargs: Any) -> tqdm:
    """``tqdm`` that reports to the step's log file too (stderr is tee'd there by ``stages.runtime.step_log``)."""
    stream = sys.stderr
    if stream.isatty():
        return tqdm(iterable, desc=desc, total=total, unit=unit, file=stream, mininterval=1.0, **kwargs)
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=_Lines(stream), mininterval=LOG_EVERY_S,
                maxinterval=LOG_EVERY_S, ascii=True, ncols=100, **kwargs)
