"""Run a backend over the evaluation grid, resumably, and write the Predictions file.

Every result is appended to a JSONL cache (one flushed line per result) the moment it arrives, so a killed
or crashed run loses nothing: a rerun requests only the ids that have no successful result in the cache
(no repeated API spend). A cached result is reused only for the same prompt asked of the same model (each line
carries a hash of both), so a rebuilt grid or a retrained adapter is never answered from stale results. Cached results whose ``error`` is set are requested again, because an error is not
an answer (a transient outage should not become a permanent 0). The Predictions file itself is written
atomically, sorted by id, only once every record has a result.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from needlework.io import InputError, dumps, read_append_log, write_jsonl


class Backend(Protocol):
    """What a model backend (HF or OpenAI-compatible) offers the grid."""

    def generate(self, requests: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield ``{"id", "answer", "error", "input_tokens", "output_tokens"}`` per ``{"id", "messages"}`` request."""
        ...


RESULT_KEYS: tuple[str, ...] = ("answer", "error", "input_tokens", "output_tokens")


def request_of(record: dict[str, Any]) -> dict[str, Any]:
    """The request for a haystack record: its system and user messages, never the assistant's label."""
    return {"id": record["id"], "messages": [m for m in record["messages"] if m["role"] != "assistant"]}


def label_of(record: dict[str, Any]) -> str:
    """The label JSON of a haystack record: the content of its assistant message."""
    for message in record["messages"]:
        if message["role"] == "assistant":
            return message["content"]
    raise InputError(f"haystack record {record['id']!r}: no assistant message holding the label")


def request_key(request: dict[str, Any], model_id: str) -> str:
    """Hash of what was asked of whom: the request's messages and the model's identity."""
    return hashlib.sha256(dumps({"messages": request["messages"], "model": model_id}).encode()).hexdigest()[:20]


def prediction_record(record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """One Predictions-file record: the haystack record's keys, its label and the backend's result."""
    return {
        "id": record["id"],
        "needle_id": record["needle_id"],
        "context_length": record["context_length"],
        "depth": record["depth"],
        "actual_depth": record["actual_depth"],
        "label": label_of(record),
        **{key: result.get(key) for key in RESULT_KEYS},
    }


def read_cache(cache_path: Path) -> dict[str, dict[str, Any]]:
    """Id -> last cached result. A torn last line (the process died mid-write) is cut off the file."""
    results: dict[str, dict[str, Any]] = {}
    for lineno, result in read_append_log(cache_path, "prediction cache"):
        if "id" not in result:
            raise InputError(f"{cache_path}:{lineno}: cache line is not a result object with an id")
        results[result["id"]] = result
    return results


def _append(cache_path: Path, results: Iterable[dict[str, Any]], expected: set[str],
            keys: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Append each result to the cache as it arrives (flushed and synced), remove its id from ``expected``
    and pass it on; a result for an id not in ``expected`` (unknown or repeated) raises RuntimeError."""
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_path, "a", encoding="utf-8") as fh:
        for result in results:
            if result.get("id") not in expected:
                raise RuntimeError(f"backend returned a result for an id it was not asked for: {result.get('id')!r}")
            expected.discard(result["id"])
            line = {"id": result["id"], "key": keys[result["id"]], **{key: result.get(key) for key in RESULT_KEYS}}
            fh.write(dumps(line) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            yield result


def run_predictions(
    backend: Backend, eval_records: list[dict[str, Any]], pred_path: Path, cache_path: Path, model_id: str = ""
) -> list[dict[str, Any]]:
    """Predict every eval record (resuming from ``cache_path``) and write ``pred_path``; return its records.

    ``model_id`` identifies the model that answers (config, weights): cached answers of another model, or to
    another prompt under the same id, are asked again.

    If the backend raises midway, whatever it returned so far stays in the cache and the error propagates.
    """
    pred_path, cache_path = Path(pred_path), Path(cache_path)
    by_id: dict[str, dict[str, Any]] = {}
    for record in eval_records:
        if record["id"] in by_id:
            raise InputError(f"eval records: duplicate id {record['id']!r}")
        by_id[record["id"]] = record
    keys = {i: request_key(request_of(record), model_id) for i, record in by_id.items()}
    first_of: dict[str, str] = {}
    for i, key in sorted(keys.items()):  # a repeated prompt would count one measurement twice
        if first_of.setdefault(key, i) != i:
            raise InputError(f"eval records {first_of[key]!r} and {i!r} ask the same prompt: rebuild the haystacks")
    cached = {i: r for i, r in read_cache(cache_path).items()
              if i in by_id and r.get("error") is None and r.get("key") == keys[i]}
    todo = [request_of(record) for i, record in sorted(by_id.items()) if i not in cached]
    pending = {request["id"] for request in todo}
    if todo:
        for result in _append(cache_path, backend.generate(todo), pending, keys):
            cached[result["id"]] = result
    if pending:
        raise RuntimeError(f"backend returned no result for {len(pending)} requests, e.g. {sorted(pending)[:3]}")
    predictions = [prediction_record(by_id[i], cached[i]) for i in sorted(by_id)]
    write_jsonl(pred_path, predictions)
    return predictions
