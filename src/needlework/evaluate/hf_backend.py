"""Local Hugging Face backend: batched greedy generation with left padding and the KV cache.

Requests are tokenized with the tokenizer's chat template (system + user turns, generation prompt added),
sorted by length so that each batch holds prompts of similar size (little padding), and generated greedily
until an end token or ``max_new_tokens``. With left padding, the attention mask and the position ids that
``generate`` derives from it, each row's output equals what it would be alone, up to float rounding.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from needlework.evaluate.schema_hint import with_schema_hint
from needlework.progress import progress


class HFBackend:
    """Generate answers for chat requests with a local causal LM (already loaded, on its device)."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 64,
        schema_in_prompt: bool = False,
    ) -> None:
        if batch_size < 1 or max_new_tokens < 1:
            raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size} and {max_new_tokens}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.schema_in_prompt = schema_in_prompt  # the label's fields in the system message (zero-shot row)
        self.stop_ids = _stop_ids(model, tokenizer)
        if not self.stop_ids:
            raise ValueError("neither the tokenizer nor the model's generation config names an end token")
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.stop_ids[0]

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the chat-templated prompt: every turn but the assistant's, plus the generation prompt."""
        turns = [m for m in messages if m["role"] != "assistant"]
        if self.schema_in_prompt:
            turns = with_schema_hint(turns)
        return list(self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, return_dict=False))

    def generate(self, requests: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield ``{"id", "answer", "error", "input_tokens", "output_tokens"}`` per request, batch by batch.

        Results come in length order, not request order; key them by id. ``output_tokens`` counts the
        generated tokens up to and including the end token. Errors raise (a local failure is a bug or an
        out-of-memory, not a per-request event), so ``error`` is always None here.
        """
        prompts = [(request["id"], self.prompt_ids(request["messages"])) for request in requests]
        prompts.sort(key=lambda item: (-len(item[1]), item[0]))  # longest first: an OOM shows up at once
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=self.max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
            use_cache=True,
        )
        self.model.eval()
        with progress(total=len(prompts), desc="generate", unit="prompt") as bar:
            for start in range(0, len(prompts), self.batch_size):
                batch = prompts[start : start + self.batch_size]
                for (request_id, ids), new_ids in zip(batch, self._generate_batch([ids for _, ids in batch], config)):
                    yield {
                        "id": request_id,
                        "answer": self.tokenizer.decode(new_ids, skip_special_tokens=True),
                        "error": None,
                        "input_tokens": len(ids),
                        "output_tokens": len(new_ids),
                    }
                bar.update(len(batch))

    @torch.inference_mode()
    def _generate_batch(self, batch: list[list[int]], config: GenerationConfig) -> list[list[int]]:
        """Greedy continuation ids of each prompt, cut after the first end token."""
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in batch])
        attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
        output = self.model.generate(
            input_ids=input_ids.to(self.model.device),
            attention_mask=attention_mask.to(self.model.device),
            generation_config=config,
        )
        continuations = []
        for row in output[:, width:].tolist():
            end = next((i + 1 for i, token in enumerate(row) if token in self.stop_ids), len(row))
            continuations.append(row[:end])
        return continuations


def _stop_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """End-of-answer token ids: the tokenizer's eos plus the model generation config's (e.g. Llama 3's eot)."""
    ids = [tokenizer.eos_token_id]
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    return sorted({i for i in ids if i is not None})
