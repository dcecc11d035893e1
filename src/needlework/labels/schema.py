"""The label schema of the published needle-in-a-haystack benchmark (nine leaf fields), with pydantic.

A label is what the assistant answers; a prediction is scored field by field against it (no judge).
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Date(BaseModel):
    """A possibly partial date: 0 marks an unknown day, month or year."""

    model_config = ConfigDict(extra="forbid")
    day: int = Field(0, ge=0, le=31)
    month: int = Field(0, ge=0, le=12)
    year: int = Field(0, ge=0, le=2100)


class Label(BaseModel):
    """Facts about one person, as extracted from their biography."""

    model_config = ConfigDict(extra="forbid")
    nationality: str = "unknown"  # a demonym ("swedish") or "unknown"
    date_of_birth: Date = Field(default_factory=Date)
    date_of_death: Date = Field(default_factory=Date)  # all zeros for a living person or an unknown date
    sportsperson: bool = False
    politician: bool = False

    def to_json(self) -> str:
        """The assistant's answer: compact JSON in schema order (deterministic)."""
        return json.dumps(self.model_dump(), ensure_ascii=False)


FIELD_INSTRUCTIONS = """\
- "nationality": the person's nationality as a lowercase demonym, for example "swedish", "american", "brazilian"; \
"unknown" if the biography does not say.
- "date_of_birth": an object {"day": int, "month": int, "year": int}; use 0 for any part the biography does not give \
(a birth year alone is {"day": 0, "month": 0, "year": 1890}).
- "date_of_death": the same kind of object; all three parts 0 if the person is alive or the biography does not give it.
- "sportsperson": true if the person is or was an athlete, player or other sportsperson, else false.
- "politician": true if the person is or was a politician or held political office, else false.
"""
"""What each label field means, for prompts that must spell out the schema (LLM labeler, API models)."""

LEAF_FIELDS: tuple[str, ...] = (
    "nationality",
    "date_of_birth.day",
    "date_of_birth.month",
    "date_of_birth.year",
    "date_of_death.day",
    "date_of_death.month",
    "date_of_death.year",
    "sportsperson",
    "politician",
)


def flatten(label: dict[str, Any] | Label) -> dict[str, Any]:
    """Leaf field -> value (``{"date_of_birth.year": 1995, ...}``); missing leaves are None."""
    data = label.model_dump() if isinstance(label, Label) else label
    out: dict[str, Any] = {}
    for leaf in LEAF_FIELDS:
        value: Any = data
        for part in leaf.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[leaf] = value
    return out


def json_schema() -> dict[str, Any]:
    """JSON schema of a label, for `response_format={"type": "json_schema", ...}` requests."""
    return Label.model_json_schema()
