"""Benchmark: token-exact haystack assembly (cached counts) vs the naive re-tokenize-everything method.

Workload: an evaluation grid of 3 lengths x 11 depths x 10 needles plus ``--train`` training records at the
largest length, on synthetic wiki_bio-style biographies with the tiny tokenizer trained on them.

The naive method is what the original needle-in-a-haystack scripts do: grow the context biography by biography,
re-encoding the whole text after each one to check its length, trim the token ids to the budget, walk back from
the insertion point to a separator, insert the needle, and count the final prompt. It is timed on a sample of
``--naive-sample`` records per part (each length of the grid, and training) and extrapolated per record.
Target: a speedup of at least 20x. The naive cost grows with the square of the biographies per context, the
cached one linearly (it is dominated by the one verifying tokenization of each prompt), so the speedup grows
with the context length.

    python benchmarks/haystack_speed.py [--bios 4000] [--train 1000] [--naive-sample 22] [--lengths 4096 8192 16384]
"""
from __future__ import annotations

import argparse
import os
import random
import time

for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(key, value)

from needlework.corpus.synthetic import generate  # noqa: E402
from needlework.haystack import MAX_SHORTFALL, QUESTION, SEPARATOR, SYSTEM_PROMPT, build_eval, build_train  # noqa: E402
from needlework.tokenizer import train_tokenizer  # noqa: E402

DEPTHS = [float(d) for d in range(0, 101, 10)]


def naive_record(tokenizer, needle: dict, pool: list[dict], length: int, depth: float, rng: random.Random) -> int:
    """One haystack the naive way; returns the prompt's token count."""
    question = QUESTION.format(name=needle["name"])

    def prompt_ids(haystack: str) -> list[int]:
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": haystack + SEPARATOR + question}]
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)

    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    budget = length - len(prompt_ids("")) - len(encode(needle["text"] + SEPARATOR))
    context = ""
    while len(encode(context)) < budget:  # re-encode the whole context after every biography
        bio = pool[rng.randrange(len(pool))]
        if bio["name"] != needle["name"]:
            context += bio["text"] + SEPARATOR
    ids = encode(context)[:budget]
    separator = encode(SEPARATOR)[-1]
    at = int(len(ids) * depth / 100)
    while 0 < at < len(ids) and ids[at - 1] != separator:  # back to the previous biography boundary
        at -= 1
    haystack = tokenizer.decode(ids[:at]) + needle["text"] + SEPARATOR + tokenizer.decode(ids[at:])
    return len(prompt_ids(haystack.rstrip()))


def naive_seconds_per_record(tokenizer, needles, pool, length: int, depths: list[float | None], seed: int) -> float:
    """Mean CPU seconds per naive record at ``length``, one record per depth (None: a random depth)."""
    rng = random.Random(seed)
    start = time.process_time()
    for i, depth in enumerate(depths):
        n = naive_record(tokenizer, needles[i % len(needles)], pool, length,
                         rng.uniform(0, 100) if depth is None else depth, rng)
        assert n <= length + MAX_SHORTFALL, n
    return (time.process_time() - start) / len(depths)


def timed(build, *args, **kwargs) -> tuple[list[dict], float]:
    """The records a build returns, and the CPU seconds it took."""
    start = time.process_time()
    records = build(*args, **kwargs)
    return records, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bios", type=int, default=4000, help="synthetic biographies in the corpus")
    parser.add_argument("--train", type=int, default=1000, help="training records at the largest length")
    parser.add_argument("--naive-sample", type=int, default=22, help="naive records timed per workload part")
    parser.add_argument("--lengths", type=int, nargs=3, default=[4096, 8192, 16384],
                        help="context lengths in tokens (default: the published 4k..16k range)")
    args = parser.parse_args()

    corpus = generate(args.bios, seed=0)
    for bio in corpus:
        bio["label"] = {}  # the default label; assembly only needs one that validates
    eval_needles, train_needles, pool = corpus[:10], corpus[10:210], corpus[10:]
    tokenizer = train_tokenizer([bio["text"] for bio in corpus], vocab_size=2048)
    mean_bio = sum(len(tokenizer(bio["text"])["input_ids"]) for bio in corpus[:500]) / 500
    print(f"corpus: {len(corpus)} synthetic bios, {mean_bio:.0f} tokens each on average (tiny tokenizer, 2048 vocab)")
    print("times are CPU seconds of this single-threaded process (robust to other jobs on the machine)\n")

    k = args.naive_sample
    parts = []  # (name, records, cached seconds, naive seconds per record)
    for length in args.lengths:  # one grid build per length, to show how each method scales with length
        grid, seconds = timed(build_eval, eval_needles, pool, tokenizer, [length], DEPTHS, per_cell=10, seed=0)
        naive = naive_seconds_per_record(tokenizer, eval_needles, pool, length, (DEPTHS * k)[:k], seed=length)
        parts.append((f"eval grid {length}", grid, seconds, naive))
    largest = max(args.lengths)
    train, train_s = timed(build_train, train_needles, pool, tokenizer, [largest], args.train, seed=0)
    naive = naive_seconds_per_record(tokenizer, train_needles, pool, largest, [None] * k, seed=1)
    parts.append((f"train {largest}", train, train_s, naive))

    print(f"{'part':<16}{'records':>8}{'cached ms/rec':>15}{'naive ms/rec':>14}{'speedup':>9}")
    for name, records, seconds, naive in parts:
        fast = seconds / len(records)
        print(f"{name:<16}{len(records):>8}{1000 * fast:>15.2f}{1000 * naive:>14.1f}{naive / fast:>8.1f}x")
    print(f"(naive: {k} records measured per part, extrapolated per record)")

    # What the workflow runs: the whole grid in one build (one token-count cache), plus the training set.
    grid, grid_s = timed(build_eval, eval_needles, pool, tokenizer, args.lengths, DEPTHS, per_cell=10, seed=0)
    fast_s = grid_s + train_s
    naive_s = sum(naive * len(records) for _, records, _, naive in parts)
    n = len(grid) + len(train)
    shortfall = max(r["context_length"] - r["n_tokens"] for r in grid + train)
    print(f"\nworkload: eval grid {len(grid)} records in one build ({grid_s:.1f} s) + train {len(train)} records "
          f"({train_s:.1f} s)")
    print(f"total {n} records: cached {fast_s:.1f} s, naive {naive_s:.1f} s (extrapolated) -> speedup "
          f"{naive_s / fast_s:.1f}x (target >= 20x); largest shortfall of a cached-method prompt: {shortfall} tokens")

if __name__ == "__main__":
    main()
