"""What every step needs around its work: its log file (with progress bars) and a timer."""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from needlework.env import apply_offline_env


class _Tee:
    """Write to the console and to the step's log file (tqdm bars included)."""

    def __init__(self, *streams: IO[str]):
        self.streams = streams

    def write(self, data: str) -> int:
        for stream in self.streams:
            stream.write(data)
            stream.flush()
        return len(data)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:  # progress bars follow the console: live on a terminal, quiet in batch logs
        return self.streams[0].isatty()


@contextlib.contextmanager
def step_log(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send stdout, stderr and `logging` of a step to its log file as well as to the console."""
    apply_offline_env()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as fh:
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, fh), _Tee(err, fh)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield logging.getLogger("needlework")
        except BaseException:
            logging.getLogger("needlework").exception("step failed")  # the traceback goes to the log file too
            raise
        finally:
            root.removeHandler(handler)
            sys.stdout, sys.stderr = out, err


@contextlib.contextmanager
def timer() -> Iterator[dict[str, float]]:
    """`with timer() as t: ...` then `t["seconds"]`."""
    result = {"seconds": 0.0}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = round(time.perf_counter() - start, 3)
