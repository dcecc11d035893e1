"""Chunks of a configured size and overlap in the model's tokens, cut on sentence boundaries, with the character
offsets of each chunk in its document kept (``text == document[start:end]``).

A chunk holds whole sentences up to ``tokens`` tokens (counted on the chunk's own text by the model's tokenizer);
the next chunk starts with the last sentences of the previous one that fit in ``overlap`` tokens. A single sentence
longer than the budget is cut between words.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from needlework.io import InputError

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace, or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of ``text``, surrounding whitespace excluded."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        _add_span(text, start, match.start() + len(match.group(1) or ""), spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _split_long(text: str, span: tuple[int, int], budget: int, count: Callable[[str], int]) -> list[tuple[int, int]]:
    """Cut one over-long sentence between words into pieces of at most ``budget`` tokens."""
    words = [(m.start() + span[0], m.end() + span[0]) for m in re.finditer(r"\S+", text[span[0]:span[1]])]
    pieces, first = [], 0
    while first < len(words):
        last = first
        while last + 1 < len(words) and count(text[words[first][0]:words[last + 1][1]]) <= budget:
            last += 1
        pieces.append((words[first][0], words[last][1]))
        first = last + 1
    return pieces


def chunk_text(text: str, *, tokens: int, overlap: int, count: Callable[[str], int]) -> list[dict[str, Any]]:
    """``[{"text", "start", "end", "n_tokens"}]`` covering every sentence of ``text``."""
    if tokens < 1 or not 0 <= overlap < tokens:
        raise InputError(f"config keys raft.chunking.tokens/overlap: need tokens >= 1 and 0 <= overlap < tokens, "
                         f"got {tokens} and {overlap}")
    spans: list[tuple[int, int]] = []
    for span in sentence_spans(text):
        spans += _split_long(text, span, tokens, count) if count(text[span[0]:span[1]]) > tokens else [span]
    chunks, first = [], 0
    while first < len(spans):
        last = first
        while last + 1 < len(spans) and count(text[spans[first][0]:spans[last + 1][1]]) <= tokens:
            last += 1
        start, end = spans[first][0], spans[last][1]
        chunks.append({"text": text[start:end], "start": start, "end": end, "n_tokens": count(text[start:end])})
        if last + 1 >= len(spans):
            break
        next_first = last + 1  # back up over the sentences that fit in the overlap, always moving forward
        while next_first - 1 > first and count(text[spans[next_first - 1][0]:spans[last][1]]) <= overlap:
            next_first -= 1
        first = next_first
    return chunks


def chunk_documents(docs: list[dict[str, Any]], *, tokens: int, overlap: int,
                    count: Callable[[str], int] | None) -> list[dict[str, Any]]:
    """Chunks of every document: ``{"id", "doc_id", "title", "text", "start", "end", "n_tokens", ...}``.

    HotpotQA paragraphs are already one document each and become one chunk each (``count`` may be None then).
    """
    chunks = []
    for doc in docs:
        if doc["source"] == "hotpotqa":
            pieces = [{"text": doc["text"], "start": 0, "end": len(doc["text"]),
                       "n_tokens": count(doc["text"]) if count else None}]
        else:
            if count is None:
                raise ValueError("chunking a non-HotpotQA document needs the model's tokenizer")
            pieces = chunk_text(doc["text"], tokens=tokens, overlap=overlap, count=count)
        for i, piece in enumerate(pieces):
            extra = {k: doc[k] for k in ("sentences", "facts") if k in doc}
            chunks.append({"id": f"{doc['id']}#{i}", "doc_id": doc["id"], "title": doc["title"], **piece, **extra})
    if not chunks:
        raise InputError("raft.documents: no chunks: every document was empty or skipped")
    return chunks
