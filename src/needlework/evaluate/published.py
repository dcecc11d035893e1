"""The published benchmark's scorer (``eval.scoring=published``), reproduced: its parse and its comparison.

The refined needle-in-a-haystack benchmark (Anyscale, 2024) scores a response as follows:

- parse: the raw answer is evaluated as a Python expression. Nothing is extracted from it, so an answer in a code
  fence or with any chatter around it scores 0, and so does JSON that uses ``true``/``false``/``null`` (not Python
  names; that benchmark's models were fine-tuned on Python dict reprs). Here the parse is
  :func:`ast.literal_eval` (never ``eval``): the same literals, without running code.
- compare: answer and label are flattened to sets of ``(key path, value)`` pairs and
  ``score = (|A| - |A ^ L| / 2) / |A|`` with ``A`` the answer's pairs. Values compare as Python values: exact
  strings (nationality case-sensitive: "American" is not "american"), ``"1995" != 1995``, but ``1995.0 == 1995``
  and ``True == 1`` (Python's equality, which a set of pairs uses).

Where the published code would crash (an answer that is not a dict, a dict without leaves, a list value that a
set cannot hold) the answer scores 0 here and counts as a parse failure.
"""
from __future__ import annotations

import ast
from typing import Any

Pair = tuple[tuple[Any, ...], Any]
_UNHASHABLE = object()  # marks a leaf a set cannot hold (a list): equal to no label value


def parse_published(text: str | None) -> dict[str, Any] | None:
    """The raw answer as a Python literal dict whose leaves a set can hold, else None (it scores 0)."""
    if not text:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict) or not pairs(value):
        return None
    if any(isinstance(leaf, tuple) and leaf[:1] == (_UNHASHABLE,) for _, leaf in pairs(value)):
        return None
    return value


def pairs(value: dict[Any, Any], path: tuple[Any, ...] = ()) -> set[Pair]:
    """A nested dict as ``(key path, leaf)`` pairs, like ``flatten_dict.flatten`` (empty dicts give none);
    an unhashable leaf (a list) becomes a marked repr that equals no label value."""
    out: set[Pair] = set()
    for key, sub in value.items():
        if isinstance(sub, dict):
            out |= pairs(sub, (*path, key))
        else:
            out.add(((*path, key), sub if _hashable(sub) else (_UNHASHABLE, repr(sub))))
    return out


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def published_score(label: dict[str, Any], pred: dict[str, Any]) -> float:
    """``(|A| - |A ^ L| / 2) / |A|`` over (path, value) pairs; 0 for an answer without leaves."""
    answer, truth = pairs(pred), pairs(label)
    if not answer:
        return 0.0
    return (len(answer) - len(answer ^ truth) / 2) / len(answer)


def published_correct(label: dict[str, Any], pred: dict[str, Any] | None, leaves: tuple[str, ...]) -> dict[str, bool]:
    """Per dotted label leaf: whether the answer holds exactly the label's (path, value) pair."""
    truth = {".".join(map(str, path)): (path, value) for path, value in pairs(label)}
    answer = pairs(pred) if isinstance(pred, dict) else set()
    return {leaf: leaf in truth and truth[leaf] in answer for leaf in leaves}
