"""Train the shipped tiny base model from scratch: a small Llama meant to retrieve within its native context.

What it is built on, each meant to make retrieval emerge in little compute (README "The shipped tiny base" has
what it reached in 189 s on one GPU and 83 min more on 2 CPU cores: the asked biography at every depth of
256-token haystacks, above the baseline but well below 0.8 at 512):

- **Whole-word tokens** (:func:`needlework.tokenizer.train_word_tokenizer`): every corpus word, every name part
  of the lists the corpus draws names from, and every number is one token, so finding the person the question
  names is a one-token match instead of a match over eight BPE pieces.
- **The evaluation's own task as training data**: the same system prompt, question and chat template as
  :mod:`needlework.longctx.haystack`, a needle biography among distractors, the label JSON as the answer; the loss is
  on the answer only (logits are computed only there, which also keeps the large vocabulary cheap).
- **Fresh names every example**: each biography's name parts are replaced by parts drawn at random from the
  name lists, so no person can be memorised: the only way to answer is to read the needle.
- **Short to long**: batches of first sentences only (where the facts are) at first, and haystack lengths that
  grow from one biography to the native context over the first part of training, then stay uniform up to it.
- **Many answers per haystack**: after the evaluation's question, further turns ask about other biographies of
  the same haystack; JSON-key targets are thinned (the output head over the whole vocabulary is the costly part).
- **Names said again** (``repeat_weight``): an auxiliary loss on every name part that recurs in the haystack, to
  tie each biography's tokens to its person (the first half of finding the asked person's facts).
- **A second phase** (``second_phase``): the first phase's weights trained on with some settings changed (a fresh
  optimiser and schedule): more distinct biographies, full-length haystacks only, a lower learning rate.

Evaluation needles never enter training (neither as needle nor as distractor). Training (the loop of
:mod:`needlework.training.loop`) checkpoints every few minutes and resumes from the last checkpoint of the same
configuration; a finished first phase is kept in the work directory (``phase-1/``, a complete model directory), so
the second resumes from it. Every step's batch is a function of the step alone, made in worker processes beside a
GPU (``workers``), in the training process on a CPU.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tokenizers
import torch
import torch.nn.functional as F
import transformers
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from needlework.config import fingerprint as config_fingerprint
from needlework.identity import MANIFEST, file_sha256  # MANIFEST: the files' hashes, checked by tests/test_tiny_base.py
from needlework.io import InputError, atomic_path, write_json
from needlework.longctx.haystack import QUESTION, SEPARATOR, SYSTEM_PROMPT
from needlework.training import loop

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
NOT_IN_FINGERPRINT = ("stop_at", "workers", "checkpoint_minutes")  # a checkpoint resumes whatever these are
# pretrain keys that may be left out
OPTIONAL = {"device": "cpu", "workers": 0, "extra_bios": 0, "stop_at": None, "second_phase": None}
_WORD = r"(?<![^\W_]){}(?![^\W_])"  # a whole word: not preceded or followed by a letter or digit
Example = tuple[list[int], list[tuple[int, int]]]  # token ids and the (start, end) span of every answer


def name_parts() -> tuple[list[str], list[str]]:
    """(first names, last names) of every corpus locale's Faker lists that are not protected words, sorted."""
    from needlework.corpus.anonymize import PROTECTED_WORDS, _faker_names
    from needlework.corpus.synthetic import COUNTRIES

    first, last = set(), set()
    for country in COUNTRIES:
        first |= _faker_names(country.locale, "male") | _faker_names(country.locale, "female")
        last |= _faker_names(country.locale, "last")
    keep = lambda names: sorted(n for n in names if len(n) > 2 and n not in PROTECTED_WORDS)  # noqa: E731
    return keep(first), keep(last)


def rename(bio: dict, rng: random.Random, first: Sequence[str], last: Sequence[str]) -> dict:
    """``bio`` with every name part of three letters or more replaced, as a whole word everywhere in its text, by
    a random first name (the name's first part) or last name (the others)."""
    parts = [p for p in bio["name"].split() if len(p) > 2 and re.fullmatch(r"[^\W_]+", p)]
    name, text = bio["name"], bio["text"]
    for i, part in enumerate(dict.fromkeys(parts)):
        new = rng.choice(first if i == 0 else last)
        pattern = re.compile(_WORD.format(re.escape(part)))
        name, text = pattern.sub(new, name), pattern.sub(new, text)
    return {**bio, "name": name, "text": text}


