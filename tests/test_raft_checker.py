"""The teacher-answer check: truncation, the <ANSWER>: tag, quotes verbatim in the oracle (up to whitespace)."""
from __future__ import annotations

import pytest

from needlework.raft.checker import AnswerRejected, check_answer, quotes

ORACLE = "Paris is the capital of France.  It has 2.1 million\ninhabitants."
GOOD = "The context says ##begin_quote##Paris is the capital of France.##end_quote## so <ANSWER>: Paris"


def reason(answer: str, finish_reason: str = "stop") -> str | None:
    try:
        check_answer(answer, ORACLE, finish_reason)
    except AnswerRejected as exc:
        return exc.reason
    return None


def test_a_good_answer_passes_and_whitespace_differences_in_quotes_are_fine():
    assert reason(GOOD) is None
    assert reason("##begin_quote## It has 2.1 million inhabitants. ##end_quote##\n<ANSWER>: 2.1 million") is None
    assert quotes(GOOD) == ["Paris is the capital of France."]


@pytest.mark.parametrize(
    ("answer", "finish_reason", "expected"),
    [
        (GOOD, "length", "truncated"),
        ("##begin_quote##Paris is the capital of France.##end_quote## so Paris", "stop", "missing_answer_tag"),
        (GOOD + "\n<ANSWER>: Lyon", "stop", "multiple_answer_tags"),
        ("##begin_quote##Paris is the capital of France.##end_quote## <ANSWER>:   ", "stop", "empty_answer"),
        ("It is Paris.\n<ANSWER>: Paris", "stop", "no_quote"),
        ("##begin_quote####end_quote## <ANSWER>: Paris", "stop", "no_quote"),
        ("##begin_quote##Paris is the capital of France. <ANSWER>: Paris", "stop", "unbalanced_quote"),
        ("##begin_quote##Paris is the capital of Germany.##end_quote## <ANSWER>: Paris", "stop", "quote_not_in_oracle"),
        ("##begin_quote##Paris is the capital of France.##end_quote## ##begin_quote##It has 3 million"
         "##end_quote## <ANSWER>: Paris", "stop", "quote_not_in_oracle"),  # one invented quote among good ones
    ],
)
def test_each_defect_is_rejected_with_its_reason(answer, finish_reason, expected):
    assert reason(answer, finish_reason) == expected
