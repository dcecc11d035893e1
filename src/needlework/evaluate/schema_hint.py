"""The label's fields spelled out in the system message (``schema_in_prompt``): the fair zero-shot prompt.

A fine-tuned model learned the label's keys from its training data; a model that was not (an API model, a base
evaluated zero-shot) can only learn them in context. The published benchmark prompted its API baselines with the
fields too. Local and API models get the same text.
"""
from __future__ import annotations

from needlework.labels.schema import FIELD_INSTRUCTIONS

HINT = f"Answer with one JSON object with exactly these keys:\n{FIELD_INSTRUCTIONS}"


def with_schema_hint(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """``messages`` with :data:`HINT` appended to the system message (or as one, when there is none)."""
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{HINT}"}, *messages[1:]]
    return [{"role": "system", "content": HINT}, *messages]
