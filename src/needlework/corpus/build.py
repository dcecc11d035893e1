"""Build the corpus from the configured source: read, filter, anonymize, check for leaks.

``data_cfg`` (the ``data`` config group) selects the source with ``source`` and holds its keys:

- ``synthetic``: ``n`` (records), ``non_person_rate``;
- ``wiki_bio``: ``path`` (local JSONL/Parquet in the Hugging Face schema; null reads ``hub_id`` from the hub),
  ``hub_id``, ``split``, ``limit``;
- ``jsonl``: ``path``, ``name_field``, ``text_field``, ``label_field`` (null: none), ``limit``;
- every source: ``anonymize`` (bool) and ``max_bad_share`` (the share of bad records the step tolerates).

Bad records are dropped, counted and listed (:mod:`needlework.corpus.rejects`): a label that breaks the schema
(``invalid_label``), a record whose original name still shows after anonymization (``name_leak``, with the
surviving tokens) and a record whose label anonymization would change (``label_changed``: "anonymization changed
label field date_of_birth.month", with the values before and after; :mod:`needlework.corpus.facts`); exact
duplicates (same fields but the id) are merged into their first occurrence
(``duplicate``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from needlework.corpus import anonymize as anonymization
from needlework.corpus import facts
from needlework.corpus import jsonl_source, synthetic, wiki_bio
from needlework.corpus.filters import REASONS, drop_reason
from needlework.corpus.rejects import DUPLICATE, Rejects
from needlework.io import InputError, dumps
from needlework.progress import progress

NAME_LEAK = "name_leak"
LABEL_CHANGED = "label_changed"

SOURCES: tuple[str, ...] = ("synthetic", "wiki_bio", "jsonl")
_MISSING = object()


def _get(cfg: Mapping, key: str, kinds: tuple[type, ...], default=_MISSING, nullable: bool = False):
    """``cfg[key]`` checked against ``kinds`` (errors name ``data.<key>``)."""
    value = cfg.get(key, default)
    if value is _MISSING:
        raise InputError(f"data.{key}: required for data.source={cfg.get('source')!r}")
    if value is None and nullable:
        return None
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds) + (" or null" if nullable else "")
        raise InputError(f"data.{key}: expected {expected}, got {value!r}")
    return value


def _limit(cfg: Mapping) -> int | None:
    limit = _get(cfg, "limit", (int,), None, nullable=True)
    if limit is not None and limit < 0:
        raise InputError(f"data.limit: must be >= 0 or null, got {limit}")
    return limit


def read_source(data_cfg: Mapping, seed: int, rejects: Rejects) -> Iterable[tuple[str, dict]]:
    """``(where, record)`` for the raw records of the configured source (before filtering); ``seed`` drives the
    synthetic source; records with an invalid label go to ``rejects``."""
    source = data_cfg.get("source")
    if source == "synthetic":
        n = _get(data_cfg, "n", (int,))
        rate = _get(data_cfg, "non_person_rate", (int, float), 0.05)
        if n < 0 or not 0 <= rate <= 1:
            raise InputError(f"data.n must be >= 0 and data.non_person_rate in [0, 1], got {n} and {rate}")
        return ((record["id"], record) for record in synthetic.generate(n, seed, float(rate)))
    if source == "wiki_bio":
        return wiki_bio.rows(_get(data_cfg, "path", (str,), None, nullable=True),
                             split=_get(data_cfg, "split", (str,), "train"), limit=_limit(data_cfg),
                             hub_id=_get(data_cfg, "hub_id", (str,), "wiki_bio"))
    if source == "jsonl":
        return jsonl_source.rows(_get(data_cfg, "path", (str,)), _get(data_cfg, "name_field", (str,)),
                                 _get(data_cfg, "text_field", (str,)),
                                 label_field=_get(data_cfg, "label_field", (str,), None, nullable=True),
                                 limit=_limit(data_cfg), rejects=rejects)
    raise InputError(f"data.source: unknown source {source!r}, expected one of {', '.join(SOURCES)}")


def build_corpus(data_cfg: Mapping, seed: int, stop_audit: str | Path | None = None,
                 ) -> tuple[list[dict], list[dict], list[dict], dict]:
    """Read, filter, merge duplicates and (if ``data_cfg["anonymize"]``) anonymize the corpus.

    Returns ``(records, names, dropped, stats)``: the corpus, the audit rows ``{"id", "original", "new"}`` of
    the name replacements (empty when anonymization is off), the audit rows of the dropped records
    (:class:`~needlework.corpus.rejects.Rejects`) and ``stats``: ``source``, ``read``, ``kept``, ``dropped``
    (count per filter reason, bad-record reason and ``duplicate``) and ``anonymized``. Raises
    :class:`~needlework.io.InputError` if no record survives or the bad records exceed ``data.max_bad_share`` (after
    writing the dropped records' audit rows to ``stop_audit``, if given).
    """
    source = data_cfg.get("source")
    do_anonymize = _get(data_cfg, "anonymize", (bool,))
    max_share = _get(data_cfg, "max_bad_share", (int, float))
    if not 0 <= max_share <= 1:
        raise InputError(f"data.max_bad_share: must be in [0, 1], got {max_share}")
    dropped = dict.fromkeys((*REASONS, jsonl_source.INVALID_LABEL, NAME_LEAK, LABEL_CHANGED, DUPLICATE), 0)
    rejects = Rejects()
    kept, where_of, first_of, read = [], {}, {}, 0
    for where, record in progress(read_source(data_cfg, seed, rejects), desc=f"read {source}", unit="rec"):
        read += 1
        content = hashlib.sha256(dumps({k: v for k, v in record.items() if k != "id"}).encode()).digest()
        if content in first_of:
            rejects.add(DUPLICATE, record["id"], where, of=first_of[content])
            continue
        first_of[content] = record["id"]
        reason = drop_reason(record)
        if reason is None:
            kept.append(record)
            where_of[record["id"]] = where
        else:
            dropped[reason] += 1
    read += sum(row["reason"] == jsonl_source.INVALID_LABEL for row in rejects.rows)  # rows skipped by the source
    what = data_cfg.get("path") or f"data.source={source!r}"
    rejects.check(read, max_share, what, stop_audit)
    if not kept:
        counts = {k: v for k, v in {**dropped, **rejects.counts()}.items() if v}
        raise InputError(f"{what}: no record left ({f'{read} read, dropped: {counts}' if read else 'it is empty'}) "
                         "(check data.path / data.limit and the name and text fields)")
    names: list[dict] = []
    if do_anonymize:
        anonymized, names = anonymization.anonymize(kept, seed)
        leaks = anonymization.find_leaks(kept, anonymized)
        for record_id, tokens in leaks.items():
            rejects.add(NAME_LEAK, record_id, where_of[record_id], tokens=tokens)
        changed = facts.find_changed([r for r in kept if r["id"] not in leaks], anonymized)
        for record_id, fields in changed.items():
            rejects.add(LABEL_CHANGED, record_id, where_of[record_id],
                        detail=f"anonymization changed label field {', '.join(fields)}",
                        fields={name: {"before": b, "after": a} for name, (b, a) in fields.items()})
        rejects.check(read, max_share, what, stop_audit)
        bad = leaks.keys() | changed.keys()
        kept = [record for record in anonymized if record["id"] not in bad]
        names = [row for row in names if row["id"] not in bad]
    dropped.update(rejects.counts())
    stats = {"source": source, "read": read, "kept": len(kept), "dropped": dropped, "anonymized": do_anonymize}
    return kept, names, rejects.rows, stats
