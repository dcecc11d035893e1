"""Benchmark: batched vs one-at-a-time greedy generation with HFBackend on the same prompts.

Builds a tiny random Llama (fp32) and a tokenizer trained on random word soup, makes prompts of 256-512
tokens, then times HFBackend with ``--batch-size`` against HFBackend with batch size 1 and checks that the
outputs are identical. Every answer runs to ``--max-new-tokens`` (a random model rarely emits the end token),
so both sides do the same amount of decoding. Target: a speedup of at least 3x.

On CPU the prompts' prefill costs the same batched or not, so the speedup comes from decoding steps: it is
largest for the tiny default model (Python overhead per step dominates) and shrinks as the model grows.

    python benchmarks/eval_speed.py [--prompts 64] [--batch-size 8] [--max-new-tokens 64] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import random
import time

for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(key, value)

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from needlework.evaluate.hf_backend import HFBackend  # noqa: E402
from needlework.tokenizer import train_tokenizer  # noqa: E402

WORDS = (
    "john smith born march june 1995 1950 swedish french american ice hockey football player politician club "
    "party member parliament died in the of and was is a an his her career team league season won"
).split()


def make_requests(tokenizer, n: int, low: int, high: int, rng: random.Random) -> list[dict]:
    """``n`` system + user requests whose templated prompts have between ``low`` and ``high`` tokens."""
    requests = []
    for i in range(n):
        target = rng.randint(low, high)
        words: list[str] = []
        messages: list[dict] = []
        while True:
            candidate = words + [rng.choice(WORDS) for _ in range(4)]
            question = "\n\nGiven this information, extract information about john."
            trial = [
                {"role": "system", "content": "extract information about a person in JSON"},
                {"role": "user", "content": " ".join(candidate) + question},
            ]
            if messages and prompt_length(tokenizer, trial) > target:
                break
            words, messages = candidate, trial
        requests.append({"id": f"p-{i:03d}", "messages": messages})
    return requests


def prompt_length(tokenizer, messages: list[dict]) -> int:
    """Tokens of the chat-templated prompt, generation prompt included."""
    return len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False))


def timed(backend: HFBackend, requests: list[dict]) -> tuple[float, dict]:
    """Seconds to answer all requests, and the results by id."""
    start = time.perf_counter()
    results = {r["id"]: r for r in backend.generate(requests)}
    if backend.model.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=64, help="number of prompts")
    parser.add_argument("--min-tokens", type=int, default=256, help="shortest prompt (templated tokens)")
    parser.add_argument("--max-tokens", type=int, default=512, help="longest prompt (templated tokens)")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size of the batched run")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens generated per prompt")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size of the tiny Llama")
    parser.add_argument("--layers", type=int, default=2, help="layers of the tiny Llama")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (0: torch's default); 1 because on a small shared machine extra threads stall "
        "on each other and the timings become noise",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the prompts and the model weights")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    tokenizer = train_tokenizer([" ".join(rng.choices(WORDS, k=200)) for _ in range(300)], vocab_size=512)
    torch.manual_seed(args.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden,
        intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=args.max_tokens + args.max_new_tokens,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    model = LlamaForCausalLM(config).to(args.device).eval()
    requests = make_requests(tokenizer, args.prompts, args.min_tokens, args.max_tokens, rng)
    lengths = [prompt_length(tokenizer, r["messages"]) for r in requests]

    def backend(batch_size: int, max_new_tokens: int = args.max_new_tokens) -> HFBackend:
        return HFBackend(model, tokenizer, batch_size=batch_size, max_new_tokens=max_new_tokens)

    timed(backend(args.batch_size, 4), requests[: args.batch_size])  # warm-up
    batched_s, batched = timed(backend(args.batch_size), requests)
    single_s, single = timed(backend(1), requests)

    generated = sum(r["output_tokens"] for r in batched.values())
    same = sum(batched[i] == single[i] for i in single)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"device={args.device} threads={torch.get_num_threads()} "
          f"model: hidden {args.hidden}, {args.layers} layers, {n_params:,} params")
    print(f"prompts={len(requests)} prompt tokens {min(lengths)}-{max(lengths)} "
          f"(mean {sum(lengths) / len(lengths):.0f}), max_new_tokens={args.max_new_tokens}, "
          f"generated {generated} tokens per run")
    print(f"batched (batch {args.batch_size}): {batched_s:.2f} s  ({generated / batched_s:.0f} new tok/s)")
    print(f"one at a time:       {single_s:.2f} s  ({generated / single_s:.0f} new tok/s)")
    print(f"speedup: {single_s / batched_s:.2f}x (target >= 3x)")
    print(f"identical outputs: {same}/{len(single)} {'yes' if same == len(single) else 'NO'}")


if __name__ == "__main__":
    main()
