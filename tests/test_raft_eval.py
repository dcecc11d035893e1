"""RAFT evaluation of an `openai` model against a real local server with scripted answers: exact EM/F1."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from fake_openai import FakeOpenAI, Fault

from needlework.config import compose
from needlework.io import read_jsonl
from needlework.raft.documents import fixture_path, read_hotpotqa
from needlework.stages import raft_eval

GOLD = {r["question"]: (r["_id"], r["answer"]) for r in read_hotpotqa(fixture_path("eval"))}


def scripted(body: dict) -> str | Fault:
    """By question (sorted id position i): i%4 == 0 right with the tag, 1 wrong, 2 right but untagged, 3 right
    but cut off at the token limit."""
    prompt = body["messages"][0]["content"]
    question = prompt.rsplit("</DOCUMENT>\n", 1)[1]
    qid, gold = GOLD[question]
    i = sorted(i for i, _ in GOLD.values()).index(qid)
    return [f"The documents say so.\n<ANSWER>: {gold}", "Thinking...\n<ANSWER>: zzzz qqqq",
            gold, Fault.truncated(f"First ##begin_quote##...\n<ANSWER>: {gold}")][i % 4]


@pytest.fixture
def cfg(tmp_path):
    def make(base_url: str, limit: str = "null"):
        model_dir = tmp_path / "conf" / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / "api.yaml").write_text(f"backend: openai\nbase_url: {base_url}\nmodel: api-model\n")
        return compose(f"experiment=raft_default tracking.enabled=false results_dir={tmp_path / 'results'} "
                       f"raft.eval.models=[api] raft.eval.limit={limit} raft.eval.max_new_tokens=800 "
                       f"hydra.searchpath=[file://{tmp_path / 'conf'}]")
    return make


def test_an_api_model_scores_exactly_the_expected_em_and_f1(tmp_path, cfg):
    questions, ids, paragraphs = tmp_path / "q.jsonl", tmp_path / "ids.txt", tmp_path / "paragraphs.jsonl"
    with FakeOpenAI(scripted) as server:
        config = cfg(server.base_url)
        raft_eval.eval_data(config, str(questions), str(ids), str(paragraphs))
        preds, scores = tmp_path / "predictions.jsonl", tmp_path / "scores.csv"
        raft_eval.evaluate(config, "api", str(questions), None, None, str(preds), str(scores))
        assert server.n_requests == 20
        assert {r["max_tokens"] for r in server.requests} == {800}
        assert all(r["stop"] == ["<DOCUMENT>", "</DOCUMENT>"] for r in server.requests)
        row = pd.read_csv(scores).iloc[0]
        assert list(pd.read_csv(scores).columns) == ["model", "n", "em", "f1", "f1_ci_low", "f1_ci_high",
                                                     "missing_answer_tag", "truncated", "em_ci_low", "em_ci_high"]
        assert (row["model"], row["n"]) == ("api", 20)
        assert row["em"] == row["f1"] == 0.75
        assert row["missing_answer_tag"] == row["truncated"] == 0.25
        assert row["f1_ci_low"] < 0.75 < row["f1_ci_high"] and row["em_ci_low"] < 0.75 < row["em_ci_high"]
        rows = list(read_jsonl(preds))
        assert [r["id"] for r in rows] == sorted(GOLD[q][0] for q in GOLD)
        raft_eval.evaluate(config, "api", str(questions), None, None, str(preds), str(scores))
        assert server.n_requests == 20  # a rerun answers from the cache


def test_a_limit_takes_a_seeded_sample_and_saves_its_ids(tmp_path, cfg):
    config = cfg("http://127.0.0.1:1/v1", limit="7")
    for name in ("a", "b"):
        raft_eval.eval_data(config, str(tmp_path / f"{name}.jsonl"), str(tmp_path / f"{name}.txt"),
                            str(tmp_path / f"{name}-paragraphs.jsonl"))
    ids = (tmp_path / "a.txt").read_text().split()
    assert len(ids) == 7 and ids == sorted(ids) and (tmp_path / "b.txt").read_text() == (tmp_path / "a.txt").read_text()
    records = list(read_jsonl(tmp_path / "a.jsonl"))
    assert all(r["messages"][0]["content"].count("<DOCUMENT>") == 10 for r in records)
    assert json.dumps(records) == json.dumps(list(read_jsonl(tmp_path / "b.jsonl")))
