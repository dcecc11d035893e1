"""What every step needs around its work: its log file (with progress bars), one-line errors, and a timer.

An expected failure (bad data or config, an unreachable endpoint, an offline hub model, a missing file) ends the
step with one line, `needlework: <file>:<line>: <what is wrong> (<what to do>)`, on the console and in the log,
and no traceback; a bug keeps its traceback (printed once). `NEEDLEWORK_DEBUG=1` shows tracebacks for all.
The step's MLflow run (needlework.tracking.stage_run) ends FAILED with that line (`one_line`) as its `error` tag.
A step stopped from outside, by SIGTERM (a cancelled cluster job, `kill`, Snakemake stopping its jobs; raised as
:class:`Terminated` in its main thread) or by Ctrl-C, ends its run KILLED and exits with 128 + the signal's number
after one line, `needlework: stopped by SIGTERM`; what it was writing stays incomplete (Snakemake deletes it).
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from needlework.env import apply_offline_env
from needlework.io import InputError


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


class Terminated(BaseException):
    """SIGTERM, raised where the step's main thread is (like KeyboardInterrupt for SIGINT), so that what is open
    (an MLflow run, a file being written) is closed on the way out."""


def stopped_by(exc: BaseException) -> signal.Signals | None:
    """The signal that stopped a step from outside, None for any other failure."""
    if isinstance(exc, Terminated):
        return exc.args[0]
    return signal.SIGINT if isinstance(exc, KeyboardInterrupt) else None


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signal.Signals(signum))


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the step runs (only the main thread may set a handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
            with _sigterm_raises():
                yield logging.getLogger("needlework")
        except (Terminated, KeyboardInterrupt) as exc:
            print(f"needlework: {one_line(exc)}", file=sys.stderr)
            raise SystemExit(128 + stopped_by(exc)) from None
        except Exception as exc:
            if expected(exc) and os.environ.get("NEEDLEWORK_DEBUG") != "1":
                print(f"needlework: {describe(exc)}", file=sys.stderr)  # the console and the log file, once
                raise SystemExit(1) from None
            fh.write(traceback.format_exc())  # the console gets it from Python itself, once
            raise
        finally:
            root.removeHandler(handler)
            sys.stdout, sys.stderr = out, err


def expected(exc: BaseException) -> bool:
    """A failure the user fixes (input, config, environment), not a bug in needlework."""
    kinds: list[type] = [InputError, FileNotFoundError]
    for module, names in (("needlework.config", ("ConfigError",)),
                          ("needlework.llm", ("EndpointUnreachableError", "EndpointRejectedError"))):
        if module in sys.modules:  # an exception of a module nobody imported cannot have been raised
            kinds += [getattr(sys.modules[module], name) for name in names]
    return isinstance(exc, tuple(kinds))


def describe(exc: BaseException) -> str:
    """An expected failure as one line."""
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: file not found (check the path in the config, or build what makes it first)"
    return " ".join(str(exc).split())


def one_line(exc: BaseException) -> str:
    """Any failure as one line (a failed step's MLflow `error` tag): an expected one as the step prints it (without
    the `needlework: ` prefix), a bug as its type and message."""
    if expected(exc):
        return describe(exc)
    if stopped_by(exc):
        return f"stopped by {stopped_by(exc).name}"
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@contextlib.contextmanager
def timer() -> Iterator[dict[str, float]]:
    """`with timer() as t: ...` then `t["seconds"]`."""
    result = {"seconds": 0.0}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = round(time.perf_counter() - start, 3)


def record_provenance(cfg: dict[str, Any], out_dir: str | Path, labeler: dict[str, Any] | None = None) -> None:
    """Write a result folder's ``provenance.json``: the config subtree and input identities its key was made of
    (as its track's paths module made it) and the code version. ``labeler``: the labeler of a labels folder (the
    experiment's or the one it is compared with)."""
    from needlework.identity import write_provenance

    out_dir = Path(out_dir)
    if out_dir.parent.parent.name == "raft":  # results/raft/<step>/<name>-<key>
        from needlework.raft.paths import RaftPaths

        paths = RaftPaths(cfg)
    else:
        from needlework.longctx.paths import Paths

        paths = Paths(cfg)
        if labeler is not None:
            paths.labels_dir_for(labeler)
    parts = paths.provenance_of(out_dir)
    if parts is None:  # a step called on a folder of its own choosing (not through the workflow)
        logging.getLogger("needlework").info("%s is no result folder of this configuration: no provenance", out_dir)
        return
    write_provenance(out_dir, parts)
