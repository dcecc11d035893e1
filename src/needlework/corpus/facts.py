"""Anonymization never changes a fact: the labels read from a record before and after anonymization agree.

The label is read with the offline infobox labeler (:func:`needlework.labels.infobox.label_from_infobox`, on the
infobox and the text's first sentence), the same reading the labels stage makes. A record whose label would
differ after anonymization is dropped by the corpus step, counted and listed with the leaf fields that changed,
their values before and after. The words the parsers read are protected from renaming (needlework.labels.vocabulary),
so this is the guard for what the tables do not cover, not the usual path."""
from __future__ import annotations

from needlework.labels.infobox import label_from_infobox
from needlework.progress import progress


def _leaves(record: dict) -> dict[str, object]:
    """The label's leaf fields of a record ("nationality", "date_of_birth.month" ...) and their values."""
    label = label_from_infobox(record.get("infobox") or {}, record.get("text") or "").model_dump()
    leaves: dict[str, object] = {}
    for name, value in label.items():
        if isinstance(value, dict):
            leaves.update({f"{name}.{part}": v for part, v in value.items()})
        else:
            leaves[name] = value
    return leaves


def changed_fields(original: dict, anonymized: dict) -> dict[str, tuple[object, object]]:
    """Leaf field -> (value before, value after) for every label field anonymization changed ({} if none)."""
    before, after = _leaves(original), _leaves(anonymized)
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


def find_changed(originals: list[dict], anonymized: list[dict]) -> dict[str, dict[str, tuple[object, object]]]:
    """Record id -> :func:`changed_fields`, for the records whose label anonymization changed (paired by id)."""
    by_id = {record["id"]: record for record in anonymized}
    changed = {}
    for original in progress(originals, desc="check labels", unit="rec"):
        if original["id"] in by_id:
            fields = changed_fields(original, by_id[original["id"]])
            if fields:
                changed[original["id"]] = fields
    return changed
