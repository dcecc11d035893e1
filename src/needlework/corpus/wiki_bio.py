"""Read wiki_bio (Lebret et al., 2016) in the Hugging Face schema, from a local JSONL/Parquet copy or the hub.

A row is ``{"input_text": {"table": {"column_header": [...], "row_number": [...], "content": [...]},
"context": "<name>\\n"}, "target_text": "<biography>"}``. It becomes the corpus record
``{"id": "wiki_bio-<split>-<row>", "name", "text", "infobox"}`` (row 0-based):

- PTB artefacts are undone in the text and the infobox values: ``-lrb-``/``-rrb-`` -> ``(``/``)``,
  ``-lsb-``/``-rsb-`` -> ``[``/``]``, ``-lcb-``/``-rcb-`` -> ``{``/``}``, ``````/``''`` -> ``"``;
  whitespace is collapsed.
- The infobox maps each column header to its content (first occurrence of a header wins); empty values and
  ``<none>`` are dropped.
- The name is the infobox ``name``, else ``article_title``, else the first line of ``context`` ("" if none:
  the filters then drop the record as ``no_name``), without quote marks around it.

``row_number`` is not used and may be absent; every other field must be there with the right type, else
:class:`~needlework.io.InputError` names ``file:line`` and the field.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

from needlework.io import InputError, read_records
from needlework.labels.vocabulary import BRACKETS, QUOTES

_ARTEFACTS = (*BRACKETS, *QUOTES)


def clean(text: str) -> str:
    """Undo wiki_bio's tokenizer artefacts and collapse whitespace."""
    for artefact, char in _ARTEFACTS:
        text = text.replace(artefact, char)
    return " ".join(text.split())


def _get(obj: dict, key: str, kind: type, where: str, field: str):
    if key not in obj:
        raise InputError(f"{where}: missing field {field!r}")
    value = obj[key]
    if not isinstance(value, kind):
        raise InputError(f"{where}: field {field!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _strings(obj: dict, key: str, where: str, field: str) -> list[str]:
    values = _get(obj, key, list, where, field)
    for value in values:
        if not isinstance(value, str):
            raise InputError(f"{where}: field {field!r} must be a list of strings, got an item of type "
                             f"{type(value).__name__}")
    return values


def parse_row(row: dict, where: str, record_id: str) -> dict:
    """One wiki_bio row -> corpus record; ``where`` ("file:line") names the row in error messages."""
    input_text = _get(row, "input_text", dict, where, "input_text")
    table = _get(input_text, "table", dict, where, "input_text.table")
    headers = _strings(table, "column_header", where, "input_text.table.column_header")
    contents = _strings(table, "content", where, "input_text.table.content")
    if len(headers) != len(contents):
        raise InputError(f"{where}: fields 'input_text.table.column_header' ({len(headers)} items) and "
                         f"'input_text.table.content' ({len(contents)} items) differ in length")
    context = _get(input_text, "context", str, where, "input_text.context")
    target = _get(row, "target_text", str, where, "target_text")
    infobox: dict[str, str] = {}
    for header, content in zip(headers, contents):
        key, value = header.strip(), clean(content)
        if key and value and value != "<none>" and key not in infobox:
            infobox[key] = value
    context_name = clean(context.strip().split("\n")[0]) if context.strip() else ""
    name = infobox.get("name") or infobox.get("article_title") or context_name
    name = name.strip(" \"'`")  # '" ` juan martín de pueyrredón " \'': wiki_bio's quote marks around a name
    return {"id": record_id, "name": name, "text": clean(target), "infobox": infobox}


def _hub_rows(hub_id: str, split: str, limit: int | None) -> Iterable[dict]:
    try:
        import datasets

        repo, _, revision = hub_id.partition("@")  # "owner/name@revision", e.g. a refs/convert/parquet branch
        return datasets.load_dataset(repo, revision=revision or None,
                                     split=split if limit is None else f"{split}[:{limit}]")
    except Exception as exc:  # offline, unknown dataset or split, scripts no longer supported ...
        raise InputError(
            f"data.hub_id={hub_id!r}: could not load split {split!r} from the Hugging Face hub "
            f"({type(exc).__name__}: {exc}). Without network access (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set), "
            f"load it once with network access (the cache is reused offline) or set data.path to a local JSONL or "
            f"Parquet copy in the wiki_bio schema."
        ) from None


def rows(path: str | None, split: str = "train", limit: int | None = None,
         hub_id: str = "wiki_bio") -> Iterator[tuple[str, dict]]:
    """Yield ``(where, record)`` from a local wiki_bio JSONL/Parquet file (``where``: "file:line"), or from the
    hub when ``path`` is None ("hub_id[split] row n").

    ``limit`` stops after that many rows; ids are ``wiki_bio-<split>-<row>`` with the 0-based row.
    """
    if limit is not None and limit < 0:
        raise InputError(f"data.limit must be >= 0 or null, got {limit}")
    if path is None:
        numbered: Iterable[tuple[str, dict]] = (
            (f"{hub_id}[{split}] row {i}", row) for i, row in enumerate(_hub_rows(hub_id, split, limit)))
    else:
        numbered = ((f"{Path(path)}:{line}", row) for line, row in read_records(path))
    for row_index, (where, row) in enumerate(itertools.islice(numbered, limit)):
        yield where, parse_row(row, where, f"wiki_bio-{split}-{row_index}")


def load(path: str | None, split: str = "train", limit: int | None = None,
         hub_id: str = "wiki_bio") -> Iterator[dict]:
    """The records of :func:`rows`, without where they come from."""
    for _, record in rows(path, split, limit, hub_id):
        yield record
