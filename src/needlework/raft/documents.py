"""RAFT documents from the sources users bring: HotpotQA (original JSON schema), a folder of .txt/.md files,
JSONL ``{id, text}`` and PDF (pypdf).

A document is ``{"id", "title", "text", "source"}``; HotpotQA paragraphs also carry ``sentences`` (title excluded)
and, for the paragraphs that hold a record's supporting facts, the ``facts`` the offline generator writes from
(question id, question, gold answer, supporting sentence indices). HotpotQA gives one document per paragraph
(title + sentences); a paragraph that several records share is one document. Other sources are cut into chunks
later (:mod:`needlework.raft.chunking`).

A file that cannot be parsed is skipped and counted (``on_error: skip``) or stops the step (``stop``); a HotpotQA
record with a missing field always stops it, naming the file and record.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from needlework.io import InputError, read_records

log = logging.getLogger(__name__)

SOURCES = ("hotpotqa", "folder", "jsonl", "pdf")
HOTPOT_FIELDS = ("_id", "question", "answer", "supporting_facts", "context")
FIXTURES = {"train": "hotpotqa_dev_fixture_train.json", "eval": "hotpotqa_dev_fixture_eval.json"}


def fixture_path(which: str) -> Path:
    """The packaged HotpotQA fixture (``train`` or ``eval``; provenance in ``raft/data/PROVENANCE.md``)."""
    return Path(str(resources.files("needlework.raft").joinpath("data", FIXTURES[which])))


def from_hf_schema(row: dict[str, Any]) -> dict[str, Any]:
    """A record of the Hugging Face ``hotpot_qa`` schema (``id``, ``supporting_facts{title, sent_id}``,
    ``context{title, sentences}``) in the original schema; original records pass unchanged."""
    if "_id" in row or "id" not in row:
        return row
    facts, context = row.get("supporting_facts") or {}, row.get("context") or {}
    return {**{k: v for k, v in row.items() if k != "id"}, "_id": row["id"],
            "supporting_facts": [list(f) for f in zip(facts.get("title", []), facts.get("sent_id", []))],
            "context": [[t, list(s)] for t, s in zip(context.get("title", []), context.get("sentences", []))]}


def read_hotpotqa(path: str | Path) -> list[dict[str, Any]]:
    """HotpotQA records in the original schema from a JSON list or JSONL file (the Hugging Face schema is converted),
    or from the hub as ``hub:<dataset>:<config>:<split>`` (e.g. ``hub:hotpotqa/hotpot_qa:distractor:validation``,
    needs HF_DATASETS_OFFLINE=0). A missing or ill-typed field raises InputError naming the file and record."""
    if str(path).startswith("hub:"):
        return _from_hub(str(path))
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.suffix == ".jsonl":
        numbered = [(line, from_hf_schema(record)) for line, record in read_records(path)]
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a HotpotQA JSON file ({exc})") from None
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of HotpotQA records")
        numbered = [(i, from_hf_schema(r) if isinstance(r, dict) else r) for i, r in enumerate(data)]
    for where, record in numbered:
        _check_hotpot_record(path, where, record)
    return [record for _, record in numbered]


def _from_hub(spec: str) -> list[dict[str, Any]]:
    """Records of a hub dataset in the HF ``hotpot_qa`` schema (``hub:<dataset>:<config>:<split>``)."""
    from datasets import load_dataset

    parts = spec.removeprefix("hub:").split(":")
    if len(parts) != 3 or not all(parts):
        raise InputError(f"config key raft.documents.path / raft.eval.path: {spec!r} is not "
                         "hub:<dataset>:<config>:<split>")
    name, config, split = parts
    records = [from_hf_schema(dict(row)) for row in load_dataset(name, config, split=split)]
    for i, record in enumerate(records):
        _check_hotpot_record(Path(spec), i, record)
    return records


def _check_hotpot_record(path: Path, where: int, record: Any) -> None:
    name = f"{path}: record {where}" + (f" ({record.get('_id')})" if isinstance(record, dict) else "")
    if not isinstance(record, dict):
        raise InputError(f"{name}: expected a JSON object")
    missing = [field for field in HOTPOT_FIELDS if field not in record]
    if missing:
        raise InputError(f"{name}: missing field(s) {', '.join(missing)} of the HotpotQA schema")
    context = record["context"]
    if not isinstance(context, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], list) for p in context
    ):
        raise InputError(f"{name}: 'context' must be a list of [title, [sentences]]")
    if not all(isinstance(f, list) and len(f) == 2 for f in record["supporting_facts"]):
        raise InputError(f"{name}: 'supporting_facts' must be a list of [title, sentence index]")


def hotpot_documents(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document per distinct paragraph (title + sentences), in order of first appearance, with the facts of
    every record whose supporting paragraph it is."""
    docs: dict[str, dict[str, Any]] = {}
    for record in records:
        supporting: dict[str, list[int]] = {}
        for title, index in record["supporting_facts"]:
            supporting.setdefault(title, []).append(int(index))
        for title, sentences in record["context"]:
            text = "".join(sentences).strip()
            key = f"{title}\n{text}"
            doc = docs.get(key)
            if doc is None:
                doc = docs[key] = {"id": f"hotpot-{len(docs):05d}", "title": title, "text": text,
                                   "sentences": [s for s in sentences], "source": "hotpotqa", "facts": []}
            if title in supporting:
                doc["facts"].append({"question_id": record["_id"], "question": record["question"],
                                     "answer": record["answer"], "sentences": sorted(set(supporting[title]))})
    return list(docs.values())


