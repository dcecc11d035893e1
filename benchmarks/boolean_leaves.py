"""Does a model read the label's yes/no leaves? Forced-choice accuracy and margins for sportsperson and politician.

Greedy answers say only which of "true"/"false" won. This script feeds each prompt's reference answer up to the
value of a boolean leaf (``... "sportsperson":``) and reads the next-token logits of " true" and " false": the
margin logit(true) - logit(false) shows whether the model separates the two classes at all, or only leans one way
(a bias shared by positives and negatives). One forward pass per prompt, no generation, so it is cheap enough to
run on the training haystacks as well as the evaluation grid: a leaf that is not separated even on the examples
the model was trained on is an optimisation or capacity failure, not a failure to generalise.

``--needle-only`` keeps only the needle's own paragraph from each haystack (the paragraph that begins with the
asked name), so retrieval is taken out: what remains is whether the model maps the biography's words to the leaf.

    python benchmarks/boolean_leaves.py --model-dir results/models/<converted> \
        --adapter results/train/<key>/adapter \
        results/haystacks/eval-<key>/eval.jsonl results/haystacks/train-<key>/dataset [--needle-only]

Prompts are built exactly as the evaluation builds them (the chat template through ``HFBackend.prompt_ids``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from needlework.evaluate.grid import label_of  # noqa: E402
from needlework.evaluate.hf_backend import HFBackend  # noqa: E402
from needlework.io import read_jsonl  # noqa: E402
from needlework.longctx.haystack import QUESTION, SEPARATOR  # noqa: E402
from needlework.models import load_model, load_tokenizer  # noqa: E402

LEAVES = ("sportsperson", "politician")
QUESTION_START, QUESTION_END = QUESTION.split("{name}")


def read_records(path: Path, limit: int | None) -> list[dict]:
    """Chat records from an evaluation grid (JSONL) or a training haystack set (a ``datasets`` directory)."""
    if path.is_dir():
        import datasets

        data = datasets.load_from_disk(str(path))
        records = list(data["train"] if isinstance(data, datasets.DatasetDict) else data)
    else:
        records = list(read_jsonl(path))
    return records[:limit] if limit else records


def needle_only(messages: list[dict]) -> list[dict]:
    """The same chat with the user turn cut to the needle's paragraph and the question."""
    user = next(m for m in messages if m["role"] == "user")
    *paragraphs, question = user["content"].split(SEPARATOR)
    if not (question.startswith(QUESTION_START) and question.endswith(QUESTION_END)):
        raise ValueError(f"not the haystack question: {question!r}")
    name = question[len(QUESTION_START) : len(question) - len(QUESTION_END)].split()
    own = [p for p in paragraphs
           if p.split(" ( ")[0].split()[:1] == name[:1] and name[-1] in p.split(" ( ")[0].split()]
    if len(own) != 1:
        raise ValueError(f"found {len(own)} paragraphs naming {' '.join(name)!r}")
    return [dict(m, content=own[0] + SEPARATOR + question) if m is user else m for m in messages]


def margins(model, tokenizer, backend: HFBackend, record: dict, true_id: int, false_id: int) -> dict[str, float]:
    """logit(" true") - logit(" false") at each boolean leaf's value, under the reference answer's prefix."""
    answer = label_of(record)
    prompt = backend.prompt_ids(record["messages"])
    answer_ids = tokenizer.encode(answer, add_special_tokens=False)
    positions = {}
    for leaf in LEAVES:
        cut = answer.index(f'"{leaf}":') + len(f'"{leaf}":')
        prefix = tokenizer.encode(answer[:cut], add_special_tokens=False)
        if answer_ids[: len(prefix)] != prefix:
            raise ValueError(f"{record.get('id')}: the answer does not tokenize through {leaf!r} as its prefix")
        positions[leaf] = len(prompt) + len(prefix) - 1
    with torch.no_grad():
        logits = model(torch.tensor([prompt + answer_ids])).logits[0].float()
    return {leaf: (logits[pos, true_id] - logits[pos, false_id]).item() for leaf, pos in positions.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path, help="eval.jsonl grids and/or training dataset directories")
    parser.add_argument("--model-dir", required=True, help="the converted base model directory")
    parser.add_argument("--adapter", help="a trained adapter (or fully fine-tuned model) directory; none = the base")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--needle-only", action="store_true", help="keep only the needle's paragraph")
    parser.add_argument("--limit", type=int, help="first N records of each input")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model_cfg = {"path": str(Path(args.model_dir).resolve()), "dtype": args.dtype, "attn_implementation": "sdpa"}
    model = load_model(model_cfg, adapter_dir=Path(args.adapter) if args.adapter else None)
    tokenizer = load_tokenizer(model_cfg)
    backend = HFBackend(model, tokenizer)
    (true_id,), (false_id,) = (tokenizer.encode(w, add_special_tokens=False) for w in (" true", " false"))

    print(f"model {args.model_dir} adapter {args.adapter or 'none'}{' needle only' if args.needle_only else ''}")
    print(f"{'input':<40} {'leaf':<13} {'n':>4} {'pos':>4} {'acc':>5} {'margin+':>8} {'margin-':>8} {'gap':>6}")
    for path in args.inputs:
        rows = {leaf: [] for leaf in LEAVES}
        for record in read_records(path, args.limit):
            if args.needle_only:
                record = dict(record, messages=needle_only(record["messages"]))
            label = json.loads(label_of(record))
            for leaf, margin in margins(model, tokenizer, backend, record, true_id, false_id).items():
                rows[leaf].append((bool(label[leaf]), margin))
        for leaf, pairs in rows.items():
            pos = [m for y, m in pairs if y]
            neg = [m for y, m in pairs if not y]
            acc = sum((m > 0) == y for y, m in pairs) / len(pairs)
            mean_pos = sum(pos) / len(pos) if pos else float("nan")
            mean_neg = sum(neg) / len(neg) if neg else float("nan")
            name = f"{path.parent.name}/{path.name}"[-40:]
            print(f"{name:<40} {leaf:<13} {len(pairs):>4} {len(pos):>4} {acc:>5.2f} {mean_pos:>8.2f} "
                  f"{mean_neg:>8.2f} {mean_pos - mean_neg:>6.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
