"""File helpers shared by every stage: atomic writes and strict JSONL/Parquet reading.

Every output is written to a temporary sibling and renamed into place, so a crash or a bad input never
leaves a partial file behind. Readers raise :class:`InputError` naming ``file:line``.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad user input: the message names the file and line (or the config key) at fault."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, on error delete it.

    Works for files and directories alike (the caller creates whatever it wants at the yielded path).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """``open()`` for writing whose result appears at ``path`` only if the block finishes without error."""
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def dumps(record: Any) -> str:
    """Deterministic one-line JSON (sorted keys, UTF-8 kept): byte-identical for identical records."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write records as JSON lines atomically; return how many were written."""
    n = 0
    with atomic_open(path) as fh:
        for record in records:
            fh.write(dumps(record) + "\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write one JSON document atomically (pretty, sorted keys)."""
    with atomic_open(path) as fh:
        json.dump(obj, fh, sort_keys=True, ensure_ascii=False, indent=2)
        fh.write("\n")


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield the objects of a JSONL file (blank lines skipped); errors name ``file:line``."""
    for _, record in read_records(path):
        yield record


def read_records(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_or_row_number, record)`` from a JSONL (1-based line) or Parquet (1-based row) file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        if not path.exists():
            raise InputError(f"{path}: file not found")
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
        for i, row in enumerate(table.to_pylist(), start=1):
            yield i, row
        return
    if not path.exists():
        raise InputError(f"{path}: file not found")
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_append_log(path: str | os.PathLike, what: str) -> Iterator[tuple[int, dict]]:
    """Yield ``(line, object)`` from an append-only JSONL cache. A torn last line (the process died mid-write) is
    cut off the file; any other bad line raises InputError naming ``file:line`` and ``what`` the file is."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            fh.truncate(complete)
    for lineno, raw in enumerate(data[:complete].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}:{lineno}: corrupt {what} line ({exc}); delete the file") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: not a {what} entry; delete the file")
        yield lineno, obj
