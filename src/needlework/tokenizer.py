"""The tiny model's tokenizer: a byte-level BPE trained on the corpus, with a Llama-like chat template.

:func:`train_word_tokenizer` adds whole words to that BPE (Llama 3 style, ``ignore_merges``): every word of the
corpus seen often enough, the name lists the corpus draws names from, and every number up to 2100 are one token
each, and anything else still falls back to the BPE pieces. A name that is one token is matched by attention
in one step, which is what lets a tiny model learn retrieval quickly.

A templated conversation starts with one ``<|bos|>`` (written by the template, as Llama 3 does; plain
``tokenizer(text)`` adds nothing), and every turn ends with ``<|end|>`` (the eos token). The assistant's content
and its ``<|end|>`` sit inside ``{% generation %}`` markers, so TRL's ``assistant_only_loss=True`` trains the
model on its answers *and* on stopping.
"""
from __future__ import annotations

import json

from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
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
    return _wrap(backend)


def train_word_tokenizer(texts: list[str], bpe_vocab_size: int, words: Iterable[str] = (), min_count: int = 2,
                         max_number: int = 2100) -> PreTrainedTokenizerFast:
    """A byte-level BPE of ``bpe_vocab_size`` trained on ``texts``, plus whole-word tokens that win over merges.

    Whole words: every pre-token (word with its leading space, number, punctuation run) that occurs at least
    ``min_count`` times in ``texts``; and, with a leading space (as they follow another word), each of ``words``
    (e.g. name parts) and the numbers 0..``max_number``.
    Deterministic: the same inputs give the same vocabulary (new words are appended in sorted order).
    """
    bpe = train_tokenizer(texts, vocab_size=bpe_vocab_size).backend_tokenizer
    state = json.loads(bpe.to_str())
    vocab: dict[str, int] = state["model"]["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["model"]["merges"]]
    # A word is the same token wherever it stands: after a space, a newline or a special token (the first
    # biography of a haystack starts right after <|user|>, the others after a blank line).
    spaced = normalizers.Replace(Regex(r"\n(?=\S)"), "\n ")
    pre = pre_tokenizers.ByteLevel(add_prefix_space=True)
    counts = Counter(piece for text in texts for piece, _ in pre.pre_tokenize_str(spaced.normalize_str(text)))
    as_bytes = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    extra = {piece for piece, n in counts.items() if n >= min_count}
    for word in [*words, *map(str, range(max_number + 1))]:
        extra.update(piece for piece, _ in as_bytes.pre_tokenize_str(" " + word))
    for piece in sorted(extra - vocab.keys()):
        vocab[piece] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    backend.normalizer = spaced
    backend.pre_tokenizer = pre
    backend.decoder = decoders.ByteLevel()
    return _wrap(backend)


def _wrap(backend: Tokenizer) -> PreTrainedTokenizerFast:
    """The transformers tokenizer over ``backend`` with this project's special tokens and chat template."""
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
