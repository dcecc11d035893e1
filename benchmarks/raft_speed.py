"""Benchmark: RAFT generation throughput against a local OpenAI-compatible server with 100 ms latency, zero requests
on resume, and assembly of 10,000 examples.

1. Teacher answers for ``--questions`` questions through the real generation path (``generate_with_teacher``:
   ChatClient, checker, cache) against the test suite's local HTTP server (``tests/fake_openai.py``) that waits
   ``--latency`` seconds per request. Target: throughput >= 0.8 x concurrency / latency.
2. The same run again with the same cache: target zero requests.
3. Assembly of ``--examples`` examples from the HotpotQA fixture's chunks, random and BM25 negatives: seconds.

    python benchmarks/raft_speed.py [--questions 400] [--concurrency 16] [--latency 0.1] [--examples 10000]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_openai import FakeOpenAI  # noqa: E402

from needlework.llm import ChatClient  # noqa: E402
from needlework.raft.assemble import assemble  # noqa: E402
from needlework.raft.chunking import chunk_documents  # noqa: E402
from needlework.raft.documents import fixture_path, hotpot_documents, read_hotpotqa  # noqa: E402
from needlework.raft.generate import generate_offline, generate_with_teacher, select_fragments  # noqa: E402


def teacher(body: dict) -> str:
    """Questions as JSON; answers quoting the first sentence of the chunk, with the tag."""
    if body["messages"][0]["role"] == "system":
        return json.dumps({"questions": [f"What is said in: {body['messages'][1]['content'][:60]}?"]})
    context = body["messages"][0]["content"].split("Context: ", 1)[1].split("\n\nAnswer this question", 1)[0]
    first = context.split(". ")[0]
    return f"Because ##begin_quote##{first}##end_quote##\n<ANSWER>: {first.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()

    chunks = chunk_documents(hotpot_documents(read_hotpotqa(fixture_path("train"))), tokens=512, overlap=0, count=None)
    fragments = [dict(c, id=f"{c['id']}~{i}") for i in range(args.questions // len(chunks) + 1) for c in chunks]
    fragments = fragments[: args.questions]
    with tempfile.TemporaryDirectory() as scratch, FakeOpenAI(teacher, delay_s=args.latency) as server:
        def make_client(kind, **options):
            return ChatClient(base_url=server.base_url, model="teacher", api_key_env=None,
                              json_mode="object" if kind == "questions" else "none", max_concurrency=args.concurrency,
                              max_tokens=512, cache_path=Path(scratch) / "cache.jsonl", **options)

        for run in ("fresh", "resumed"):
            before = server.n_requests
            start = time.perf_counter()
            records, stats = generate_with_teacher(fragments, 1, make_client, "teacher")
            seconds = time.perf_counter() - start
            sent = server.n_requests - before
            line = f"generation {run}: {len(records)} answers, {sent} requests in {seconds:.2f}s"
            if run == "fresh":
                rate, target = sent / seconds, 0.8 * args.concurrency / args.latency
                line += f" -> {rate:.1f} req/s (target >= {target:.1f}: {'ok' if rate >= target else 'MISSED'})"
            else:
                line += f" (target 0: {'ok' if sent == 0 else 'MISSED'})"
            print(line, flush=True)

    generated = generate_offline(select_fragments(chunks, None, 0, offline=True), 1)[0]
    many = [dict(generated[i % len(generated)], q_index=i // len(generated)) for i in range(args.examples)]
    for negatives in ("random", "bm25"):
        start = time.perf_counter()
        examples = assemble(many, chunks, k=3, oracle_p=0.8, negatives=negatives, seed=0, provenance={})
        print(f"assembly ({negatives}): {len(examples)} examples from {len(chunks)} chunks in "
              f"{time.perf_counter() - start:.2f}s", flush=True)


if __name__ == "__main__":
    main()
