"""Label needle biographies with an LLM, as the published benchmark did (Mistral-7B-Instruct, JSON, temperature 0).

Each biography goes to an OpenAI-compatible endpoint (see :mod:`needlework.llm`) with an extraction prompt
that spells out the label schema; the answer must hold one JSON object with the five label fields (code
fences and chatter around it are tolerated, unknown extra keys are dropped) that validates as a
:class:`~needlework.labels.schema.Label`. Invalid answers are requested again a few times, then recorded as
an error; answers are cached, so a rerun costs nothing.
"""
from __future__ import annotations

import os
from typing import Any

from needlework.evaluate.parse import parse_answer
from needlework.io import InputError
from needlework.labels.nationality import canonical_label
from needlework.labels.schema import FIELD_INSTRUCTIONS, Label, json_schema
from needlework.llm import client_from_config, strict_json_schema

LABEL_FIELDS: tuple[str, ...] = tuple(Label.model_fields)

EXTRACTION_PROMPT = (
    "Read the biography of {name} below and extract facts about this person as a JSON object with exactly these "
    "keys:\n" + FIELD_INSTRUCTIONS.replace("{", "{{").replace("}", "}}")
    + "Use only what the biography states. Answer with the JSON object only, no explanation.\n\n"
    "Example answer: {example}\n\nBiography of {name}:\n{text}"
)

_EXAMPLE = Label.model_validate(
    {"nationality": "swedish", "date_of_birth": {"day": 2, "month": 3, "year": 1995}, "sportsperson": True}
).to_json()


def build_messages(name: str, text: str) -> list[dict[str, str]]:
    """The chat request for one biography: a single user turn (Mistral's template has no system role)."""
    return [{"role": "user", "content": EXTRACTION_PROMPT.format(name=name, text=text, example=_EXAMPLE)}]


def parse_label(content: str) -> dict[str, Any]:
    """The label in an answer, as a plain dict with a canonical nationality; raises ValueError if invalid.

    All five fields must be present; unknown extra keys are ignored; the nationality is mapped to the one
    demonym vocabulary ("usa", "U.S.", "United States" -> "american"; null or "" -> "unknown"; see
    :func:`needlework.labels.nationality.canonical`).
    """
    return _parse(content)[0]


def _parse(content: str) -> tuple[dict[str, Any], str | None]:
    """:func:`parse_label` and the nationality string exactly as the model answered it (None if not a string)."""
    answer = parse_answer(content)
    if answer is None:
        raise ValueError("no JSON object in the answer")
    missing = [field for field in LABEL_FIELDS if field not in answer]
    if missing:
        raise ValueError(f"the answer lacks {', '.join(missing)}")
    fields = {field: answer[field] for field in LABEL_FIELDS}
    if fields["nationality"] is None or isinstance(fields["nationality"], str):
        fields, raw = canonical_label(fields)
    else:
        raw = None  # not a string: the Label validation below rejects it
    return Label.model_validate(fields).model_dump(), raw


def label_with_llm(
    needles: list[dict[str, Any]], labeler_cfg: dict[str, Any], cache_path: str | os.PathLike | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Label each needle ``{"id", "name", "text"}``; return rows sorted by id and the client's stats.

    A row is ``{"id", "label": dict | None, "nationality_raw": str | None, "error": str | None, "input_tokens",
    "output_tokens"}`` (``nationality_raw``: the model's own spelling, before canonicalisation); a needle
    whose requests all failed gets ``label`` None and the reason in ``error``. Raises InputError for a needle
    without id/name/text or a repeated id, MissingApiKeyError if the configured key variable is unset, and
    EndpointUnreachableError if no request could connect at all.
    """
    by_id: dict[str, dict[str, Any]] = {}
    for index, needle in enumerate(needles):
        for key in ("id", "name", "text"):
            if not isinstance(needle.get(key), str):
                raise InputError(f"needle #{index} ({needle.get('id')!r}): missing or non-string {key!r}")
        if needle["id"] in by_id:
            raise InputError(f"needle #{index}: duplicate id {needle['id']!r}")
        by_id[needle["id"]] = needle
    client = client_from_config(
        labeler_cfg,
        section="labeler",
        cache_path=cache_path,
        response_schema=strict_json_schema(json_schema()),
        schema_name="label",
        validate=parse_label,
    )
    requests = [(needle_id, build_messages(n["name"], n["text"])) for needle_id, n in sorted(by_id.items())]
    rows: dict[str, dict[str, Any]] = {}
    for result in client.run(requests, desc="label needles"):
        label, raw = _parse(result.content) if result.error is None else (None, None)
        rows[result.key] = {
            "id": result.key,
            "label": label,
            "nationality_raw": raw,
            "error": result.error,
            "input_tokens": result.prompt_tokens,
            "output_tokens": result.completion_tokens,
        }
    client.raise_if_unreachable()
    return [rows[needle_id] for needle_id in sorted(rows)], client.stats