def load_documents(cfg: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Documents of ``raft.documents`` and an audit ``{"files", "skipped": [{"file", "reason"}]}``."""
    source, on_error = cfg["source"], cfg["on_error"]
    if source == "hotpotqa":
        records = read_hotpotqa(cfg.get("path") or fixture_path("train"))
        return hotpot_documents(records), {"files": 1, "records": len(records), "skipped": []}
    path = Path(cfg["path"]) if cfg.get("path") else None
    if path is None:
        raise InputError(f"config key raft.documents.path: source {source!r} needs a path")
    if source == "jsonl":
        docs = [_jsonl_document(path, line, record) for line, record in read_records(path)]
        return docs, {"files": 1, "skipped": []}
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in ({".pdf"} if source == "pdf" else {".txt", ".md"}))
    if not files:
        raise InputError(f"{path}: no {'.pdf' if source == 'pdf' else '.txt/.md'} files (config key raft.documents.path)")
    docs, skipped = [], []
    for file in files:
        try:
            text = _pdf_text(file) if source == "pdf" else file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError, ValueError) as exc:
            if on_error == "stop":
                raise InputError(f"{file}: cannot be read as a document ({type(exc).__name__}: {exc})") from None
            log.warning("skipping %s: %s", file, exc)
            skipped.append({"file": str(file), "reason": f"{type(exc).__name__}: {exc}"})
            continue
        if text.strip():
            docs.append({"id": str(file.relative_to(path)), "title": file.stem, "text": text, "source": source})
        else:
            skipped.append({"file": str(file), "reason": "no text"})
    return docs, {"files": len(files), "skipped": skipped}


def _jsonl_document(path: Path, line: int, record: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(record.get("id"), str | int) or not isinstance(record.get("text"), str):
        raise InputError(f"{path}:{line}: expected {{\"id\": ..., \"text\": \"...\"}}")
    return {"id": str(record["id"]), "title": str(record.get("title", record["id"])), "text": record["text"],
            "source": "jsonl"}


def _pdf_text(file: Path) -> str:
    """The text of every page of a PDF (pypdf), pages separated by blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return "\n\n".join(page.extract_text() or "" for page in PdfReader(file).pages)
    except PdfReadError as exc:
        raise ValueError(f"not a readable PDF ({exc})") from None


def iter_texts(docs: list[dict[str, Any]]) -> Iterator[str]:
    """Title and text of every document (what the offline tiny model's tokenizer and pretraining read)."""
    for doc in docs:
        yield f"{doc['title']}\n{doc['text']}"
