"""OpenAI-compatible evaluation backend: any ``/v1/chat/completions`` server answers the haystack prompts.

Built on :class:`needlework.llm.ChatClient` (bounded concurrency, retries, answer cache, usage and cost). With
``json_mode: schema`` the server is given the label's JSON schema (strict structured outputs). With
``schema_in_prompt`` (the default) the system message also spells out the label fields: a fine-tuned model learned
them from its training data, an API model can only learn them in context (the published benchmark's API baselines
were prompted with the fields too). Answers are not validated here: an unparseable answer is scored as a parse
failure, not requested again.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from needlework.evaluate.schema_hint import with_schema_hint
from needlework.labels.schema import json_schema
from needlework.llm import client_from_config, strict_json_schema


class OpenAIBackend:
    """Generate answers with a model served behind an OpenAI-compatible endpoint (a ``backend: openai`` config)."""

    def __init__(self, model_cfg: dict[str, Any], cache_path: str | os.PathLike | None) -> None:
        """Raises InputError for a bad config and MissingApiKeyError if its ``api_key_env`` is unset."""
        self.name = model_cfg.get("name", model_cfg.get("model"))
        self.schema_in_prompt = bool(model_cfg.get("schema_in_prompt", True))
        self.client = client_from_config(
            model_cfg,
            section="model",
            cache_path=cache_path,
            response_schema=strict_json_schema(json_schema()),
            schema_name="label",
        )

    def messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The request's messages, with the label fields spelled out in the system message if configured."""
        return with_schema_hint(messages) if self.schema_in_prompt else messages

    @property
    def stats(self) -> dict[str, Any]:
        """Requests, retries, cache hits, token usage and cost so far (see ChatClient.stats)."""
        return self.client.stats

    def generate(self, requests: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield ``{"id", "answer", "error", "input_tokens", "output_tokens"}`` per ``{"id", "messages"}``
        request, in completion order (cached answers first).

        A request that fails after retries yields ``answer`` None and the reason in ``error``. If no request
        could connect at all, EndpointUnreachableError (naming base_url) is raised after the cached results.
        """
        pairs = [(request["id"], self.messages(request["messages"])) for request in requests]
        for result in self.client.run(pairs, desc=f"evaluate {self.name}"):
            yield {
                "id": result.key,
                "answer": result.content if result.error is None else None,
                "error": result.error,
                "input_tokens": result.prompt_tokens,
                "output_tokens": result.completion_tokens,
            }
        self.client.raise_if_unreachable()
