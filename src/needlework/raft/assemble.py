"""RAFT examples: each generated (question, answer) with its oracle chunk and k distractor chunks, in gorilla's
columns, exported as chat JSONL, completion JSONL (gorilla's ``prompt``/``completion``) and a ``datasets`` dataset;
and the same questions and answers without documents (closed-book chat JSONL), what the DSF row is fine-tuned on.

Distractors are unique and never the oracle: drawn at random (as RAFT does) or, with ``negatives: bm25``, the chunks
most similar to the question by BM25 (bm25s) that do not contain the gold answer. The oracle is kept with probability
``oracle_p``; without it the example holds ``k + 1`` distractors (gorilla's rule). Every random choice comes from a
generator seeded by (seed, document, chunk, question), so the output is byte-identical whatever the number of
workers or the order examples are built in.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from needlework.io import InputError
from needlework.raft.generate import seeded_rng
from needlework.raft.metric import normalize_answer
from needlework.raft.prompts import instruction

NEGATIVES = ("random", "bm25")


class _BM25:
    """Lexical similarity of a question to every chunk (title + text)."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.n = len(chunks)
        self.normalized = [f" {normalize_answer(c['title'] + ' ' + c['text'])} " for c in chunks]
        self.retriever = bm25s.BM25()
        corpus = bm25s.tokenize([f"{c['title']} {c['text']}" for c in chunks], stopwords="en", show_progress=False)
        self.retriever.index(corpus, show_progress=False)

    def ranking(self, question: str) -> list[int]:
        """Chunk indices, most similar first (ties broken by index, so the order is deterministic)."""
        [tokens] = self._bm25s.tokenize([question], stopwords="en", show_progress=False, return_ids=False)
        scores = self.retriever.get_scores(tokens) if tokens else [0.0] * self.n
        return sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))

    def negatives(self, question: str, answer: str, exclude: int, n: int) -> list[int]:
        """The ``n`` chunks most similar to the question, other than ``exclude``, that do not hold the answer
        (normalised, as whole words; a yes/no answer is no evidence a paragraph holds, so it excludes nothing)."""
        gold = normalize_answer(answer)
        needle = f" {gold} " if gold and gold not in ("yes", "no") else None
        picked = []
        for i in self.ranking(question):
            if i != exclude and (needle is None or needle not in self.normalized[i]):
                picked.append(i)
                if len(picked) == n:
                    break
        return picked


def _distractors(record: dict[str, Any], oracle: int, chunks: list[dict[str, Any]], n: int, rng,
                 bm25: _BM25 | None) -> list[int]:
    if bm25 is None:
        # n distinct indices of the chunks other than the oracle (indices past the oracle shift up by one)
        return [i + (i >= oracle) for i in rng.sample(range(len(chunks) - 1), n)]
    picked = bm25.negatives(record["question"], record["answer"], oracle, n)
    if len(picked) < n:
        raise InputError(f"raft.assembly.distractors: only {len(picked)} chunks without the answer of "
                         f"{record['chunk_id']!r}, {n} needed")
    return picked


def build_example(record: dict[str, Any], chunks: list[dict[str, Any]], index_of: dict[str, int], *, k: int,
                  oracle_p: float, seed: int, bm25: _BM25 | None, provenance: dict[str, Any]) -> dict[str, Any]:
    """One RAFT example (gorilla's columns plus oracle_present, oracle_index, doc ids and provenance)."""
    oracle = index_of[record["chunk_id"]]
    rng = seeded_rng(seed, record["doc_id"], record["chunk_id"], record["q_index"])
    keep_oracle = rng.random() < oracle_p
    docs = _distractors(record, oracle, chunks, k if keep_oracle else k + 1, rng, bm25)
    if keep_oracle:
        docs = [oracle, *docs]
    rng.shuffle(docs)
    texts = [chunks[i]["text"] for i in docs]
    return {
        "id": f"{record['chunk_id']}/q{record['q_index']}",
        "type": "general",
        "question": record["question"],
        "context": {"title": [[chunks[i]["title"] for i in docs]], "sentences": [texts]},
        "oracle_context": chunks[oracle]["text"],
        "cot_answer": record["cot_answer"],
        "answer": record["answer"],
        "instruction": instruction(texts, record["question"]),
        "oracle_present": keep_oracle,
        "oracle_index": docs.index(oracle) if keep_oracle else None,
        "doc_ids": [chunks[i]["id"] for i in docs],
        "provenance": {"teacher": record["teacher"], "prompt_version": record["prompt_version"], **provenance},
    }


def assemble(generated: list[dict[str, Any]], chunks: list[dict[str, Any]], *, k: int, oracle_p: float,
             negatives: str, seed: int, provenance: dict[str, Any], workers: int = 1) -> list[dict[str, Any]]:
    """Every example, in the order of ``generated``; ``workers`` threads build them (the result does not depend on
    how many)."""
    if negatives not in NEGATIVES:
        raise InputError(f"config key raft.assembly.negatives: {negatives!r} is not one of {NEGATIVES}")
    if len(chunks) < k + 2:
        raise InputError(f"config key raft.assembly.distractors: {k} distractors (and {k + 1} without the oracle) "
                         f"need at least {k + 2} chunks, there are {len(chunks)}")
    index_of = {c["id"]: i for i, c in enumerate(chunks)}
    bm25 = _BM25(chunks) if negatives == "bm25" else None

    def build(record: dict[str, Any]) -> dict[str, Any]:
        return build_example(record, chunks, index_of, k=k, oracle_p=oracle_p, seed=seed, bm25=bm25,
                             provenance=provenance)

    if workers <= 1:
        return [build(r) for r in generated]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(build, generated))


def chat_record(example: dict[str, Any]) -> dict[str, Any]:
    """Chat form for the training step: the instruction as the user turn, the CoT answer as the assistant's."""
    return {"id": example["id"], "messages": [{"role": "user", "content": example["instruction"]},
                                              {"role": "assistant", "content": example["cot_answer"]}]}


def closed_book_record(example: dict[str, Any]) -> dict[str, Any]:
    """Chat form for domain-specific fine-tuning (DSF): the question alone as the user turn, the same CoT answer."""
    return {"id": example["id"], "messages": [{"role": "user", "content": instruction([], example["question"])},
                                              {"role": "assistant", "content": example["cot_answer"]}]}


def completion_record(example: dict[str, Any]) -> dict[str, Any]:
    """gorilla's completion form."""
    return {"prompt": example["instruction"], "completion": example["cot_answer"]}
