"""The check every teacher answer passes before it can become training data.

An answer is rejected (with one reason) when it was cut off (``finish_reason`` ``length``), has no ``<ANSWER>:``
tag, more than one, or an empty final answer, quotes nothing between ``##begin_quote##`` and ``##end_quote##``,
or quotes something that is not a verbatim substring of the oracle document (up to whitespace).
"""
from __future__ import annotations

import re

from needlework.raft.metric import ANSWER_TAG

BEGIN_QUOTE, END_QUOTE = "##begin_quote##", "##end_quote##"
REASONS = ("truncated", "missing_answer_tag", "multiple_answer_tags", "empty_answer", "no_quote", "unbalanced_quote",
           "quote_not_in_oracle")
_QUOTE = re.compile(re.escape(BEGIN_QUOTE) + r"(.*?)" + re.escape(END_QUOTE), re.DOTALL)


class AnswerRejected(ValueError):
    """A teacher answer failed the check; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _squash(text: str) -> str:
    return " ".join(text.split())


def quotes(answer: str) -> list[str]:
    """The quoted passages of an answer, in order."""
    return [q.strip() for q in _QUOTE.findall(answer)]


def check_answer(answer: str, oracle: str, finish_reason: str | None = "stop") -> None:
    """Raise AnswerRejected naming the first problem of ``answer`` against its ``oracle`` document."""
    if finish_reason == "length":
        raise AnswerRejected("truncated", "the answer was cut off at the token limit")
    tags = answer.count(ANSWER_TAG)
    if tags == 0:
        raise AnswerRejected("missing_answer_tag", f"end with '{ANSWER_TAG} <final answer>'")
    if tags > 1:
        raise AnswerRejected("multiple_answer_tags", f"give '{ANSWER_TAG}' exactly once, at the end")
    if not answer.split(ANSWER_TAG, 1)[1].strip():
        raise AnswerRejected("empty_answer", f"nothing follows '{ANSWER_TAG}'")
    if answer.count(BEGIN_QUOTE) != answer.count(END_QUOTE):
        raise AnswerRejected("unbalanced_quote", f"every {BEGIN_QUOTE} needs its {END_QUOTE}")
    found = quotes(answer)
    if not found or not any(found):
        raise AnswerRejected("no_quote", f"quote the context between {BEGIN_QUOTE} and {END_QUOTE}")
    squashed = _squash(oracle)
    for quote in found:
        if _squash(quote) not in squashed:
            raise AnswerRejected("quote_not_in_oracle", f"not verbatim in the context: {quote[:120]!r}")
