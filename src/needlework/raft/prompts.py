"""The RAFT prompt texts (package data ``raft/data/prompts.yaml``) and the instruction format of an example."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

# Rows asked without documents: the experiment's model zero-shot, and its domain-specific fine-tune (DSF: trained on
# the same questions and answers with no documents in the prompt).
CLOSED_BOOK = ("base_closed", "dsf")


@lru_cache(maxsize=1)
def prompts() -> dict[str, Any]:
    """The prompt table; ``version`` names it in every record's provenance."""
    return yaml.safe_load(resources.files("needlework.raft").joinpath("data", "prompts.yaml").read_text())


def question_messages(chunk: str, n: int) -> list[dict[str, str]]:
    """Ask for exactly ``n`` questions about ``chunk``, as JSON ``{"questions": [...]}``."""
    table = prompts()
    return [{"role": "system", "content": table["question_system"].format(n=n)},
            {"role": "user", "content": table["question_user"].format(chunk=chunk)}]


def answer_messages(question: str, chunk: str) -> list[dict[str, str]]:
    """Ask for a chain-of-thought answer that quotes ``chunk`` and ends with ``<ANSWER>:``."""
    return [{"role": "user", "content": prompts()["answer_user"].format(question=question, chunk=chunk)}]


def instruction(documents: list[str], question: str) -> str:
    """gorilla's training/evaluation instruction: every document in ``<DOCUMENT>`` tags, then the question (the
    question alone without documents: the closed-book form)."""
    return "".join(prompts()["document"].format(document=doc) for doc in documents) + question
