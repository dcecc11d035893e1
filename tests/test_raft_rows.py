"""The RAFT paper's rows beside base and RAFT: the base zero-shot without documents (base_closed) and the
domain-specific fine-tune (dsf) trained and evaluated without documents, each with its own results."""
from __future__ import annotations

import pandas as pd

from needlework.config import compose, model_config
from needlework.io import read_jsonl
from needlework.raft.assemble import assemble, chat_record, closed_book_record
from needlework.raft.chunking import chunk_documents
from needlework.raft.documents import fixture_path, load_documents, read_hotpotqa
from needlework.raft.evaluate import as_asked, eval_questions
from needlework.raft.generate import generate_offline, select_fragments
from needlework.raft.paths import RaftPaths
from needlework.identity import REPO_ROOT

ROWS = "experiment=raft_smollm2 tracking.enabled=false"


def test_closed_book_rows_are_asked_the_question_alone():
    questions = eval_questions(read_hotpotqa(fixture_path("eval")))
    for q in questions:
        for name in ("base_closed", "dsf"):
            assert as_asked(q, name)["messages"] == [{"role": "user", "content": q["question"]}]
        for name in ("base", "finetuned"):
            assert as_asked(q, name) == q and q["messages"][0]["content"].count("<DOCUMENT>") == 10


def test_dsf_trains_on_the_same_questions_and_answers_without_documents():
    docs, _ = load_documents({"source": "hotpotqa", "path": None, "on_error": "skip"})
    chunks = chunk_documents(docs, tokens=512, overlap=64, count=None)
    generated, _ = generate_offline(select_fragments(chunks, 12, 0, True), 1)
    examples = assemble(generated, chunks, k=3, oracle_p=0.8, negatives="random", seed=0, provenance={})
    raft, dsf = [chat_record(e) for e in examples], [closed_book_record(e) for e in examples]
    assert [r["id"] for r in dsf] == [r["id"] for r in raft] and len(dsf) == 12
    for with_docs, without, example in zip(raft, dsf, examples):
        assert without["messages"][0] == {"role": "user", "content": example["question"]}
        assert "<DOCUMENT>" not in without["messages"][0]["content"]
        assert with_docs["messages"][0]["content"].count("<DOCUMENT>") == 4  # oracle or not: 4 documents
        assert without["messages"][1] == with_docs["messages"][1]  # the same CoT answer, tag included


def test_every_row_has_its_own_results_and_dsf_follows_the_examples(tmp_path):
    rp = RaftPaths(compose(f"{ROWS} results_dir={tmp_path}"))
    assert list(rp.eval_keys.values()) == ["base_closed", "base", "dsf", "finetuned"]
    assert len({rp.eval_dir(k) for k in rp.eval_keys}) == 4
    assert rp.dsf_train_dir != rp.train_dir and rp.dsf_train_dir.parent == rp.train_dir.parent
    assert rp.model_dir.name.startswith("SmolLM2-135M-Instruct")  # the converted GGUF, shared with other tracks
    cfg = compose(f"{ROWS} results_dir={tmp_path}")
    assert model_config(cfg, "dsf")["gguf"] == model_config(cfg, "base_closed")["gguf"] == cfg["model"]["gguf"]
    other = RaftPaths(compose(f"{ROWS} results_dir={tmp_path} raft.assembly.oracle_p=0.5"))
    assert other.dsf_train_dir != rp.dsf_train_dir and other.train_dir != rp.train_dir
    assert other.eval_key("base_closed") == rp.eval_key("base_closed")  # the base is not trained: no rerun
    assert other.eval_key("dsf") != rp.eval_key("dsf")


def test_a_closed_book_row_sends_only_the_question_to_the_model(tmp_path):
    from needlework.stages import raft_eval

    cfg = compose(f"{ROWS} model=tiny_base results_dir={tmp_path} "
                  "raft.eval.limit=2 raft.eval.max_new_tokens=2")
    questions = tmp_path / "q.jsonl"
    raft_eval.eval_data(cfg, str(questions), str(tmp_path / "ids.txt"), str(tmp_path / "paragraphs.jsonl"))
    tokens = {}
    for model in ("base_closed", "base"):
        preds, scores = tmp_path / f"{model}.jsonl", tmp_path / f"{model}.csv"
        raft_eval.evaluate(cfg, model, str(questions), str(REPO_ROOT / "models" / "tiny-base"), None,
                           str(preds), str(scores))
        assert pd.read_csv(scores).iloc[0][["model", "n"]].tolist() == [model, 2]
        tokens[model] = [r["input_tokens"] for r in read_jsonl(preds)]
    assert all(closed < 100 < with_docs for closed, with_docs in zip(tokens["base_closed"], tokens["base"]))
