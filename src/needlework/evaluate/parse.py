"""Tolerant extraction of the JSON object a model answered, with no judge model.

Models wrap their JSON in code fences, add chatter before or after it, or answer a Python dict repr
(single quotes, ``True``/``False``/``None``). :func:`parse_answer` accepts all of these and returns the first
``{...}`` object that parses, or ``None`` when there is none (a parse failure). This is the parse of the default
(strict) scoring; ``eval.scoring=published`` reads the raw answer as the published benchmark did instead
(:mod:`needlework.evaluate.published`).
"""
from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def parse_answer(text: str | None) -> dict[str, Any] | None:
    """The first balanced ``{...}`` object in ``text`` that parses as JSON or as a Python literal, else None.

    Fenced blocks (```` ```json ... ``` ````) are searched first, then the whole text, so an example object in
    chatter outside the fence does not win over the fenced answer.
    """
    if not text:
        return None
    for chunk in [*(m.group(1) for m in _FENCE.finditer(text)), text]:
        for candidate in _balanced_objects(chunk):
            parsed = _load(candidate)
            if parsed is not None:
                return parsed
    return None


def _balanced_objects(text: str) -> Iterator[str]:
    """Each balanced ``{...}`` substring, in order of its opening brace (braces inside quotes are ignored)."""
    start = text.find("{")
    while start != -1:
        end = _matching_brace(text, start)
        if end is not None:  # None: never closes (answer cut at max tokens, or a stray quote in chatter)
            yield text[start : end + 1]
        start = text.find("{", start + 1)


def _matching_brace(text: str, start: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``start``, skipping quoted strings; None if it never closes."""
    depth = 0
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _load(candidate: str) -> dict[str, Any] | None:
    """``candidate`` as a dict via JSON, else as a Python literal; None if neither works.

    The Python route also accepts JSON's ``true``/``false``/``null`` (models mix the two styles).
    """
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(_JsonNames().visit(ast.parse(candidate, mode="eval")).body)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


class _JsonNames(ast.NodeTransformer):
    """Rewrite the bare names ``true``, ``false`` and ``null`` into the Python constants they mean."""

    _CONSTANTS = {"true": True, "false": False, "null": None}

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self._CONSTANTS:
            return ast.copy_location(ast.Constant(self._CONSTANTS[node.id]), node)
        return node
