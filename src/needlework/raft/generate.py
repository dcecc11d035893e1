"""Questions and checked chain-of-thought answers for the chosen fragments (chunks): through a teacher model behind
any OpenAI-compatible endpoint, or the offline teacher.

Teacher path: one request per fragment for exactly ``n`` questions as JSON (numbering stripped, exact and near
duplicates removed; too few distinct questions is an invalid answer, re-asked with a repair message), then one
request per question for a chain-of-thought answer quoting the fragment. Every answer passes
:func:`needlework.raft.checker.check_answer`; a failing one is re-asked ``max_repairs`` times, then dropped and
counted by reason. Requests go through :class:`needlework.llm.ChatClient` (concurrent, retrying, cached by request
content), so a rerun after a crash sends no request already answered. The output is sorted by (chunk, question), so
it is byte-identical whatever the concurrency or completion order.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import logging
import random
import re
import threading
from collections import Counter
from typing import Any

from needlework.raft.checker import AnswerRejected, check_answer
from needlework.raft.metric import extract_prediction, normalize_answer
from needlework.raft.offline import has_facts, offline_answer, offline_questions
from needlework.raft.prompts import answer_messages, prompts, question_messages

log = logging.getLogger(__name__)

QUESTIONS_SCHEMA = {"type": "object", "properties": {"questions": {"type": "array", "items": {"type": "string"}}}}
_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022]|q\d*\s*[.:)]|question\s*\d*\s*[.:)])\s*", re.IGNORECASE)
NEAR_DUPLICATE = 0.9  # normalised questions at least this similar (difflib ratio) count as one


def seeded_rng(*parts: Any) -> random.Random:
    """A generator seeded by a stable hash of ``parts`` (e.g. seed, document, chunk, question)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def select_fragments(chunks: list[dict[str, Any]], n: int | None, seed: int, offline: bool) -> list[dict[str, Any]]:
    """The chunks questions are asked about: a seeded sample of ``n`` (all when None), in chunk order. The offline
    teacher can only use chunks it knows facts of."""
    eligible = [c for c in chunks if has_facts(c)] if offline else list(chunks)
    if n is None or n >= len(eligible):
        return eligible
    picked = sorted(seeded_rng(seed, "fragments").sample(range(len(eligible)), n))
    return [eligible[i] for i in picked]


def clean_questions(content: str, n: int) -> list[str]:
    """The ``n`` questions of a teacher's JSON answer: numbering stripped, exact and near duplicates removed.
    Raises ValueError (the answer is invalid) unless exactly ``n`` distinct questions remain."""
    data = json.loads(content)
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(q, str) for q in items):
        raise ValueError('expected {"questions": [<string>, ...]}')
    kept: list[str] = []
    for item in items:
        question = _NUMBERING.sub("", item).strip()
        norm = normalize_answer(question)
        if norm and not any(difflib.SequenceMatcher(None, norm, normalize_answer(k)).ratio() >= NEAR_DUPLICATE
                            for k in kept):
            kept.append(question)
    if len(kept) != n:
        raise ValueError(f"expected exactly {n} distinct questions, got {len(kept)} (after removing duplicates)")
    return kept


class _RejectionCounter:
    """check_answer against the oracle of each request key, counting every rejection by reason (thread-safe)."""

    def __init__(self, oracle_of: dict[str, str]) -> None:
        self.oracle_of = oracle_of
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, key: str, content: str) -> None:
        try:
            check_answer(content, self.oracle_of[key])
        except AnswerRejected as exc:
            with self._lock:
                self.counts[exc.reason] += 1
            raise


def _record(chunk: dict[str, Any], index: int, question: str, cot: str, teacher: str) -> dict[str, Any]:
    return {"chunk_id": chunk["id"], "doc_id": chunk["doc_id"], "q_index": index, "question": question,
            "cot_answer": cot, "answer": extract_prediction(cot)[0], "teacher": teacher,
            "prompt_version": prompts()["version"]}


def generate_offline(fragments: list[dict[str, Any]], n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records from the offline teacher; every answer still passes the checker (a failure is a bug here)."""
    records = []
    for chunk in fragments:
        for index, question in enumerate(offline_questions(chunk, n)):
            cot = offline_answer(chunk, question)
            check_answer(cot, chunk["text"])
            records.append(_record(chunk, index, question, cot, "offline"))
    return records, {"fragments": len(fragments), "questions": len(records), "kept": len(records), "dropped": {},
                     "rejected": {}}


def generate_with_teacher(fragments: list[dict[str, Any]], n: int, make_client, teacher: str,
                          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records from a teacher model. ``make_client(kind, validate=None, **options)`` returns a ChatClient for
    ``"questions"`` (JSON) or ``"answers"`` (free text)."""
    by_id = {c["id"]: c for c in fragments}
    q_client = make_client("questions", validate=lambda content: clean_questions(content, n))
    questions: dict[str, list[str]] = {}
    failed_questions = Counter()
    for result in q_client.run([(c["id"], question_messages(c["text"], n)) for c in fragments], desc="questions"):
        if result.error is None:
            questions[result.key] = clean_questions(result.content, n)
        else:
            failed_questions["invalid" if result.content is not None else "request_failed"] += 1
            log.warning("fragment %s: no questions (%s)", result.key, result.error)
    q_client.raise_if_unreachable()

    oracle_of: dict[str, str] = {}
    requests = []
    for chunk_id in sorted(questions):
        for index, question in enumerate(questions[chunk_id]):
            key = f"{chunk_id}\t{index}"
            oracle_of[key] = by_id[chunk_id]["text"]
            requests.append((key, answer_messages(question, by_id[chunk_id]["text"])))
    counter = _RejectionCounter(oracle_of)
    a_client = make_client("answers", validate_keyed=counter, reject_truncated=True)
    records, dropped = [], Counter()
    for result in a_client.run(requests, desc="answers"):
        chunk_id, index = result.key.split("\t")
        if result.error is not None:
            dropped[_drop_reason(result, oracle_of[result.key])] += 1
            continue
        records.append(_record(by_id[chunk_id], int(index), questions[chunk_id][int(index)], result.content, teacher))
    a_client.raise_if_unreachable()
    records.sort(key=lambda r: (r["chunk_id"], r["q_index"]))
    stats = {"fragments": len(fragments), "questions": len(requests), "kept": len(records),
             "dropped": dict(sorted(dropped.items())), "rejected": dict(sorted(counter.counts.items())),
             "fragments_without_questions": dict(failed_questions),
             "usage": {"questions": q_client.stats, "answers": a_client.stats}}
    return records, stats


def _drop_reason(result, oracle: str) -> str:
    """Why the last answer to a request was not usable."""
    if result.content is None:
        return "request_failed"
    try:
        check_answer(result.content, oracle, result.finish_reason)
    except AnswerRejected as exc:
        return exc.reason
    return "invalid"
