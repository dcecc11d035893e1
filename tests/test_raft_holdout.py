"""Nothing evaluated is trained on: the evaluation questions are drawn first and none of their paragraphs reaches
the RAFT training documents (HotpotQA, JSONL and folder sources), with the count in the documents audit."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from needlework.config import compose
from needlework.io import InputError, read_jsonl
from needlework.raft.documents import fixture_path, read_hotpotqa
from needlework.raft.paths import RaftPaths
from needlework.stages import raft_data, raft_eval

SHARED_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "hotpotqa_dev.json"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def run_steps(tmp_path: Path, overrides: str) -> tuple[list[dict], list[dict], dict]:
    """The evaluation questions, then the documents: (questions, documents, documents audit)."""
    cfg = compose(f"experiment=raft_default tracking.enabled=false results_dir={tmp_path / 'results'} {overrides}")
    out = {name: str(tmp_path / name) for name in ("q.jsonl", "ids.txt", "paragraphs.jsonl", "docs.jsonl", "audit.json")}
    raft_eval.eval_data(cfg, out["q.jsonl"], out["ids.txt"], out["paragraphs.jsonl"])
    raft_data.documents(cfg, out["paragraphs.jsonl"], out["docs.jsonl"], out["audit.json"])
    return (list(read_jsonl(out["q.jsonl"])), list(read_jsonl(out["docs.jsonl"])),
            json.loads(Path(out["audit.json"]).read_text()))


def eval_texts(questions: list[dict]) -> set[str]:
    """Every paragraph the evaluation prompts show, whitespace removed."""
    return {squash(doc) for q in questions
            for doc in re.findall(r"<DOCUMENT>(.*?)</DOCUMENT>", q["messages"][0]["content"], re.S)}


def paragraphs(path: Path, ids: set[str] | None = None) -> set[tuple[str, str]]:
    return {(title, squash("".join(s))) for r in read_hotpotqa(path) if ids is None or r["_id"] in ids
            for title, s in r["context"]}


def test_the_packaged_fixture_trains_on_no_evaluation_paragraph(tmp_path):
    questions, docs, audit = run_steps(tmp_path, "")  # raft_default: 12 of the 20 evaluation questions
    assert len(questions) == 12 and audit["excluded"]["eval_paragraphs"] == len(eval_texts(questions)) == 120
    assert not eval_texts(questions) & {squash(d["text"]) for d in docs}
    assert audit["excluded"]["paragraphs"] == 0 and len(docs) == len(paragraphs(fixture_path("train")))


@pytest.mark.skipif(not SHARED_DEV.exists(), reason="needs ../shared/data/hotpotqa_dev.json")
def test_on_the_shared_dev_sample_training_and_evaluation_paragraphs_are_disjoint(tmp_path):
    questions, docs, audit = run_steps(tmp_path, f"raft.documents.path={SHARED_DEV} raft.eval.path={SHARED_DEV} "
                                                 "raft.eval.limit=50")
    ids = {q["id"] for q in questions}
    held_out, everything = paragraphs(SHARED_DEV, ids), paragraphs(SHARED_DEV)
    kept = {(d["title"], squash(d["text"])) for d in docs}
    assert len(questions) == 50 and not eval_texts(questions) & {squash(d["text"]) for d in docs}
    assert kept == everything - held_out  # nothing else is lost
    assert audit["excluded"]["paragraphs"] == len(held_out) == len(everything) - len(docs)
    assert not {f["question_id"] for d in docs for f in d["facts"]} & ids  # no evaluation answer as a target


@pytest.mark.skipif(not SHARED_DEV.exists(), reason="needs ../shared/data/hotpotqa_dev.json")
def test_evaluating_every_question_of_the_file_leaves_nothing_to_train_on(tmp_path):
    # the raft_hotpotqa settings (dev file for both, limit 1000) on the 200-question sample
    with pytest.raises(InputError, match=r"none of the 1983 documents .*raft.eval.limit"):
        run_steps(tmp_path, f"raft.documents.path={SHARED_DEV} raft.eval.path={SHARED_DEV} raft.eval.limit=1000")


def test_jsonl_and_folder_documents_lose_the_evaluation_paragraphs_whatever_their_whitespace(tmp_path):
    records = read_hotpotqa(fixture_path("eval"))
    questions, _, _ = run_steps(tmp_path / "draw", "raft.eval.limit=5")
    drawn = {q["id"] for q in questions}
    other = [r for r in records if r["_id"] not in drawn]
    held = [(t, s) for r in records if r["_id"] in drawn for t, s in r["context"]]
    free = [(t, s) for r in other for t, s in r["context"] if (t, squash("".join(s))) not in
            {(ht, squash("".join(hs))) for ht, hs in held}]
    # JSONL: one paragraph per record, titled, sentences re-spaced and wrapped
    lines = [{"id": f"p{i}", "text": f"{t}\n" + "\n".join(x.strip() for x in s)} for i, (t, s) in enumerate(held + free)]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    # folder: articles holding held-out paragraphs between free ones, and one file that is only a held-out paragraph
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(5):
        parts = [" ".join(free[2 * i][1]), f"{held[i][0]}\n" + "  ".join(held[i][1]), "".join(free[2 * i + 1][1])]
        (folder / f"article{i}.txt").write_text("\n\n".join(parts))
    (folder / "only.md").write_text("\n".join(held[5][1]))
    for source, path in (("jsonl", jsonl), ("folder", folder)):
        same, docs, audit = run_steps(tmp_path / source, f"raft.eval.limit=5 raft.documents.source={source} "
                                                         f"raft.documents.path={path}")
        assert {q["id"] for q in same} == drawn
        texts = [squash(d["text"]) for d in docs]
        assert not any(p in text for p in eval_texts(same) for text in texts)
        excluded = audit["excluded"]
        if source == "jsonl":
            assert len(docs) == len(free) and excluded["paragraphs"] == excluded["documents"] == len(held)
        else:
            assert [d["id"] for d in docs] == [f"article{i}.txt" for i in range(5)]
            assert all(squash("".join(free[2 * i][1])) in texts[i] and squash("".join(free[2 * i + 1][1])) in texts[i]
                       and held[i][0] not in docs[i]["text"] for i in range(5))
            assert (excluded["paragraphs"], excluded["documents"], excluded["shortened"]) == (6, 1, 5)


def test_the_documents_key_follows_the_evaluation_draw():
    base = RaftPaths(compose("experiment=raft_default"))
    other_draw = RaftPaths(compose("experiment=raft_default raft.eval.limit=5"))
    longer_answers = RaftPaths(compose("experiment=raft_default raft.eval.max_new_tokens=900"))
    assert other_draw.documents_dir != base.documents_dir and other_draw.train_dir != base.train_dir
    assert longer_answers.documents_dir == base.documents_dir and longer_answers.train_dir == base.train_dir
