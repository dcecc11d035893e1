"""RAFT assembly: oracle share ~ p, unique distractors never the oracle, BM25 hard negatives, byte determinism."""
from __future__ import annotations

import math

import pytest

from needlework.io import InputError, dumps
from needlework.raft.assemble import assemble, chat_record, completion_record
from needlework.raft.chunking import chunk_documents
from needlework.raft.documents import fixture_path, hotpot_documents, read_hotpotqa
from needlework.raft.generate import generate_offline, select_fragments
from needlework.raft.metric import normalize_answer

PROVENANCE = {"config_key": "test"}


@pytest.fixture(scope="module")
def chunks():
    return chunk_documents(hotpot_documents(read_hotpotqa(fixture_path("train"))), tokens=512, overlap=0, count=None)


@pytest.fixture(scope="module")
def generated(chunks):
    return generate_offline(select_fragments(chunks, None, seed=0, offline=True), 1)[0]


def many(generated, n):
    """``n`` records: the real ones repeated under distinct question indices (distinct RNG streams)."""
    return [dict(generated[i % len(generated)], q_index=i // len(generated)) for i in range(n)]


def test_the_oracle_share_is_within_the_binomial_interval_of_p(chunks, generated):
    n, p = 2000, 0.8
    examples = assemble(many(generated, n), chunks, k=3, oracle_p=p, negatives="random", seed=1,
                        provenance=PROVENANCE)
    kept = sum(e["oracle_present"] for e in examples)
    half_width = 3.29 * math.sqrt(p * (1 - p) / n)  # 99.9% normal interval of a binomial share
    assert abs(kept / n - p) < half_width
    for e in examples:
        if e["oracle_present"]:
            assert e["context"]["sentences"][0][e["oracle_index"]] == e["oracle_context"]
        else:
            assert e["oracle_index"] is None and e["oracle_context"] not in e["context"]["sentences"][0]


@pytest.mark.parametrize("negatives", ["random", "bm25"])
def test_no_duplicate_document_and_the_oracle_is_never_a_distractor(chunks, generated, negatives):
    examples = assemble(many(generated, 300), chunks, k=3, oracle_p=0.5, negatives=negatives, seed=2,
                        provenance=PROVENANCE)
    oracle_of = {g["chunk_id"] for g in generated}
    for example, record in zip(examples, many(generated, 300)):
        ids = example["doc_ids"]
        assert len(ids) == len(set(ids)) == 4
        texts = example["context"]["sentences"][0]
        assert len(set(texts)) == 4
        assert ids.count(record["chunk_id"]) == int(example["oracle_present"])
        assert record["chunk_id"] in oracle_of
        assert example["instruction"].count("<DOCUMENT>") == 4 and example["instruction"].endswith(example["question"])


def test_bm25_negatives_are_similar_and_never_hold_the_gold_answer(chunks, generated):
    examples = assemble(generated, chunks, k=3, oracle_p=1.0, negatives="bm25", seed=0, provenance=PROVENANCE)
    by_id = {c["id"]: c for c in chunks}
    for example, record in zip(examples, generated):
        gold = normalize_answer(record["answer"])
        for doc_id in example["doc_ids"]:
            if doc_id == record["chunk_id"] or gold in ("yes", "no"):
                continue
            assert f" {gold} " not in f" {normalize_answer(by_id[doc_id]['title'] + ' ' + by_id[doc_id]['text'])} "
    random_examples = assemble(generated, chunks, k=3, oracle_p=1.0, negatives="random", seed=0, provenance=PROVENANCE)
    # the hard negatives share more words with the question than random ones do
    def overlap(example, record):
        question = set(normalize_answer(example["question"]).split())
        return sum(len(question & set(normalize_answer(by_id[i]["text"]).split()))
                   for i in example["doc_ids"] if i != record["chunk_id"])

    assert sum(map(overlap, examples, generated)) > 2 * sum(map(overlap, random_examples, generated))


def test_output_is_byte_identical_across_runs_and_worker_counts(chunks, generated):
    def run(workers):
        examples = assemble(many(generated, 200), chunks, k=3, oracle_p=0.8, negatives="bm25", seed=7,
                            provenance=PROVENANCE, workers=workers)
        return "".join(dumps(e) + "\n" for e in examples), [chat_record(e) for e in examples]

    one, chat_one = run(1)
    assert run(1)[0] == one
    eight, chat_eight = run(8)
    assert eight == one and chat_eight == chat_one
    other_seed = assemble(many(generated, 200), chunks, k=3, oracle_p=0.8, negatives="random", seed=8,
                          provenance=PROVENANCE)
    assert "".join(dumps(e) + "\n" for e in other_seed) != one


def test_exports_have_gorilla_columns(chunks, generated):
    [example] = assemble(generated[:1], chunks, k=3, oracle_p=1.0, negatives="random", seed=0, provenance=PROVENANCE)
    assert {"id", "type", "question", "context", "oracle_context", "cot_answer", "instruction", "oracle_present",
            "oracle_index", "provenance"} <= set(example)
    assert set(example["context"]) == {"title", "sentences"}
    assert example["provenance"] == {"teacher": "offline", "prompt_version": "raft-prompts-1", "config_key": "test"}
    assert completion_record(example) == {"prompt": example["instruction"], "completion": example["cot_answer"]}
    assert [m["role"] for m in chat_record(example)["messages"]] == ["user", "assistant"]


def test_too_few_chunks_for_k_distractors_names_the_key(chunks, generated):
    with pytest.raises(InputError, match="raft.assembly.distractors"):
        assemble(generated[:1], chunks[:4], k=3, oracle_p=0.8, negatives="random", seed=0, provenance=PROVENANCE)
