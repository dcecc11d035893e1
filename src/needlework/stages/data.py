"""Data-half steps: corpus -> needles -> labels (+ agreement) -> training and evaluation haystacks."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from needlework import tracking
from needlework.io import InputError, read_jsonl, write_json, write_jsonl
from needlework.labels.nationality import unrecognised
from needlework.stages.runtime import record_provenance, timer

log = logging.getLogger("needlework")


def corpus(cfg: dict[str, Any], out_corpus: str, out_audit: str, out_dropped: str, out_stats: str) -> dict[str, Any]:
    """Read the configured source, drop non-persons and bad records, anonymize; the name mapping goes to a
    separate audit file, the dropped records (id, file:line, reason) to another."""
    from needlework.corpus.build import build_corpus
    from needlework.corpus.rejects import summarize

    with tracking.stage_run(cfg, "corpus", Path(out_corpus).parent.name, {"data": cfg["data"]}) as run:
        with timer() as t:
            # above data.max_bad_share the audit goes beside the outputs (a failed step loses those)
            stop_audit = Path(out_dropped).with_name("dropped-at-stop.jsonl")
            records, audit, dropped, stats = build_corpus(cfg["data"], cfg["seed"], stop_audit)
            write_jsonl(out_corpus, records)
            write_jsonl(out_audit, audit)  # original -> new names: an audit trail, never part of the corpus
            write_jsonl(out_dropped, dropped)
        stats = {**stats, "seconds": t["seconds"]}
        write_json(out_stats, stats)
        log.info("corpus: read %s, kept %s, dropped %s", stats.get("read"), stats.get("kept"), stats.get("dropped"))
        for line in summarize(dropped):  # every row is in the audit file
            log.info("corpus: dropped %s", line)
        run.log_metrics(stats)
        run.log_artifact(out_stats)
        run.log_artifact(out_dropped)
    record_provenance(cfg, Path(out_corpus).parent)
    return stats


def needles(cfg: dict[str, Any], corpus_jsonl: str, out_needles: str, out_stats: str) -> dict[str, Any]:
    """Choose disjoint training and evaluation needles (persons, within the length band)."""
    from needlework.corpus.needles import select_needles

    n = cfg["needles"]
    with tracking.stage_run(cfg, "needles", Path(out_needles).parent.name, {"needles": n}) as run:
        chosen, stats = select_needles(list(read_jsonl(corpus_jsonl)), n["n_train"], n["n_eval"],
                                       n["min_words"], n["max_words"], cfg["seed"])
        write_jsonl(out_needles, chosen)
        write_json(out_stats, stats)
        log.info("needles: %s", stats)
        run.log_metrics(stats)
    record_provenance(cfg, Path(out_needles).parent)
    return stats


def load_needles(corpus_jsonl: str, needles_jsonl: str) -> list[dict[str, Any]]:
    """Needle records (corpus record + "split"), in the order of the needles file."""
    split = {row["id"]: row["split"] for row in read_jsonl(needles_jsonl)}
    by_id = {rec["id"]: rec for rec in read_jsonl(corpus_jsonl) if rec["id"] in split}
    return [{**by_id[i], "split": s} for i, s in split.items()]


def labels(cfg: dict[str, Any], labeler: dict[str, Any], corpus_jsonl: str, needles_jsonl: str,
           out_labels: str, out_stats: str, cache_path: str) -> dict[str, Any]:
    """Label every needle with the configured labeler (infobox | field | openai)."""
    needle_records = load_needles(corpus_jsonl, needles_jsonl)
    key = Path(out_labels).parent.name
    with tracking.stage_run(cfg, "labels", key, {"labeler": labeler}) as run:
        with timer() as t:
            if labeler["kind"] == "infobox":
                from needlework.labels.infobox import label_needles

                if not any(r.get("infobox") for r in needle_records):
                    raise InputError(f"config key labeler (or labeler.compare_with): the needles of {corpus_jsonl} "
                                     "have no infobox to parse; label them with labeler=field (data.label_field) or "
                                     "labeler=openai with labeler.compare_with=null")
                rows, extra = label_needles(needle_records), {}
            elif labeler["kind"] == "field":
                rows, extra = _field_labels(needle_records, cfg), {}
            else:
                from needlework.labels.llm_labeler import label_with_llm

                rows, extra = label_with_llm(needle_records, labeler, Path(cache_path))
            write_jsonl(out_labels, sorted(rows, key=lambda r: r["id"]))
        failures = sum(1 for r in rows if r.get("error"))
        odd = unrecognised(r.get("label") for r in rows)
        if odd:
            log.warning("labels: %d nationalities outside the demonym vocabulary, kept as written: %s",
                        sum(odd.values()), dict(odd.most_common(10)))
        stats = {"needles": len(rows), "labeled": len(rows) - failures, "failures": failures,
                 "nationality_unrecognised": sum(odd.values()), "seconds": t["seconds"], **extra}
        write_json(out_stats, stats)
        log.info("labels (%s): %s", labeler["kind"], stats)
        run.log_metrics(stats)
        run.log_artifact(out_labels)
    record_provenance(cfg, Path(out_labels).parent, labeler)
    return stats


def _field_labels(needle_records: list[dict[str, Any]], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    if not cfg["data"].get("label_field"):
        raise InputError("config key data.label_field: labeler=field needs labels in the source "
                         "(set data.label_field to the field that holds them)")
    from needlework.labels.field import label_from_field

    return label_from_field(needle_records)


def agreement(cfg: dict[str, Any], labels_a: str, labels_b: str, name_a: str, name_b: str,
              out_table: str, out_examples: str) -> None:
    """Per-field agreement of two labelers on the same needles (how the published work found noisy labels)."""
    from needlework.labels.agreement import agreement_table, disagreements, write_agreement

    a, b = list(read_jsonl(labels_a)), list(read_jsonl(labels_b))
    with tracking.stage_run(cfg, "agreement", Path(out_table).parent.name, {"a": name_a, "b": name_b}) as run:
        table = agreement_table(a, b, name_a, name_b)
        write_agreement(table, out_table)
        write_agreement(disagreements(a, b, name_a, name_b), out_examples)
        log.info("agreement %s vs %s:\n%s", name_a, name_b, table.to_string(index=False))
        run.log_artifact(out_table)


def haystacks(cfg: dict[str, Any], split: str, corpus_jsonl: str, needles_jsonl: str, labels_jsonl: str,
              tokenizer_dir: str | None, out_dir: str) -> dict[str, Any]:
    """Token-exact haystacks for the experiment model's tokenizer: the training set or the evaluation grid."""
    from needlework.longctx import export as haystack_export, haystack
    from needlework.corpus.rejects import summarize
    from needlework.models import load_tokenizer

    tokenizer = load_tokenizer(dict(cfg["model"], path=tokenizer_dir or cfg["model"]["path"]))
    needle_records = load_needles(corpus_jsonl, needles_jsonl)
    label_of = {r["id"]: r["label"] for r in read_jsonl(labels_jsonl) if not r.get("error")}
    eval_ids = {r["id"] for r in needle_records if r["split"] == "eval"}
    chosen = [dict(r, label=label_of[r["id"]]) for r in needle_records if r["split"] == split and r["id"] in label_of]
    if not chosen:
        raise InputError(f"{labels_jsonl}: no labeled {split} needles (see the labels step's log)")
    if split == "eval" and len(chosen) < cfg["context"]["needles_per_cell"]:
        raise InputError(f"config key context.needles_per_cell: only {len(chosen)} evaluation needles have labels "
                         f"({labels_jsonl}); a needle would repeat within a cell")
    # No evaluation needle (nor a copy or namesake of one) ever appears in a training haystack, nor as a
    # distractor of the grid.
    eval_keys = {key for r in needle_records if r["split"] == "eval" for key in haystack.same_person_keys(r)}
    pool = [r for r in read_jsonl(corpus_jsonl)
            if r["id"] not in eval_ids and not eval_keys.intersection(haystack.same_person_keys(r))]
    ctx, seed = cfg["context"], cfg["seed"]
    key = Path(out_dir).name
    params = {"context": ctx, "split": split, "tokenizer": tokenizer.name_or_path}
    with tracking.stage_run(cfg, f"haystacks_{split}", key, params) as run:
        with timer() as t:
            if split == "train":
                built = haystack.build_train(chosen, pool, tokenizer, ctx["train_lengths"],
                                             ctx["train_examples"], seed)
            else:
                built = haystack.build_eval(chosen, pool, tokenizer, ctx["lengths"], ctx["depths"],
                                            ctx["needles_per_cell"], seed)
            stats = haystack_export.export_split(built, split, out_dir, built.dropped)
        log.info("haystacks %s: %d records in %.1fs: %s", split, len(built), t["seconds"], stats)
        for line in summarize([{**row, "where": row["id"]} for row in built.dropped]):  # all rows: the audit
            log.info("haystacks %s: dropped %s", split, line)
        run.log_metrics({**stats, "seconds": t["seconds"]})
        for name in ("stats.png", "stats.json", haystack_export.AUDIT):
            run.log_artifact(Path(out_dir) / name)
        # above context.max_drop_share the audit goes beside the output directory (a failed step loses that)
        stop_audit = Path(out_dir).with_name(f"{Path(out_dir).name}.dropped-at-stop.jsonl")
        built.check(ctx["max_drop_share"], str(stop_audit))
    record_provenance(cfg, out_dir)
    return stats
