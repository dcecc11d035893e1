"""Benchmark: token-exact haystack assembly against its honest references, on the same records and tokenizer.

- ours: ``build_eval`` / ``build_train`` (plan from cached counts, verify every prompt, re-plan or redraw).
- bound: what any token-exact builder must do at least: one tokenizer pass over the source biographies and one
  over the written prompts (chat-templated, in batches of VERIFY_BATCH as the verifying pass does).
- published: the published method, linear: sum precomputed per-biography token counts (``bio_token_len``) until
  the budget is reached, whole biographies only, needle at the boundary nearest the depth, no verification. Its
  counts are taken as given (not timed); its length error is how far its prompts land from the requested count.

Workload per part: an evaluation grid of 11 depths x 10 needles at each length, and ``--train`` training records
at the largest length, on synthetic wiki_bio-style biographies with the tiny tokenizer trained on them. Times are
CPU seconds of this process (robust to other jobs on the machine).

    python benchmarks/haystack_speed.py [--bios 4000] [--train 2000] [--lengths 4096 8192 16384]
"""
from __future__ import annotations

import argparse
import os
import random
import time

for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(key, value)

from needlework.corpus.synthetic import generate  # noqa: E402
from needlework.longctx.haystack import (MAX_SHORTFALL, QUESTION, SEPARATOR, SYSTEM_PROMPT, VERIFY_BATCH,  # noqa: E402
                                 build_eval, build_train)
from needlework.tokenizer import train_tokenizer  # noqa: E402

DEPTHS = [float(d) for d in range(0, 101, 10)]


def messages(haystack: str, name: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": haystack + SEPARATOR + QUESTION.format(name=name)}]


def published(needle: dict, pool: list[dict], counts: dict[str, int], length: int, depth: float, overhead: int,
              rng: random.Random) -> list[dict]:
    """One haystack the published way: whole biographies while the summed counts fit, needle nearest the depth."""
    budget, texts, used = length - overhead - counts[needle["id"]], [], 0
    while True:
        bio = pool[rng.randrange(len(pool))]
        if bio["name"] == needle["name"]:
            continue
        if used + counts[bio["id"]] > budget:
            break
        texts.append(bio["text"])
        used += counts[bio["id"]]
    at = round(depth / 100 * len(texts))
    return messages(SEPARATOR.join([*texts[:at], needle["text"], *texts[at:]]), needle["name"])


def seconds(fn, *args, **kwargs):
    start = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - start


def part(name, tokenizer, needles, pool, build, specs):
    """Time ours, the bound and the published method on one workload; print one row."""
    built, ours = seconds(build)
    source_texts = [bio["text"] for bio in pool + needles]
    _, source_s = seconds(tokenizer, source_texts, add_special_tokens=False)
    prompts = [r["messages"][:2] for r in built]
    _, verify_s = seconds(lambda: [tokenizer.apply_chat_template(prompts[i : i + VERIFY_BATCH], return_dict=False,
                                   add_generation_prompt=True) for i in range(0, len(prompts), VERIFY_BATCH)])
    bound = source_s + verify_s
    ids = tokenizer(source_texts, add_special_tokens=False)["input_ids"]
    counts = {bio["id"]: len(i) for bio, i in zip(pool + needles, ids)}
    overhead = len(tokenizer.apply_chat_template(messages("", "x y"), add_generation_prompt=True, return_dict=False))
    rng = random.Random(0)
    theirs, pub_s = seconds(lambda: [published(n, pool, counts, L, d, overhead, rng) for n, L, d in specs])
    lengths = [len(i) for i in tokenizer.apply_chat_template(theirs, add_generation_prompt=True, return_dict=False)]
    errors = [n - length for (_, length, _), n in zip(specs, lengths)]
    inside = sum(-MAX_SHORTFALL <= e <= 0 for e in errors) / len(errors)
    print(f"{name:<16}{len(built):>6}{ours:>9.2f}{bound:>9.2f}{ours / bound:>7.2f}x{pub_s:>8.2f}"
          f"{min(errors):>+7d}{max(errors):>+7d}{sum(map(abs, errors)) / len(errors):>8.1f}{inside:>8.0%}")
    return ours, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bios", type=int, default=4000, help="synthetic biographies in the corpus")
    parser.add_argument("--train", type=int, default=2000, help="training records at the largest length")
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 8192, 16384], help="context lengths")
    args = parser.parse_args()

    corpus = generate(args.bios, seed=0)
    for bio in corpus:
        bio["label"] = {}  # the default label; assembly only needs one that validates
    eval_needles, train_needles, pool = corpus[:10], corpus[10:210], corpus[10:]
    tokenizer = train_tokenizer([bio["text"] for bio in corpus], vocab_size=2048)
    print(f"corpus: {len(corpus)} synthetic bios; tiny tokenizer (2048 vocab); CPU seconds\n")
    print(f"{'part':<16}{'recs':>6}{'ours':>9}{'bound':>9}{'ratio':>8}{'publ.':>8}"
          f"{'errmin':>7}{'max':>7}{'|err|':>8}{'in win':>8}")
    rows = []
    for length in args.lengths:
        specs = [(n, length, d) for d in DEPTHS for n in eval_needles]
        rows.append(part(f"eval {length}", tokenizer, eval_needles, pool, lambda L=length: build_eval(
            eval_needles, pool, tokenizer, [L], DEPTHS, per_cell=10, seed=0), specs))
    largest, rng = max(args.lengths), random.Random(1)
    specs = [(train_needles[i % len(train_needles)], largest, rng.uniform(0, 100)) for i in range(args.train)]
    rows.append(part(f"train {largest}", tokenizer, train_needles, pool, lambda: build_train(
        train_needles, pool, tokenizer, [largest], args.train, seed=0), specs))
    ours, bound = map(sum, zip(*rows))
    print(f"\nall parts: ours {ours:.1f} s, bound {bound:.1f} s ({ours / bound:.2f}x the bound)")
    print("err: prompt tokens of the published method minus the requested length; in win: share of its prompts "
          f"within [length - {MAX_SHORTFALL}, length], where every one of ours lies")


if __name__ == "__main__":
    main()
