"""The tiny model's tokenizer: a byte-level BPE trained on the corpus, with a Llama-like chat template.

A templated conversation starts with one ``<|bos|>`` (written by the template, as Llama 3 does; plain
``tokenizer(text)`` adds nothing), and every turn ends with ``<|end|>`` (the eos token). The assistant's content
and its ``<|end|>`` sit inside ``{% generation %}`` markers, so TRL's ``assistant_only_loss=True`` trains the
model on its answers *and* on stopping.
"""
from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD, UNK = "<|bos|>", "<|end|>", "<|pad|>", "<|unk|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (BOS, EOS, PAD, *ROLE_TOKENS, UNK)  # ids 0..6 in this order

CHAT_TEMPLATE = (
    "{{- bos_token -}}\n"
    "{%- for message in messages -%}\n"
    "{%- if message['role'] == 'system' -%}<|system|>{{ message['content'] }}<|end|>\n"
    "{%- elif message['role'] == 'user' -%}<|user|>{{ message['content'] }}<|end|>\n"
    "{%- elif message['role'] == 'assistant' -%}"
    "<|assistant|>{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}\n"
    "{%- else -%}{{ raise_exception('unknown chat role: ' ~ message['role']) }}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)
"""Jinja chat template: ``<|bos|><|system|>…<|end|><|user|>…<|end|><|assistant|>…<|end|>``; the assistant's
content plus its ``<|end|>`` is the ``{% generation %}`` block; ``add_generation_prompt`` appends ``<|assistant|>``."""


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it for transformers with :data:`CHAT_TEMPLATE`.

    Deterministic: the same texts (in the same order) and vocab size give the same vocabulary and merges.
    Byte-level means every string is encodable (``<|unk|>`` exists for tools that expect one, but is never
    produced). ``vocab_size`` counts the 256 byte symbols and the special tokens, so it must exceed 263.
    """
    if vocab_size <= 256 + len(SPECIAL_TOKENS):
        minimum = 256 + len(SPECIAL_TOKENS)
        raise ValueError(f"vocab_size must exceed {minimum} (bytes + special tokens), got {vocab_size}")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=list(ROLE_TOKENS),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
