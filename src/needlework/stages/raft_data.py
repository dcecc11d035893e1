"""RAFT data steps: documents, the offline tiny model built on them, chunks, generation (questions + checked CoT
answers) and assembly (oracle + distractors) with its three exports."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from needlework import tracking
from needlework.io import read_jsonl, write_json, write_jsonl
from needlework.stages.runtime import record_provenance, timer

log = logging.getLogger("needlework")


def documents(cfg: dict[str, Any], eval_paragraphs_jsonl: str, out_docs: str, out_audit: str) -> None:
    """Read ``raft.documents`` into one JSONL of documents without the evaluation questions' paragraphs, with an
    audit of skipped files and of what was excluded (``excluded``)."""
    from needlework.io import InputError
    from needlework.raft.documents import load_documents
    from needlework.raft.holdout import exclude

    dcfg = cfg["raft"]["documents"]
    with tracking.stage_run(cfg, "raft_documents", Path(out_docs).parent.name, {"raft.documents": dcfg}) as run:
        docs, audit = load_documents(dcfg)
        read = len(docs)
        docs, excluded = exclude(docs, list(read_jsonl(eval_paragraphs_jsonl)))
        if not docs:
            raise InputError(f"raft.documents: none of the {read} documents is left once the "
                             f"{excluded['eval_paragraphs']} paragraphs of the evaluation questions are excluded "
                             "(config keys raft.documents.path, raft.eval.path, raft.eval.limit)")
        write_jsonl(out_docs, docs)
        write_json(out_audit, {**audit, "documents": len(docs), "excluded": excluded})
        log.info("%d documents (%d files skipped; %d evaluation paragraphs excluded, %d documents dropped)",
                 len(docs), len(audit["skipped"]), excluded["paragraphs"], excluded["documents"])
        run.log_metrics({"documents": len(docs), "skipped": len(audit["skipped"]),
                         "excluded_eval_paragraphs": excluded["paragraphs"],
                         "excluded_documents": excluded["documents"]})
        run.log_artifact(out_audit)
    record_provenance(cfg, Path(out_docs).parent)


def build_model(cfg: dict[str, Any], docs_jsonl: str, out_dir: str) -> None:
    """The offline stand-in base model: a BPE tokenizer and a tiny Llama pretrained on the documents."""
    import tempfile

    from needlework.models import build_tiny
    from needlework.training.pretrain import pretrain_tiny
    from needlework.raft.documents import iter_texts
    from needlework.tokenizer import train_tokenizer

    model = cfg["model"]
    texts = list(iter_texts(list(read_jsonl(docs_jsonl))))
    with tracking.stage_run(cfg, "raft_model", Path(out_dir).name, {"model": model}) as run, \
            tempfile.TemporaryDirectory() as scratch, timer() as t:
        tokenizer = train_tokenizer(texts, vocab_size=model["build"]["vocab_size"])
        tokenizer.save_pretrained(Path(scratch) / "tokenizer")
        init = build_tiny(Path(scratch) / "tokenizer", model["build"], model["native_context"], cfg["seed"],
                          Path(scratch) / "init")
        result = pretrain_tiny(init, texts, model["build"]["pretrain"], cfg["seed"], Path(out_dir))
        run.log_metrics({"vocab_size": len(tokenizer), "texts": len(texts), **result})
    log.info("built %s from %d documents in %.1fs", out_dir, len(texts), t["seconds"])
    record_provenance(cfg, out_dir)


def chunks(cfg: dict[str, Any], docs_jsonl: str, model_dir: str | None, out_chunks: str) -> None:
    """Cut documents into chunks of ``raft.chunking.tokens`` model tokens (HotpotQA paragraphs stay whole)."""
    from needlework.raft.chunking import chunk_documents

    docs = list(read_jsonl(docs_jsonl))
    count = None
    if any(d["source"] != "hotpotqa" for d in docs):
        from needlework.models import load_tokenizer

        tok = load_tokenizer(dict(cfg["model"], path=str(Path(model_dir).resolve()) if model_dir else cfg["model"]["path"]))
        count = lambda text: len(tok(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    ccfg = cfg["raft"]["chunking"]
    with tracking.stage_run(cfg, "raft_chunks", Path(out_chunks).parent.name, {"raft.chunking": ccfg}) as run:
        result = chunk_documents(docs, tokens=ccfg["tokens"], overlap=ccfg["overlap"], count=count)
        write_jsonl(out_chunks, result)
        log.info("%d chunks from %d documents", len(result), len(docs))
        run.log_metrics({"chunks": len(result), "documents": len(docs)})
    record_provenance(cfg, Path(out_chunks).parent)


def generate(cfg: dict[str, Any], chunks_jsonl: str, out_generated: str, out_stats: str, cache: str | None) -> None:
    """Questions and checked CoT answers for the chosen fragments (offline teacher or a teacher model)."""
    from needlework.raft.generate import generate_offline, generate_with_teacher, select_fragments

    raft = cfg["raft"]
    gen = raft["generator"]
    offline = gen["kind"] == "offline"
    fragments = select_fragments(list(read_jsonl(chunks_jsonl)), raft["fragments"], cfg["seed"], offline)
    params = {"raft.generator": gen, "raft.fragments": raft["fragments"], "raft.questions": raft["questions_per_chunk"]}
    with tracking.stage_run(cfg, "raft_generate", Path(out_generated).parent.name, params) as run, timer() as t:
        if offline:
            records, stats = generate_offline(fragments, raft["questions_per_chunk"])
        else:
            records, stats = generate_with_teacher(fragments, raft["questions_per_chunk"],
                                                   _client_factory(cfg, cache), gen["teacher"])
        if not records:
            raise RuntimeError(f"raft: no usable question/answer pair from {len(fragments)} fragments "
                               f"({stats}); see the log")
        stats["seconds"] = t["seconds"]
        write_jsonl(out_generated, records)
        write_json(out_stats, stats)
        log.info("generation: %s", stats)
        run.log_metrics(stats)
        run.log_artifact(out_stats)
    record_provenance(cfg, Path(out_generated).parent)


def _client_factory(cfg: dict[str, Any], cache: str | None):
    """Builds the teacher's ChatClients: JSON for questions, free text (checked, re-asked) for answers."""
    from needlework.config import model_config
    from needlework.llm import client_from_config
    from needlework.raft.generate import QUESTIONS_SCHEMA
    from needlework.llm import strict_json_schema

    gen = cfg["raft"]["generator"]
    teacher = model_config(cfg, gen["teacher"])
    if teacher["backend"] != "openai":
        from needlework.io import InputError

        raise InputError(f"config key raft.generator.teacher: {gen['teacher']!r} is not an openai-backend model")
    if gen.get("max_concurrency"):
        teacher["max_concurrency"] = gen["max_concurrency"]

    def make(kind: str, **options: Any):
        mcfg = dict(teacher, max_tokens=gen["max_tokens"])
        if kind == "answers":
            mcfg["json_mode"] = "none"
        return client_from_config(mcfg, section=f"model '{gen['teacher']}'", cache_path=cache,
                                  response_schema=strict_json_schema(QUESTIONS_SCHEMA) if kind == "questions" else None,
                                  schema_name="questions", max_invalid_retries=gen["max_repairs"],
                                  cache_invalid=True, **options)

    return make


