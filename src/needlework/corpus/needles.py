"""Choose the needles: the corpus records whose biographies get hidden in haystacks, split train / eval.

Candidates are the records :func:`needlework.corpus.filters.drop_reason` keeps (persons named in their text)
whose text has between ``min_words`` and ``max_words`` whitespace-separated words. They are shuffled with
``random.Random(f"needles:{seed}")``; the first ``n_eval`` become the eval split and the next ``n_train`` the
train split, so the eval needles do not change when only ``n_train`` does. The returned list follows corpus
order.
"""
from __future__ import annotations

import random

from needlework.corpus.filters import REASONS, drop_reason
from needlework.io import InputError


def _check_int(value: object, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def select_needles(corpus: list[dict], n_train: int, n_eval: int, min_words: int, max_words: int,
                   seed: int) -> tuple[list[dict], dict]:
    """Pick ``n_train`` + ``n_eval`` distinct needles; return ``([{"id", "split"}, ...], stats)``.

    ``stats``: ``corpus`` (records seen), ``dropped_<reason>`` per filter reason, ``dropped_length`` (outside
    the word band), ``candidates``, ``train``, ``eval``. Raises :class:`~needlework.io.InputError` naming
    ``needles.n_train`` / ``needles.n_eval`` when there are too few candidates.
    """
    _check_int(n_train, "needles.n_train", 0)
    _check_int(n_eval, "needles.n_eval", 0)
    _check_int(min_words, "needles.min_words", 1)
    _check_int(max_words, "needles.max_words", min_words)
    stats = {"corpus": len(corpus), **{f"dropped_{reason}": 0 for reason in REASONS}, "dropped_length": 0}
    seen: set[str] = set()
    candidates = []
    for index, record in enumerate(corpus):
        if record["id"] in seen:
            raise InputError(f"corpus: duplicate id {record['id']!r}")
        seen.add(record["id"])
        reason = drop_reason(record)
        if reason is not None:
            stats[f"dropped_{reason}"] += 1
        elif not min_words <= len(record["text"].split()) <= max_words:
            stats["dropped_length"] += 1
        else:
            candidates.append(index)
    stats["candidates"] = len(candidates)
    if n_train + n_eval > len(candidates):
        raise InputError(
            f"needles.n_train={n_train} + needles.n_eval={n_eval} needles requested but the corpus has only "
            f"{len(candidates)} candidates ({len(corpus)} records, {stats['dropped_length']} outside "
            f"needles.min_words={min_words} .. needles.max_words={max_words}, "
            f"{len(corpus) - len(candidates) - stats['dropped_length']} filtered): lower needles.n_train / "
            f"needles.n_eval, widen the word band or use a larger corpus")
    order = random.Random(f"needles:{seed}").sample(candidates, len(candidates))
    split = {index: "eval" for index in order[:n_eval]}
    split.update({index: "train" for index in order[n_eval:n_eval + n_train]})
    stats["train"], stats["eval"] = n_train, n_eval
    return [{"id": corpus[index]["id"], "split": split[index]} for index in sorted(split)], stats
