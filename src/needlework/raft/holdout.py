"""Nothing evaluated is trained on: every paragraph of a RAFT evaluation question (gold and distractor alike) is
kept out of the documents that training fragments, distractors and the offline base model come from.

Paragraphs are compared by content with all whitespace ignored. A HotpotQA document (one paragraph) is excluded
when its title and text are an evaluation paragraph's. A document of another source (folder, jsonl, pdf) loses
every stretch of its text that is an evaluation paragraph's text (with the paragraph's title just before it, if
there), wherever it starts on a word; a document that is nothing but an evaluation paragraph (with or without its
title) is dropped, however short. A stretch shorter than a whole evaluation paragraph (one of its sentences on its
own) is not matched.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Any

ANCHOR = 24  # leading non-blank characters an evaluation paragraph is looked up by inside a longer document


def squash(text: str) -> str:
    """``text`` without any whitespace: how paragraphs are compared."""
    return "".join(text.split())


def eval_paragraphs(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct paragraphs of HotpotQA records: ``{"title", "text", "question_ids"}`` in order of first
    appearance (text as the evaluation prompts hold it)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        for title, sentences in record["context"]:
            text = "".join(sentences).strip()
            paragraph = found.setdefault((squash(title), squash(text)),
                                         {"title": title, "text": text, "question_ids": []})
            if record["_id"] not in paragraph["question_ids"]:
                paragraph["question_ids"].append(record["_id"])
    return list(found.values())


class Holdout:
    """The evaluation paragraphs, indexed for the checks of :func:`exclude`."""

    def __init__(self, paragraphs: Iterable[dict[str, Any]]):
        self.pairs: set[tuple[str, str]] = set()
        self.whole: set[str] = set()
        self.by_anchor: dict[str, list[tuple[str, str]]] = {}
        for p in paragraphs:
            title, text = squash(p["title"]), squash(p["text"])
            self.pairs.add((title, text))
            self.whole.update({text, title + text} - {""})
            if len(text) >= ANCHOR:
                self.by_anchor.setdefault(text[:ANCHOR], []).append((title, text))

    def find(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` character spans of ``text`` that are evaluation paragraphs (titles included), one per
        occurrence, in order."""
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        flat = "".join(text[a:b] for a, b in words)
        if flat in self.whole:
            return [(words[0][0], words[-1][1])]
        starts = [0]  # where each word begins in ``flat``
        for a, b in words:
            starts.append(starts[-1] + b - a)

        def original(i: int, end: bool = False) -> int:  # a ``flat`` offset back in ``text``
            w = bisect.bisect_right(starts, i - end) - 1
            return words[w][0] + i - starts[w]

        found = []
        for i in starts[:-1]:
            for title, para in self.by_anchor.get(flat[i:i + ANCHOR], ()):
                if flat.startswith(para, i):
                    first = i - len(title) if title and flat.endswith(title, 0, i) else i
                    found.append((original(first), original(i + len(para), end=True)))
        return sorted(set(found))


def exclude(docs: list[dict[str, Any]],
            paragraphs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The documents without the evaluation paragraphs, and what was taken out: ``{"eval_paragraphs",
    "paragraphs", "documents", "shortened", "ids"}`` (paragraphs cut, documents dropped, documents cut shorter,
    the ids of both)."""
    holdout = Holdout(paragraphs)
    kept, cut, dropped, shortened, ids = [], 0, 0, 0, []
    for doc in docs:
        if doc["source"] == "hotpotqa":
            spans = [(0, len(doc["text"]))] if (squash(doc["title"]), squash(doc["text"])) in holdout.pairs else []
        else:
            spans = holdout.find(doc["text"])
        if not spans:
            kept.append(doc)
            continue
        cut += len(spans)
        ids.append(doc["id"])
        rest = "\n\n".join(part.strip() for part in _outside(doc["text"], spans) if part.strip())
        if rest and doc["source"] != "hotpotqa":
            kept.append({**doc, "text": rest})
            shortened += 1
        else:
            dropped += 1
    return kept, {"eval_paragraphs": len(paragraphs), "paragraphs": cut, "documents": dropped,
                  "shortened": shortened, "ids": ids}


def _outside(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The parts of ``text`` outside ``spans`` (sorted, possibly overlapping)."""
    parts, at = [], 0
    for a, b in spans:
        parts.append(text[at:max(a, at)])
        at = max(at, b)
    return parts + [text[at:]]