class Examples:
    """Seeded training examples: token ids of a templated haystack prompt + answer, and where the answer starts."""

    def __init__(self, tokenizer: Any, bios: list[dict], names: tuple[list[str], list[str]]):
        if len(bios) < 2:
            raise InputError(f"tiny base: {len(bios)} labelled biographies, need at least 2")
        self.tokenizer, self.bios, self.names = tokenizer, bios, names
        self.sep = len(tokenizer(SEPARATOR, add_special_tokens=False)["input_ids"])

    def make(self, rng: random.Random, length: int, questions: int = 1, lead_only: bool = False) -> Example:
        """One conversation whose first prompt has at most about ``length`` tokens (at least the needle alone):
        the evaluation's prompt and answer, then up to ``questions - 1`` more turns asking about other complete
        biographies of the same haystack. ``lead_only`` cuts every biography to its first sentence (which holds
        the facts): short sources make the copying circuit easy to find early in training. Returns the ids and
        the (start, end) span of every answer."""
        tok = self.tokenizer
        needle = self._draw(rng, lead_only)
        budget = length - len(self._prompt_ids([needle["text"]], needle["name"]))
        pieces: list[str] = []
        others: list[dict] = []
        while budget > self.sep + 8:
            bio = self._draw(rng, lead_only)
            if bio["id"] == needle["id"] or bio["name"] == needle["name"]:
                continue
            ids = tok(bio["text"], add_special_tokens=False)["input_ids"]
            if len(ids) + self.sep > budget:  # cut the last one at a word boundary, as the evaluation does
                cut = tok.decode(ids[: budget - self.sep - 1])
                text = cut[: cut.rfind(" ")] if " " in cut else ""
                if text:
                    pieces.append(text)
                break
            pieces.append(bio["text"])
            others.append(bio)
            budget -= len(ids) + self.sep
        pieces.insert(rng.randint(0, len(pieces)), needle["text"])
        ids = self._prompt_ids(pieces, needle["name"])
        spans = [self._answer(ids, needle)]
        for bio in rng.sample(others, min(len(others), questions - 1)):
            ids += tok("<|user|>" + QUESTION.format(name=bio["name"]) + "<|end|><|assistant|>",
                       add_special_tokens=False)["input_ids"]
            spans.append(self._answer(ids, bio))
        return ids, spans

    def _draw(self, rng: random.Random, lead_only: bool) -> dict:
        """A random biography, renamed; only its first sentence if ``lead_only``."""
        bio = rename(rng.choice(self.bios), rng, *self.names)
        if lead_only and " . " in bio["text"]:
            bio["text"] = bio["text"][: bio["text"].index(" . ") + 2]
        return bio

    def _answer(self, ids: list[int], bio: dict) -> tuple[int, int]:
        """Append ``bio``'s label JSON and the end token to ``ids``; return their span."""
        start = len(ids)
        ids += self.tokenizer(bio["label"], add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
        return start, len(ids)

    def _prompt_ids(self, pieces: list[str], name: str) -> list[int]:
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": SEPARATOR.join(pieces) + SEPARATOR + QUESTION.format(name=name)}]
        return list(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False))


def batch_of(examples: list[Example], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and the target of every position (-100 outside the answers). Right padding needs no mask:
    a causal model never looks at the pads after a sequence."""
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id)
    targets = torch.full((len(examples), width), -100)
    for row, (seq, spans) in enumerate(examples):
        ids[row, : len(seq)] = torch.tensor(seq)
        for start, end in spans:
            targets[row, start - 1 : end - 1] = torch.tensor(seq[start:end])
    return ids, targets


def answer_loss(model: LlamaForCausalLM, ids: torch.Tensor, targets: torch.Tensor,
                skeleton: frozenset[int] = frozenset(), repeats: torch.Tensor | None = None,
                repeat_weight: float = 0.0, autocast: bool = False) -> tuple[torch.Tensor, float]:
    """Cross-entropy on answer tokens only (the head runs only there) and the share of them predicted right,
    not counting ``skeleton`` tokens (the JSON keys and punctuation every answer has). With ``repeats`` (targets
    of name tokens seen before in the haystack, :func:`repeat_targets`), ``repeat_weight`` x their cross-entropy
    is added: predicting a person's name again ties every token of a biography to the person it is about."""
    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=autocast):
        hidden = model.model(input_ids=ids).last_hidden_state
        where = targets != -100
        logits = model.lm_head(hidden[where]).float()
        gold = targets[where]
        loss = F.cross_entropy(logits, gold)
        if repeats is not None and repeat_weight > 0 and bool((repeats != -100).any()):
            more = repeats != -100
            loss = loss + repeat_weight * F.cross_entropy(model.lm_head(hidden[more]).float(), repeats[more])
    values = ~torch.isin(gold, torch.tensor(sorted(skeleton), dtype=gold.dtype, device=gold.device))
    right = (logits.argmax(-1) == gold)[values]
    return loss, float(right.float().mean()) if len(right) else float("nan")


