"""RAFT generation through a teacher behind a real local HTTP server: faults, repairs, drops, resume, determinism."""
from __future__ import annotations

import json
import re

import pytest
from fake_openai import FakeOpenAI, Fault, unused_base_url

from needlework.config import compose
from needlework.io import read_jsonl, write_jsonl
from needlework.raft.chunking import chunk_documents
from needlework.raft.documents import fixture_path, hotpot_documents, read_hotpotqa
from needlework.llm import EndpointUnreachableError
from needlework.raft.generate import clean_questions
from needlework.stages import raft_data

N_FRAGMENTS = 12


def teacher(body: dict) -> str | Fault:
    """Questions as numbered JSON (with a duplicate); answers quoting the chunk's first sentence. A quarter of the
    chunks (by length) get an invented quote every time (dropped); another quarter get a first answer without the
    tag (repaired on the re-ask)."""
    messages = body["messages"]
    if messages[0]["role"] == "system":
        chunk = messages[1]["content"]
        title = chunk.split()[0]
        return json.dumps({"questions": [f"1. What about {title}?", f"2) what about {title}"]})
    context = re.search(r"Context: (.*?)\n\nAnswer this question", messages[0]["content"], re.S).group(1)
    first = context.split(". ")[0]
    if len(context) % 4 == 0:
        return "##begin_quote##This sentence is not there.##end_quote##\n<ANSWER>: x"
    if len(context) % 4 == 1 and len(messages) == 1:
        return f"##begin_quote##{first}##end_quote## so it is that."
    return f"Reasoning: ##begin_quote##{first}##end_quote##\n<ANSWER>: {first.split()[0]}"


@pytest.fixture(scope="module")
def chunks_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("chunks") / "chunks.jsonl"
    docs = hotpot_documents(read_hotpotqa(fixture_path("train")))
    write_jsonl(path, chunk_documents(docs, tokens=512, overlap=0, count=None))
    return path


def make_cfg(tmp_path, base_url: str, concurrency: int):
    model_dir = tmp_path / "conf" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "teacher.yaml").write_text(
        f"backend: openai\nbase_url: {base_url}\nmodel: teacher-70b\napi_key_env: null\njson_mode: object\n"
        "max_retries: 3\ntimeout_s: 5\n"
        "price_input_per_1m: 1.0\nprice_output_per_1m: 2.0\n"
    )
    return compose(f"experiment=raft_default tracking.enabled=false raft.fragments={N_FRAGMENTS} "
                   f"raft.generator.kind=openai raft.generator.teacher=teacher "
                   f"raft.generator.max_concurrency={concurrency} "
                   f"hydra.searchpath=[file://{tmp_path / 'conf'}]")


def run(tmp_path, server, chunks_file, concurrency, name):
    out = tmp_path / f"{name}.jsonl"
    stats = tmp_path / f"{name}-stats.json"
    raft_data.generate(make_cfg(tmp_path, server.base_url, concurrency), str(chunks_file), str(out), str(stats),
                       str(tmp_path / "cache.jsonl"))
    return out.read_bytes(), json.loads(stats.read_text())


def test_teacher_path_survives_faults_repairs_and_drops_then_resumes_for_free(tmp_path, chunks_file):
    with FakeOpenAI(teacher) as server:
        server.inject(Fault.rate_limit(retry_after=0), Fault.server_error(503), Fault.truncated("cut off ##begin"))
        first, stats = run(tmp_path, server, chunks_file, 4, "first")
        sent = server.n_requests
        records = [json.loads(line) for line in first.decode().splitlines()]
        assert stats["fragments"] == N_FRAGMENTS and stats["questions"] == N_FRAGMENTS  # numbering + duplicate gone
        assert all(not r["question"][0].isdigit() for r in records)
        dropped = stats["dropped"]
        assert set(dropped) <= {"quote_not_in_oracle"} and dropped.get("quote_not_in_oracle", 0) >= 1
        assert stats["kept"] + sum(dropped.values()) == N_FRAGMENTS == len(records) + sum(dropped.values())
        # each dropped answer was asked 1 + max_repairs (2) times, each rejection counted
        assert stats["rejected"]["quote_not_in_oracle"] == 3 * dropped["quote_not_in_oracle"]
        assert stats["rejected"]["missing_answer_tag"] >= 1  # repaired: re-asked with the reason, then kept
        repairs = [b for b in server.requests if len(b["messages"]) == 3]
        assert any("missing_answer_tag" in b["messages"][-1]["content"] for b in repairs)
        assert stats["usage"]["answers"]["cost_usd"] > 0
        for record in records:
            assert record["teacher"] == "teacher" and record["cot_answer"].count("<ANSWER>:") == 1

        again, again_stats = run(tmp_path, server, chunks_file, 4, "again")
        assert again_stats["dropped"] == dropped
        assert server.n_requests == sent  # a rerun pays for nothing twice, not even for the dropped answers
        assert again == first


def test_output_bytes_do_not_depend_on_concurrency(tmp_path, chunks_file):
    outputs = []
    for concurrency in (1, 8):
        with FakeOpenAI(teacher, delay_s=0.01) as server:
            workdir = tmp_path / f"c{concurrency}"
            workdir.mkdir()
            outputs.append(run(workdir, server, chunks_file, concurrency, "out")[0])
            assert server.max_in_flight <= concurrency
    assert outputs[0] == outputs[1]


def test_numbering_and_near_duplicates_are_removed_and_the_count_is_checked():
    content = json.dumps({"questions": ["1. Who founded Rome?", "Q2: who founded rome", "- When was it founded?"]})
    assert clean_questions(content, 2) == ["Who founded Rome?", "When was it founded?"]
    with pytest.raises(ValueError, match="exactly 3 distinct"):
        clean_questions(content, 3)
    with pytest.raises(ValueError):
        clean_questions('{"questions": "one"}', 1)


def test_an_unreachable_teacher_stops_with_a_clear_error_and_no_output(tmp_path, chunks_file):
    url = unused_base_url()
    out = tmp_path / "out.jsonl"
    with pytest.raises(EndpointUnreachableError, match=url):
        raft_data.generate(make_cfg(tmp_path, url, 2), str(chunks_file), str(out), str(tmp_path / "s.json"),
                           str(tmp_path / "cache.jsonl"))
    assert not out.exists()
