"""The offline teacher: questions and quoting chain-of-thought answers written from facts it knows, in exactly the
format a teacher model is asked for, with no network (the offline default's generator).

For HotpotQA, a paragraph that holds supporting facts of a record gets that record's question; its answer quotes
the supporting sentences of that paragraph verbatim and ends with the gold answer. Everything is a pure function of
the documents, so the output is byte-identical on every run.
"""
from __future__ import annotations

from typing import Any

from needlework.raft.checker import BEGIN_QUOTE, END_QUOTE
from needlework.raft.metric import ANSWER_TAG


def has_facts(chunk: dict[str, Any]) -> bool:
    """Whether the offline teacher can write a question about this chunk."""
    return bool(chunk.get("facts"))


def offline_questions(chunk: dict[str, Any], n: int) -> list[str]:
    """Up to ``n`` questions whose answers rest on this chunk (the HotpotQA questions it supports)."""
    seen, out = set(), []
    for fact in chunk.get("facts", []):
        if fact["question"] not in seen:
            seen.add(fact["question"])
            out.append(fact["question"])
    return out[:n]


def offline_answer(chunk: dict[str, Any], question: str) -> str:
    """A chain-of-thought answer quoting the chunk's supporting sentences, ending with ``<ANSWER>: gold``."""
    fact = next(f for f in chunk["facts"] if f["question"] == question)
    sentences = chunk["sentences"]
    quoted = [sentences[i].strip() for i in fact["sentences"] if 0 <= i < len(sentences) and sentences[i].strip()]
    quoted = quoted or [sentences[0].strip()]
    evidence = " ".join(f"{BEGIN_QUOTE}{q}{END_QUOTE}" for q in quoted)
    return (f"To answer the question, look for what the context says about {chunk['title']}. "
            f"The context states: {evidence} "
            f"Putting this together with the question, the answer is {fact['answer']}.\n"
            f"{ANSWER_TAG} {fact['answer']}")