def repeat_targets(ids: torch.Tensor, targets: torch.Tensor, name_ids: torch.Tensor) -> torch.Tensor:
    """Targets (-100 elsewhere) at every haystack position whose token is a name part already seen earlier in the
    row (a person named again in their biography, or in the question), before the first answer."""
    out = torch.full_like(ids, -100)
    is_name = torch.isin(ids, name_ids)
    for row in range(ids.shape[0]):
        answers = (targets[row] != -100).nonzero()
        end = int(answers[0]) if len(answers) else ids.shape[1] - 1
        seq = ids[row, : end + 1]
        where = torch.arange(len(seq))
        _, which = torch.unique(seq, return_inverse=True)
        first = torch.full((int(which.max()) + 1,), len(seq)).scatter_reduce(0, which, where, "amin")
        again = where[is_name[row, : end + 1] & (where > first[which]) & (where > 0)]
        out[row, again - 1] = seq[again]
    return out


def build_model(vocab_size: int, cfg: dict, native_context: int, special: dict[str, int],
                seed: int) -> LlamaForCausalLM:
    """A randomly initialised Llama (tied embeddings) of ``cfg``'s shape, seeded."""
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=cfg["hidden_size"], num_hidden_layers=cfg["num_layers"],
        num_attention_heads=cfg["num_heads"], num_key_value_heads=cfg["num_heads"],
        intermediate_size=cfg["intermediate_size"], max_position_embeddings=native_context,
        tie_word_embeddings=True, dtype="float32", **special)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def lead_share_at(step: int, cfg: dict) -> float:
    """Curriculum: the share of batches of first sentences only falls from 1 to ``lead_share`` over the ramp."""
    ramp = max(1, int(cfg["curriculum"] * cfg["steps"]))
    return max(cfg["lead_share"], 1.0 - step / ramp)


def max_length_at(step: int, cfg: dict, native_context: int) -> int:
    """Curriculum: the longest haystack at ``step`` grows linearly from ``min_length`` to the native context over
    the first ``curriculum`` share of the steps."""
    ramp = max(1, int(cfg["curriculum"] * cfg["steps"]))
    low = cfg["min_length"]
    return int(low + (native_context - low) * min(1.0, step / ramp))


class Batches(torch.utils.data.Dataset):
    """The training batch of every step: a function of the step alone (seeded by it), so batches can be made
    in worker processes, in any number, with the same bytes as in the training process."""

    def __init__(self, examples: Examples, cfg: dict, native_context: int, seed: int, tag: str = "tiny-base"):
        self.examples, self.cfg, self.native_context, self.seed, self.tag = examples, cfg, native_context, seed, tag
        self.pad = examples.tokenizer.pad_token_id
        self.keys = key_tokens(examples.tokenizer)
        self.names = name_token_ids(examples.tokenizer, examples.names)

    def __len__(self) -> int:
        return self.cfg["steps"]

    def __getitem__(self, step: int) -> dict[str, Any]:
        cfg = self.cfg
        rng = random.Random(f"{self.seed}:{self.tag}:{step}")
        length = rng.randint(cfg["min_length"], max_length_at(step, cfg, self.native_context))
        lead_only = rng.random() < lead_share_at(step, cfg)
        ids, targets = batch_of([self.examples.make(rng, length, cfg["questions"], lead_only)
                                 for _ in range(cfg["batch_size"])], self.pad)
        repeats = repeat_targets(ids, targets, self.names) if cfg["repeat_weight"] else None
        targets = thin_skeleton(targets, self.keys, cfg["skeleton_share"], torch.Generator().manual_seed(step))
        return {"step": step, "ids": ids, "targets": targets, "repeats": repeats, "length": length,
                "lead_only": lead_only}