def assemble(cfg: dict[str, Any], chunks_jsonl: str, generated_jsonl: str, out: dict[str, str]) -> None:
    """Examples with oracle + distractors; exports raft.jsonl (gorilla columns), chat.jsonl, completion.jsonl, a
    ``datasets`` dataset directory, and closed_book.jsonl (the same questions and answers without documents)."""
    from datasets import Dataset

    from needlework.io import atomic_path
    from needlework.raft.assemble import assemble as build, chat_record, closed_book_record, completion_record

    acfg = cfg["raft"]["assembly"]
    key = Path(out["examples"]).parent.name
    with tracking.stage_run(cfg, "raft_assemble", key, {"raft.assembly": acfg}) as run, timer() as t:
        examples = build(list(read_jsonl(generated_jsonl)), list(read_jsonl(chunks_jsonl)),
                         k=acfg["distractors"], oracle_p=acfg["oracle_p"], negatives=acfg["negatives"],
                         seed=cfg["seed"], provenance={"config_key": key}, workers=acfg.get("workers", 1))
        write_jsonl(out["examples"], examples)
        write_jsonl(out["chat"], map(chat_record, examples))
        write_jsonl(out["completion"], map(completion_record, examples))
        write_jsonl(out["closed_book"], map(closed_book_record, examples))
        with atomic_path(out["dataset"]) as tmp:
            Dataset.from_list(examples).save_to_disk(str(tmp))
        share = sum(e["oracle_present"] for e in examples) / len(examples)
        log.info("%d examples, oracle kept in %.2f, in %.1fs", len(examples), share, t["seconds"])
        run.log_metrics({"examples": len(examples), "oracle_share": share})
    record_provenance(cfg, Path(out["examples"]).parent)
