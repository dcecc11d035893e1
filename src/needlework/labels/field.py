"""Labels already present in the source (``data.label_field``, as in the published benchmark's files), with the
nationality brought into the one demonym vocabulary like every other labeler's ("usa" -> "american")."""
from __future__ import annotations

from typing import Any

from needlework.labels.nationality import canonical_label


def label_from_field(needles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ``{"id", "label", "nationality_raw", "error"}`` for records ``{"id", "label"?}`` (a validated label
    dict from the source); a record without a label gets ``label`` None and ``error`` "no label in source"."""
    rows = []
    for needle in needles:
        label, raw = canonical_label(needle["label"]) if needle.get("label") else (None, None)
        rows.append({"id": needle["id"], "label": label, "nationality_raw": raw,
                     "error": None if label else "no label in source"})
    return rows