def device_of(cfg: dict) -> torch.device:
    """``cfg["device"]``: ``auto`` is the GPU where there is one, else the CPU."""
    name = cfg.get("device", OPTIONAL["device"])
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("model.pretrain.device: cuda, but torch sees no GPU here (use auto or cpu)")
    return torch.device(name)


def workers_of(cfg: dict, device: torch.device) -> int:
    """``cfg["workers"]``: ``auto`` is every core this process may use but one beside a GPU (batch making is then
    the bottleneck), none on the CPU (the training process uses the cores). The cores are the process's own (a
    scheduler's allocation), not the machine's."""
    workers = cfg.get("workers", OPTIONAL["workers"])
    if workers == "auto":
        workers = max(0, len(os.sched_getaffinity(0)) - 1) if device.type == "cuda" else 0
    return int(workers)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def train(model: LlamaForCausalLM, examples: Examples, valid: list[Example], cfg: dict,
          native_context: int, seed: int, ckpt: Path, fingerprint: str, tag: str = "tiny-base") -> list[dict]:
    """The tiny base's recipe of :func:`needlework.training.loop.train`: answer loss on seeded batches (``tag``
    names the phase in their seeds), 3% warmup and a cosine to a tenth of the learning rate, validation every
    ``eval_every`` steps; checkpoints to ``ckpt``. Returns the metrics rows (step, loss, answer-token accuracy,
    validation)."""
    device = device_of(cfg)
    model.to(device)
    skeleton = skeleton_of(valid)
    workers = workers_of(cfg, device)

    def batches(start: int, stop: int) -> torch.utils.data.DataLoader:
        log.info("training on %s, batches made by %d worker processes", device, workers)
        if workers:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the tokenizer runs in the forked workers
        return torch.utils.data.DataLoader(
            Batches(examples, cfg, native_context, seed, tag), batch_size=None, sampler=range(start, stop),
            num_workers=workers, prefetch_factor=8 if workers else None,
            worker_init_fn=_one_thread if workers else None, pin_memory=device.type == "cuda")

    def step_loss(batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        repeats = None if batch["repeats"] is None else batch["repeats"].to(device)
        loss, acc = answer_loss(model, batch["ids"].to(device), batch["targets"].to(device), skeleton, repeats,
                                cfg["repeat_weight"], cfg["autocast"])
        return loss, {"loss": round(float(loss.detach()), 4), "value_acc": round(acc, 4), "length": batch["length"],
                      "lead_only": batch["lead_only"]}

    steps = cfg["steps"]
    schedule = loop.warmup_cosine(steps, warmup=max(1, int(0.03 * steps)), floor=0.1)
    return loop.train(model, batches, step_loss, steps=steps, learning_rate=cfg["learning_rate"],
                      weight_decay=cfg["weight_decay"], schedule=schedule, checkpoint=ckpt, fingerprint=fingerprint,
                      checkpoint_minutes=cfg["checkpoint_minutes"], stop=cfg.get("stop_at"),
                      evaluate=lambda: validate(model, valid, examples.tokenizer.pad_token_id),
                      eval_every=cfg["eval_every"], desc="tiny base")


def name_token_ids(tokenizer: Any, names: tuple[list[str], list[str]]) -> torch.Tensor:
    """Token ids of every name part (with its leading space) that is a single token."""
    ids = tokenizer([" " + n for n in [*names[0], *names[1]]], add_special_tokens=False)["input_ids"]
    return torch.tensor(sorted({i[0] for i in ids if len(i) == 1}))


def key_tokens(tokenizer: Any) -> torch.Tensor:
    """Ids of the JSON keys and punctuation of a label: what every answer repeats, whatever the person."""
    from needlework.labels.schema import Label

    tokens = tokenizer.tokenize(Label().to_json())
    values = {"unknown", "Ġ0", "Ġfalse"}  # the default label's values (byte-level spelling)
    return torch.tensor(sorted(set(tokenizer.convert_tokens_to_ids([t for t in tokens if t not in values]))))


def thin_skeleton(targets: torch.Tensor, keys: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Keep only ``share`` of the JSON-key targets (they are learned at once; the output head over the whole
    vocabulary is most of a step's cost), every value target."""
    drop = torch.isin(targets, keys) & (torch.rand(targets.shape, generator=generator) >= share)
    return targets.masked_fill(drop, -100)


def skeleton_of(examples: list[Example]) -> frozenset[int]:
    """Answer tokens common to every example (JSON keys and punctuation): not evidence of reading the needle."""
    answers = [ids[start:end] for ids, spans in examples for start, end in spans]
    return frozenset(set(answers[0]).intersection(*answers[1:]))


@torch.no_grad()
def validate(model: LlamaForCausalLM, valid: list[Example], pad: int) -> dict[str, float]:
    """Teacher-forced answer loss and value-token accuracy (JSON skeleton excluded) on held-out examples."""
    model.eval()
    skeleton = skeleton_of(valid)
    losses, accs = [], []
    device = next(model.parameters()).device
    for start in range(0, len(valid), 8):
        ids, targets = batch_of(valid[start : start + 8], pad)
        loss, acc = answer_loss(model, ids.to(device), targets.to(device), skeleton)
        losses.append(float(loss))
        accs.append(acc)
    return {"valid_loss": round(sum(losses) / len(losses), 4), "valid_value_acc": round(sum(accs) / len(accs), 4)}


def labelled_bios(corpus: list[dict], labels: dict[str, str], exclude: set[str]) -> list[dict]:
    """Corpus biographies with their label JSON, minus ``exclude`` (the evaluation needles)."""
    return [{"id": r["id"], "name": r["name"], "text": r["text"], "label": labels[r["id"]]}
            for r in corpus if r["id"] not in exclude and r["id"] in labels]


def corpus_labels(corpus: list[dict]) -> dict[str, str]:
    """Id -> label JSON of every corpus record the infobox labeler can read."""
    from needlework.labels.infobox import label_needles

    return {row["id"]: json.dumps(row["label"], ensure_ascii=False)
            for row in label_needles([r for r in corpus if r.get("infobox")]) if not row.get("error")}


def prepare(corpus: list[dict], eval_ids: set[str], cfg: dict, native_context: int, seed: int,
            extra: list[dict] = ()) -> dict[str, Any]:
    """Everything training needs, deterministically: tokenizer (of the corpus), fresh model, training examples
    (the corpus's and ``extra``'s), validation set (the corpus's)."""
    from needlework.tokenizer import train_word_tokenizer

    labels = corpus_labels(corpus)
    bios = labelled_bios(corpus, labels, eval_ids)
    random.Random(f"{seed}:tiny-base:split").shuffle(bios)
    valid_bios, train_bios = bios[: cfg["valid_bios"]], bios[cfg["valid_bios"] :]
    texts = [r["text"] for r in corpus if r["id"] not in eval_ids] + [b["label"] for b in train_bios]
    train_bios += labelled_bios(extra, corpus_labels(extra), set())
    names = name_parts()
    tokenizer = train_word_tokenizer(texts, cfg["bpe_vocab_size"], words=[*names[0], *names[1]],
                                     min_count=cfg["min_word_count"])
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id}
    model = build_model(len(tokenizer), cfg, native_context, special, seed)
    vrng = random.Random(f"{seed}:tiny-base:valid")
    valid = [Examples(tokenizer, valid_bios, names).make(vrng, vrng.randint(native_context // 2, native_context))
             for _ in range(cfg["valid_examples"])]
    schedule = {k: v for k, v in cfg.items() if k not in NOT_IN_FINGERPRINT}
    fingerprint = config_fingerprint(schedule, native_context, seed, len(tokenizer), sorted(eval_ids), len(bios))
    return {"tokenizer": tokenizer, "model": model, "examples": Examples(tokenizer, train_bios, names),
            "valid": valid, "fingerprint": fingerprint, "train_bios": len(train_bios), "valid_bios": len(valid_bios)}


def train_tiny_base(corpus: list[dict], eval_ids: set[str], cfg: dict, native_context: int, seed: int,
                    out_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Tokenizer + model trained from scratch on the corpus without ``eval_ids`` (and on ``extra_bios`` more
    biographies, training examples only), then on from those weights with ``second_phase``'s settings if there are
    any; saved (safetensors, tokenizer, ``training.json`` with the metrics of both phases, :data:`MANIFEST`) to
    ``out_dir``. ``work_dir`` holds the checkpoints and the finished first phase (``phase-1/``)."""
    first = {k: v for k, v in cfg.items() if k != "second_phase"}
    second = cfg.get("second_phase")
    if not second:
        return _phase(corpus, eval_ids, first, native_context, seed, out_dir, work_dir)
    done = Path(work_dir) / "phase-1"
    if not (done / MANIFEST).is_file():
        _phase(corpus, eval_ids, first, native_context, seed, done, work_dir)
    return _phase(corpus, eval_ids, {**first, **second}, native_context, seed, out_dir, work_dir, init=done,
                  record=cfg)


def _phase(corpus: list[dict], eval_ids: set[str], cfg: dict, native_context: int, seed: int, out_dir: Path,
           work_dir: Path, init: Path | None = None, record: dict | None = None) -> dict[str, Any]:
    """One phase of :func:`train_tiny_base`: from a fresh model, or from the finished phase in ``init`` (its
    weights; its metrics come first in ``training.json``, the new rows numbered on from its last step)."""
    torch.set_num_threads(cfg["threads"])
    run = prepare(corpus, eval_ids, cfg, native_context, seed, extra_bios(cfg.get("extra_bios", 0), seed))
    before: dict[str, Any] = {}
    if init is not None:
        run["model"], before = _finished_phase(init, run)
        run["fingerprint"] += ":" + before["weights"]
    model = run["model"]
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    log.info("tiny base%s: %d params, vocab %d, %d training / %d validation biographies",
             " (second phase)" if init else "", model.num_parameters(), len(run["tokenizer"]), run["train_bios"],
             run["valid_bios"])
    tag = "tiny-base-2" if init else "tiny-base"
    rows = train(model, run["examples"], run["valid"], cfg, native_context, seed,
                 Path(work_dir) / (f"{tag}-{CHECKPOINT}" if init else CHECKPOINT), run["fingerprint"], tag)
    if init is not None:
        offset = before["rows"][-1]["step"] if before["rows"] else 0
        rows = before["rows"] + [{**r, "step": r["step"] + offset, "phase": 2} for r in rows]
    return save(run, rows, cfg, native_context, seed, out_dir, before.get("summary"), record)


def _finished_phase(model_dir: Path, run: dict[str, Any]) -> tuple[LlamaForCausalLM, dict[str, Any]]:
    """The model of a finished first phase, its metrics and summary, checked to be this corpus's tokenizer."""
    recorded = json.loads((Path(model_dir) / "training.json").read_text(encoding="utf-8"))
    if AutoTokenizer.from_pretrained(str(model_dir)).get_vocab() != run["tokenizer"].get_vocab():
        raise InputError(f"{model_dir}: the first phase's tokenizer is not the one this corpus trains "
                         f"(model.pretrain.second_phase continues a model of this corpus only)")
    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    summary = {k: recorded[k] for k in ("final", "config", "device", "versions") if k in recorded}
    summary["steps"] = len(recorded["metrics"])
    return model, {"rows": recorded["metrics"], "summary": summary, "weights": read_manifest(model_dir)[
        "model.safetensors"][:16]}


def save(run: dict[str, Any], rows: list[dict], cfg: dict, native_context: int, seed: int,
         out_dir: Path, first_phase: dict | None = None, record: dict | None = None) -> dict[str, Any]:
    """Write the model (float16 safetensors), tokenizer, ``training.json`` and :data:`MANIFEST` to ``out_dir``
    (``cfg``: the settings this phase ran with; ``record``: the settings recorded, ``cfg`` if None;
    ``first_phase``: the summary of the phase this one continued)."""
    model = run["model"]
    summary = {"parameters": model.num_parameters(), "vocab_size": len(run["tokenizer"]),
               "train_bios": run["train_bios"], "valid_bios": run["valid_bios"], "steps": len(rows),
               "final": rows[-1] if rows else {}, "config": record or cfg, "native_context": native_context,
               "seed": seed,
               "device": torch.cuda.get_device_name() if device_of(cfg).type == "cuda" else "cpu",
               "versions": {lib.__name__: lib.__version__ for lib in (torch, transformers, tokenizers)}}
    if first_phase:
        summary["first_phase"] = first_phase
    model.cpu()
    with atomic_path(out_dir) as tmp:
        model.half().save_pretrained(tmp)  # float16 on disk (half the size); evaluation loads it as float32
        model.float()
        run["tokenizer"].save_pretrained(tmp)
        write_json(Path(tmp) / "training.json", {**summary, "metrics": rows})
        write_manifest(Path(tmp))
    return summary


def file_hashes(model_dir: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file of a model directory but the manifest itself."""
    return {str(p.relative_to(model_dir)): file_sha256(p)
            for p in sorted(Path(model_dir).rglob("*")) if p.is_file() and p.name != MANIFEST}


def write_manifest(model_dir: Path) -> None:
    """Record the hash of every file (``sha256sum -c`` format) in :data:`MANIFEST`."""
    lines = [f"{digest}  {name}\n" for name, digest in file_hashes(model_dir).items()]
    (Path(model_dir) / MANIFEST).write_text("".join(lines), encoding="utf-8")


def read_manifest(model_dir: Path) -> dict[str, str]:
    """Relative path -> recorded SHA-256, from :data:`MANIFEST`."""
    rows = (line.split("  ", 1) for line in (Path(model_dir) / MANIFEST).read_text(encoding="utf-8").splitlines())
    return {name: digest for digest, name in rows}


def build_from_files(corpus_jsonl: str | Path, needles_jsonl: str | Path, model_cfg: dict, seed: int,
                     out_dir: str | Path, work_dir: str | Path) -> dict[str, Any]:
    """:func:`train_tiny_base` on a corpus file, holding out every needle of ``needles_jsonl`` (training and
    evaluation split: the base never saw a biography the experiment asks about or fine-tunes on)."""
    from needlework.io import read_jsonl

    needles = {r["id"] for r in read_jsonl(needles_jsonl)}
    corpus = list(read_jsonl(corpus_jsonl))
    cfg = model_cfg["pretrain"]
    return train_tiny_base(corpus, needles, cfg, model_cfg["native_context"], seed, Path(out_dir), Path(work_dir))


EXTRA_SEED = 1_000_003  # added to the experiment's seed: the extra biographies are never the corpus's own


def extra_bios(n: int, seed: int) -> list[dict]:
    """``n`` more synthetic biographies (anonymized, persons only) for training only: more distinct biographies
    than the experiment's corpus, so that the base learns to read them rather than memorise them. Ids are
    prefixed ``pretrain-`` (never an id of the corpus)."""
    if not n:
        return []
    from needlework.corpus.build import build_corpus

    records, *_ = build_corpus({"source": "synthetic", "n": n, "non_person_rate": 0.0, "anonymize": True,
                                "max_bad_share": 0.05}, seed=seed + EXTRA_SEED)
    return [{**r, "id": f"pretrain-{r['id']}"} for r in records]


def grid_predictions(model_cfg: dict, records: list[dict], *, adapter_dir: str | Path | None = None,
                     rope: dict | None = None, batch_size: int = 8, max_new_tokens: int = 160) -> list[dict]:
    """Prediction records of ``model_cfg``'s model (optionally RoPE-scaled or with an adapter) answering the
    evaluation haystack ``records``: the evaluation's own backend and prompts, without its caching and tracking."""
    from needlework.evaluate.grid import prediction_record, request_of
    from needlework.evaluate.hf_backend import HFBackend
    from needlework.models import load_model, load_tokenizer

    model = load_model(model_cfg, adapter_dir=adapter_dir, rope_scaling=rope)
    backend = HFBackend(model, load_tokenizer(model_cfg), batch_size=batch_size, max_new_tokens=max_new_tokens)
    by_id = {r["id"]: r for r in records}
    results = backend.generate([request_of(r) for r in records])
    return sorted((prediction_record(by_id[res["id"]], res) for res in results), key=lambda p: p["id"])


def grid_cells(model_cfg: dict, records: list[dict], name: str, scoring: str = "leaves", **kwargs: Any) -> Any:
    """The cells table (the evaluation's scorer, ``eval.scoring``) of :func:`grid_predictions`."""
    from needlework.evaluate.scoring import cells

    return cells(grid_predictions(model_cfg, records, **kwargs), name, scoring)
