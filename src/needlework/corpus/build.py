"""Build the corpus from the configured source: read, filter, anonymize, check for leaks.

``data_cfg`` (the ``data`` config group) selects the source with ``source`` and holds its keys:

- ``synthetic``: ``n`` (records), ``non_person_rate``;
- ``wiki_bio``: ``path`` (local JSONL/Parquet in the Hugging Face schema; null reads ``hub_id`` from the hub),
  ``hub_id``, ``split``, ``limit``;
- ``jsonl``: ``path``, ``name_field``, ``text_field``, ``label_field`` (null: none), ``limit``;
- every source: ``anonymize`` (bool, default true).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from tqdm import tqdm

from needlework.corpus import anonymize as anonymization
from needlework.corpus import jsonl_source, synthetic, wiki_bio
from needlework.corpus.filters import REASONS, drop_reason
from needlework.io import InputError

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


def read_source(data_cfg: Mapping, seed: int) -> Iterable[dict]:
    """The raw records of the configured source (before filtering); ``seed`` drives the synthetic source."""
    source = data_cfg.get("source")
    if source == "synthetic":
        n = _get(data_cfg, "n", (int,))
        rate = _get(data_cfg, "non_person_rate", (int, float), 0.05)
        if n < 0 or not 0 <= rate <= 1:
            raise InputError(f"data.n must be >= 0 and data.non_person_rate in [0, 1], got {n} and {rate}")
        return synthetic.generate(n, seed, float(rate))
    if source == "wiki_bio":
        return wiki_bio.load(_get(data_cfg, "path", (str,), None, nullable=True),
                             split=_get(data_cfg, "split", (str,), "train"), limit=_limit(data_cfg),
                             hub_id=_get(data_cfg, "hub_id", (str,), "wiki_bio"))
    if source == "jsonl":
        return jsonl_source.load(_get(data_cfg, "path", (str,)), _get(data_cfg, "name_field", (str,)),
                                 _get(data_cfg, "text_field", (str,)),
                                 label_field=_get(data_cfg, "label_field", (str,), None, nullable=True),
                                 limit=_limit(data_cfg))
    raise InputError(f"data.source: unknown source {source!r}, expected one of {', '.join(SOURCES)}")


def build_corpus(data_cfg: Mapping, seed: int) -> tuple[list[dict], list[dict], dict]:
    """Read, filter and (if ``data_cfg["anonymize"]``) anonymize the corpus; return (records, audit, stats).

    ``stats``: ``source``, ``read``, ``kept``, ``dropped`` (count per filter reason) and ``anonymized``.
    The audit rows ``{"id", "original", "new"}`` are empty when anonymization is off. Raises
    :class:`~needlework.io.InputError` if no record survives the filters.
    """
    source = data_cfg.get("source")
    do_anonymize = _get(data_cfg, "anonymize", (bool,), True)
    dropped = dict.fromkeys(REASONS, 0)
    kept, read = [], 0
    for record in tqdm(read_source(data_cfg, seed), desc=f"read {source}", unit="rec", disable=None, mininterval=2):
        read += 1
        reason = drop_reason(record)
        if reason is None:
            kept.append(record)
        else:
            dropped[reason] += 1
    if not kept:
        raise InputError(f"data.source={source!r}: no record left ({read} read, dropped: {dropped}); "
                         "check data.path / data.limit and the name and text fields")
    audit: list[dict] = []
    if do_anonymize:
        anonymized, audit = anonymization.anonymize(kept, seed)
        anonymization.check_leaks(kept, anonymized)
        kept = anonymized
    stats = {"source": source, "read": read, "kept": len(kept), "dropped": dropped, "anonymized": do_anonymize}
    return kept, audit, stats
