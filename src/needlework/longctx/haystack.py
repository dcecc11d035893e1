"""Token-exact haystack assembly: a needle biography hidden among distractor biographies, as chat records.

Every biography is tokenized once (batch-encoded, token counts cached by id); a context is planned from those
counts: distractors drawn in a seeded order fill the budget (the last one cut at a word boundary, or inside a word
when stopping before it would leave more than :data:`MAX_CUT_GAP` tokens unused), and the needle
goes between them, at a biography boundary, with the distractors before it chosen (in draw order) to bring the
needle as near the requested depth as they can. The templated prompt (system + user with
``add_generation_prompt=True``, exactly what a model sees) is then tokenized once, in batches, to verify its
length. Plans aim at the middle of ``[context_length - MAX_SHORTFALL, context_length]``; one that BPE merges
across boundaries pushed outside is re-planned with the measured error, then with another distractor draw.
Works with any Hugging Face tokenizer that has a chat template.

A cut inside a word is what makes every record fittable: a space-delimited word can be dozens of tokens (a name in a
script the tokenizer writes as bytes, such as a Chinese name in a biography's lead: two or three tokens a character
for the tiny base's tokenizer; a URL), and a cut that could only stop before such a word or take it whole moved in
steps wider than the length window, so no re-plan of that draw could land in it: the failure "train-16384-00631:
could not fit the prompt into [16352, 16384] tokens in 8 attempts", reproduced on constructed biographies
(docs/haystack_fit.md).

No single record stops a build: one that no draw fits into its window, or (in the evaluation grid) whose needle
no draw can place nearer its own requested depth than any other depth of the grid (at short lengths a context
holds only a few boundaries), is dropped and listed in :attr:`Built.dropped`; the caller decides, with
:meth:`Built.check`, what share of unfittable records is too many.

Depth is in percent: ``actual_depth`` is the share of the context's tokens, the needle itself excluded, that come
before the needle's first token (0 = needle first, 100 = needle last, as in the original benchmark), counted
from the cached per-biography token counts. In the evaluation grid it always lies nearer its record's ``depth``
than any other depth of the grid: grouping by ``depth`` is grouping by the nearest grid depth of ``actual_depth``.
"""
from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from needlework.io import InputError, write_jsonl
from needlework.labels.schema import Label
from needlework.progress import progress

SYSTEM_PROMPT = "extract information about a person in JSON"
QUESTION = "Given this information, extract information about {name}."
SEPARATOR = "\n\n"  # between biographies, and between the haystack and the question
MAX_SHORTFALL = 32  # a prompt may be at most this many tokens shorter than its context length (word-boundary cut)
MAX_CUT_GAP = MAX_SHORTFALL // 4  # tokens a word-boundary cut may leave unused before it goes on inside the next word
MAX_ATTEMPTS = 4  # re-plans of one distractor draw before the next draw (one plan is almost always enough)
MAX_DRAWS = 16  # distractor draws per record before it is dropped
FIT = "fit"  # drop reason: no draw's prompt landed in [context_length - MAX_SHORTFALL, context_length]
DEPTH = "depth"  # drop reason: no draw placed the needle nearer its requested depth than any other grid depth
VERIFY_BATCH = 64  # prompts tokenized per batch call when verifying lengths
DRAW_BATCH = 32  # distractor candidates drawn (and batch-encoded if new) at a time
CALIBRATION_BIOS = 16  # biographies joined once to measure what a separator costs in context


@dataclass(frozen=True)
class _Spec:
    """What one record asks for; ``order_seed`` fixes its distractor draws; ``window`` is the range of actual
    depths that mean the requested one (in the grid: nearer it than any other grid depth)."""

    id: str
    needle: dict
    answer: str
    length: int
    depth: float
    order_seed: str
    window: tuple[float, float] = (0.0, 100.0)

    def honours(self, actual_depth: float) -> bool:
        return self.window[0] <= actual_depth <= self.window[1]


class Built(list):
    """The records of a build (a list), with ``dropped``: the records it could not make, as ``{"id", "needle_id",
    "context_length", "depth", "reason", "detail"}`` rows (reason :data:`FIT` or :data:`DEPTH`)."""

    def __init__(self, records: Sequence[dict] = ()):
        super().__init__(records)
        self.dropped: list[dict] = []

    def check(self, max_share: float, audit: str) -> None:
        """Raise :class:`InputError` naming ``context.max_drop_share`` when the records dropped because they
        could not be fitted exceed ``max_share`` of the records asked for, after writing every dropped row to
        ``audit`` (a file outside the step's outputs, which a failed step loses). Depth drops are a property of the
        grid at short lengths, not of the data: they are listed, never counted here."""
        unfit = [row for row in self.dropped if row["reason"] == FIT]
        asked = len(self) + len(self.dropped)
        if asked and len(unfit) / asked > max_share:
            shown = "; ".join(f"{row['id']}: {row['detail']}" for row in unfit[:5])
            write_jsonl(audit, self.dropped)
            raise InputError(
                f"{len(unfit)} of {asked} haystacks could not be fitted to their length ({len(unfit) / asked:.1%}, "
                f"above config key context.max_drop_share={max_share}), listed in {audit}: {shown}")


@dataclass(frozen=True)
class _Plan:
    """A planned context: ordered distractor texts (the last one possibly cut) and where the needle goes."""

    spec: _Spec
    distractors: list[str]
    needle_at: int
    actual_depth: float

    def prompt(self) -> list[dict]:
        """System and user messages: what the model sees before answering."""
        pieces = [*self.distractors[: self.needle_at], self.spec.needle["text"], *self.distractors[self.needle_at :]]
        question = QUESTION.format(name=self.spec.needle["name"])
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": SEPARATOR.join(pieces) + SEPARATOR + question},
        ]


def build_train(
    needles: Sequence[dict], pool: Sequence[dict], tokenizer, lengths: list[int], n_per_length: int, seed: int
) -> Built:
    """Training haystacks: per length, ``n_per_length`` records, each a needle at a uniformly random depth.

    Needles are taken in a seeded order, cycling through all of them (continuing across lengths).
    """
    _check_positive(lengths, "lengths")
    if n_per_length < 0:
        raise InputError(f"n_per_length must be >= 0, got {n_per_length}")
    order = _needle_order(needles, random.Random(f"{seed}:train:needles"))
    depth_rng = random.Random(f"{seed}:train:depths")
    specs = []
    for length in lengths:
        for i in range(n_per_length):
            needle, answer = order[len(specs) % len(order)]
            specs.append(
                _Spec(
                    id=f"train-{length}-{i:05d}",
                    needle=needle,
                    answer=answer,
                    length=length,
                    depth=round(depth_rng.uniform(0.0, 100.0), 2),
                    order_seed=f"{seed}:train:{length}:{i}",
                )
            )
    return _Assembler(tokenizer, pool).build(specs, desc="haystacks: train")


def build_eval(
    needles: Sequence[dict],
    pool: Sequence[dict],
    tokenizer,
    lengths: list[int],
    depths: list[float],
    per_cell: int,
    seed: int,
) -> Built:
    """Evaluation grid: lengths x depths (percent) x ``per_cell`` records.

    A cell holds ``per_cell`` needles of a seeded order (all of them in every cell when ``per_cell`` equals their
    number; else consecutive runs, so a length spreads the needles over its depths); a record's distractors are drawn for its (length, depth, needle, replicate), so no two prompts are the same. A
    record whose needle cannot be placed nearer its own depth than any other grid depth is dropped (reason
    :data:`DEPTH`), never moved into another cell.
    """
    _check_positive(lengths, "lengths")
    if per_cell < 1:
        raise InputError(f"per_cell must be >= 1, got {per_cell}")
    for depth in depths:
        if not 0.0 <= depth <= 100.0:
            raise InputError(f"depths are percentages in [0, 100], got {depth}")
    order = _needle_order(needles, random.Random(f"{seed}:eval:needles"))
    grid = sorted({float(depth) for depth in depths})

    def cell(length_index: int, depth_index: int) -> list:
        """The cell's needles: the next ``per_cell`` of the order, so that with more needles than a cell holds
        each length spreads them over its depths (more distinct needles per length for the same prompts), and
        each needle moves to another depth at the next length."""
        start = (length_index + depth_index) * per_cell
        return [order[(start + rep) % len(order)] for rep in range(per_cell)]

    specs = [
        _Spec(
            id=f"eval-{length}-{depth:g}-{rep:03d}",
            needle=needle,
            answer=answer,
            length=length,
            depth=float(depth),
            order_seed=f"{seed}:eval:{length}:{depth:g}:{needle['id']}:{rep}",
            window=_window(grid, float(depth)),
        )
        for li, length in enumerate(lengths)
        for di, depth in enumerate(depths)
        for rep, (needle, answer) in enumerate(cell(li, di))
    ]
    return _Assembler(tokenizer, pool).build(specs, desc="haystacks: eval")


class _Assembler:
    """Plans and verifies haystacks for one tokenizer and distractor pool, caching token counts by bio id."""

    def __init__(self, tokenizer, pool: Sequence[dict]):
        self.tokenizer = tokenizer
        self.pool = sorted(_checked_bios(pool, "pool"), key=lambda bio: bio["id"])
        self.forbidden = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
        self.counts: dict[str, int] = {}
        self.overheads: dict[str, int] = {}
        self.sep = self._join_cost()  # tokens one separator costs in context (fractional for some tokenizers)

    def build(self, specs: list[_Spec], desc: str) -> Built:
        """Plan, verify and render every spec, in order; the ones that cannot be fitted are dropped."""
        built = Built()
        with progress(total=len(specs), desc=desc, unit="record") as bar:
            for start in range(0, len(specs), VERIFY_BATCH):
                chunk = specs[start : start + VERIFY_BATCH]
                firsts = [self._honouring_plan(spec, self._budget(spec), 0) for spec in chunk]
                lengths = iter(self._prompt_lengths([plan for _, plan in firsts if plan is not None]))
                for spec, (draw, plan) in zip(chunk, firsts):
                    outcome = self._fit(spec, draw, plan, None if plan is None else next(lengths))
                    if isinstance(outcome, dict):
                        built.dropped.append(outcome)
                    else:
                        built.append(_record(*outcome))
                bar.update(len(chunk))
        return built

    def _budget(self, spec: _Spec) -> float:
        """Haystack tokens that put the prompt in the middle of its window."""
        return spec.length - MAX_SHORTFALL // 2 - self._overhead(spec.needle)

    def _honouring_plan(self, spec: _Spec, budget: float, draw: int) -> tuple[int, _Plan | None]:
        """The first draw from ``draw`` on whose plan honours the spec's depth window, and its plan (None: none)."""
        for draw in range(draw, MAX_DRAWS):
            plan = self._plan(spec, budget, draw)
            if spec.honours(plan.actual_depth):
                return draw, plan
        return MAX_DRAWS, None

    def _fit(self, spec: _Spec, draw: int, plan: _Plan | None, n_tokens: int | None) -> tuple[_Plan, int] | dict:
        """Re-plan with the measured error until the prompt length is within its window, then with the next
        draws; the settled (plan, length), or the drop row when no draw fits."""
        low, target = spec.length - MAX_SHORTFALL, spec.length - MAX_SHORTFALL // 2
        tried: list[int] = []
        while plan is not None:
            budget = self._budget(spec)
            for attempt in range(MAX_ATTEMPTS):
                if attempt:
                    budget -= n_tokens - target
                    plan = self._plan(spec, budget, draw)
                    (n_tokens,) = self._prompt_lengths([plan])
                if low <= n_tokens <= spec.length and spec.honours(plan.actual_depth):
                    return plan, n_tokens
                tried.append(n_tokens)
            draw, plan = self._honouring_plan(spec, self._budget(spec), draw + 1)
            if plan is not None:
                (n_tokens,) = self._prompt_lengths([plan])
        if tried:
            detail = f"no prompt in [{low}, {spec.length}] tokens in {len(tried)} plans (lengths {tried})"
        else:
            detail = (f"no draw places the needle within {spec.window[0]:g}..{spec.window[1]:g}% (nearer depth "
                      f"{spec.depth:g} than any other depth of the grid) at this length")
        return {"id": spec.id, "needle_id": spec.needle["id"], "context_length": spec.length, "depth": spec.depth,
                "reason": FIT if tried else DEPTH, "detail": detail}

    def _plan(self, spec: _Spec, budget: float, draw: int) -> _Plan:
        """Fill ``budget`` haystack tokens (needle and separators included) with distractors of draw ``draw``
        and place the needle."""
        needle = spec.needle
        (needle_tokens,) = self._bio_counts([needle])
        remaining = budget - needle_tokens
        if remaining < 0:
            raise InputError(
                f"context length {spec.length} is too short for needle {needle['id']}: the needle takes "
                f"{needle_tokens} tokens and the prompt around it {self._overhead(needle)}"
            )
        texts, counts = [], []
        for batch in self._candidates(spec, draw):
            for bio, count in zip(batch, self._bio_counts(batch)):
                if count + self.sep > remaining:
                    cut = self._cut(bio["text"], remaining - self.sep) if remaining > self.sep else None
                    if cut is not None:
                        texts.append(cut[0])
                        counts.append(cut[1])
                        remaining -= cut[1] + self.sep
                    return self._place(spec, texts, counts)
                texts.append(bio["text"])
                counts.append(count)
                remaining -= count + self.sep
        if remaining > MAX_SHORTFALL:
            raise InputError(
                f"{spec.id}: the distractor pool ({len(self.pool)} biographies) is too small to fill "
                f"{spec.length} tokens ({remaining:.0f} missing)"
            )
        return self._place(spec, texts, counts)

    def _place(self, spec: _Spec, texts: list[str], counts: list[int]) -> _Plan:
        """Split the distractors (in draw order) into those before the needle and those after it: each goes
        before when that brings the needle nearer the requested depth. Each group keeps the draw order, so the
        last distractor (the one possibly cut) ends its group: the haystack, or the text right before the needle."""
        costs = [count + self.sep for count in counts]
        total = sum(costs)  # the context without the needle (and one separator)
        if total == 0:
            return _Plan(spec, texts, 0, 0.0)
        target, tokens_before = spec.depth / 100.0 * total, 0.0
        before, after = [], []
        for text, cost in zip(texts, costs):
            if cost < 2 * (target - tokens_before):  # nearer the target with it than without
                before.append(text)
                tokens_before += cost
            else:
                after.append(text)
        return _Plan(spec, before + after, len(before), 100.0 * tokens_before / total)

    def _candidates(self, spec: _Spec, draw: int) -> Iterator[list[dict]]:
        """Distractors in the seeded random order of the spec's draw ``draw``, in batches; never the needle, a
        copy of it (same text up to case and spacing, under any id) or a namesake of it."""
        needle = spec.needle
        name, text = same_person_keys(needle)
        batch: list[dict] = []
        seed = spec.order_seed if draw == 0 else f"{spec.order_seed}:draw{draw}"
        for index in _random_order(random.Random(seed), len(self.pool)):
            bio = self.pool[index]
            if bio["id"] == needle["id"] or {name, text} & set(same_person_keys(bio)):
                continue
            batch.append(bio)
            if len(batch) == DRAW_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _cut(self, text: str, max_tokens: float) -> tuple[str, int] | None:
        """The longest prefix of ``text`` with at most ``max_tokens`` tokens, and its count (None: not even one
        character fits).

        Whole words first (a binary search on the number of words kept). When the next word would not fit and
        the words kept leave more than :data:`MAX_CUT_GAP` tokens unused, the prefix goes on into that word, as
        many characters as fit: a word can be dozens of tokens long (a name in a script the tokenizer splits into
        bytes, a URL), and a cut that could only stop before it would land that far below its budget, whatever
        the budget (the cause of ``could not fit the prompt into [16352, 16384] tokens in 8 attempts``).
        """
        words = text.split(" ")
        kept, best = self._longest(lambda n: " ".join(words[:n]), len(words) - 1, max_tokens)
        if max_tokens - (best[1] if best else 0) <= MAX_CUT_GAP:
            return best
        head, word = " ".join(words[:kept]) + " " if kept else "", words[kept]
        whole = len(word) - (1 if kept == len(words) - 1 else 0)  # never the whole text
        return self._longest(lambda n: head + word[:n], whole, max_tokens)[1] or best

    def _longest(self, prefix, most: int, max_tokens: float) -> tuple[int, tuple[str, int] | None]:
        """The largest ``n`` in 1..``most`` whose ``prefix(n)`` has at most ``max_tokens`` tokens, with that prefix
        and its count (a binary search: counts grow with ``n``); ``(0, None)`` when none has."""
        lo, hi, found = 1, most, (0, None)
        while lo <= hi:
            mid = (lo + hi) // 2
            text = prefix(mid)
            (count,) = self._count([text])
            if count <= max_tokens:
                found, lo = (mid, (text, count)), mid + 1
            else:
                hi = mid - 1
        return found

    def _join_cost(self) -> float:
        """Tokens that joining biographies with :data:`SEPARATOR` adds per join, measured on a sample.

        Exactly the separator's own count for byte-level BPE; SentencePiece-style tokenizers merge across the
        join (the text after a newline loses its word-start marker), which a count of the separator alone misses.
        """
        sample = self.pool[:CALIBRATION_BIOS]
        if len(sample) < 2:
            return float(self._count([SEPARATOR])[0])
        joined = self._count([SEPARATOR.join(bio["text"] for bio in sample)])[0]
        return (joined - sum(self._bio_counts(sample))) / (len(sample) - 1)

    def _bio_counts(self, bios: list[dict]) -> list[int]:
        """Token counts of biographies, encoding (in one batch) only those not seen before."""
        new = {bio["id"]: bio for bio in bios if bio["id"] not in self.counts}
        if new:
            ids = self.tokenizer([bio["text"] for bio in new.values()], add_special_tokens=False)["input_ids"]
            for bio, bio_ids in zip(new.values(), ids):
                if not self.forbidden.isdisjoint(bio_ids):
                    raise InputError(f"biography {bio['id']} contains a special token of the tokenizer")
                self.counts[bio["id"]] = len(bio_ids)
        return [self.counts[bio["id"]] for bio in bios]

    def _overhead(self, needle: dict) -> int:
        """Tokens of the prompt without the haystack (template, system prompt, separator and question).

        Also checks, once per needle, that the prompt holds special tokens only where the template puts them:
        the question is free of them and a BOS, if any, comes once and first.
        """
        if needle["id"] not in self.overheads:
            question = QUESTION.format(name=needle["name"])
            if not self.forbidden.isdisjoint(self.tokenizer(question, add_special_tokens=False)["input_ids"]):
                raise InputError(f"needle {needle['id']}: its name contains a special token of the tokenizer")
            messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": SEPARATOR + question}]
            (ids,) = self._prompt_ids([messages])
            bos = self.tokenizer.bos_token_id
            # A template that spells the BOS token out as its turn marker (SmolLM2's `<|im_start|>`) writes it once
            # per turn: system, user and the generation prompt. Any other template writes at most one, first.
            expected = 3 if self.tokenizer.bos_token in (self.tokenizer.chat_template or "") else 1
            if bos is not None and bos in ids and (ids[0] != bos or ids.count(bos) != expected):
                raise InputError(
                    f"the chat template of model {self.tokenizer.name_or_path!r} writes a BOS token {ids.count(bos)} "
                    f"times or not first (ids {ids[:8]}...); a template must write one at the start (or one per turn "
                    "when it is the turn marker): set config key model.chat_template to one that does")
            self.overheads[needle["id"]] = len(ids)
        return self.overheads[needle["id"]]

    def _prompt_lengths(self, plans: list[_Plan]) -> list[int]:
        """Token counts of the templated prompts, tokenized in one batch."""
        return [len(ids) for ids in self._prompt_ids([plan.prompt() for plan in plans])]

    def _prompt_ids(self, conversations: list[list[dict]]) -> list[list[int]]:
        """Token ids of templated prompts, exactly as a model gets them (one batch call)."""
        return self.tokenizer.apply_chat_template(
            conversations, add_generation_prompt=True, tokenize=True, return_dict=False
        )

    def _count(self, texts: list[str]) -> list[int]:
        """Token counts of plain texts (no special tokens added)."""
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]


def same_person_keys(bio: dict) -> tuple[str, str]:
    """``("name:<name>", "text:<text>")``, case-folded and whitespace-collapsed: a biography sharing either
    with a needle is a copy or a namesake of it, never its distractor."""
    return (f"name:{' '.join(bio['name'].casefold().split())}", f"text:{' '.join(bio['text'].casefold().split())}")


def _record(plan: _Plan, n_tokens: int) -> dict:
    """The haystack record [contract]: chat messages plus where the needle is and how long the prompt is."""
    spec = plan.spec
    return {
        "id": spec.id,
        "needle_id": spec.needle["id"],
        "context_length": spec.length,
        "depth": spec.depth,
        "actual_depth": round(plan.actual_depth, 2),
        "n_tokens": n_tokens,
        "messages": [*plan.prompt(), {"role": "assistant", "content": spec.answer}],
    }


def _answer(needle: dict) -> str:
    """The assistant's answer: the needle's label as canonical JSON."""
    try:
        return Label.model_validate(needle["label"]).to_json()
    except ValidationError as exc:
        raise InputError(f"needle {needle['id']}: invalid label ({exc.errors()[0]['msg']})") from None


def _window(grid: list[float], depth: float) -> tuple[float, float]:
    """Actual depths nearer ``depth`` than any other depth of the sorted ``grid`` (ties included)."""
    i = grid.index(depth)
    return ((grid[i - 1] + depth) / 2 if i else 0.0, (depth + grid[i + 1]) / 2 if i + 1 < len(grid) else 100.0)


def _random_order(rng: random.Random, n: int) -> Iterator[int]:
    """Yield ``range(n)`` in random order lazily: O(k) for the first k of a large pool."""
    seen: set[int] = set()
    while len(seen) < n // 2:
        index = rng.randrange(n)
        if index not in seen:
            seen.add(index)
            yield index
    rest = [index for index in range(n) if index not in seen]
    rng.shuffle(rest)
    yield from rest


def _needle_order(needles: Sequence[dict], rng: random.Random) -> list[tuple[dict, str]]:
    """(needle, answer) pairs sorted by needle id, then shuffled by ``rng`` (independent of the caller's order).

    Every label is validated here, before any assembly work.
    """
    order = sorted(_checked_bios(needles, "needles", label=True), key=lambda needle: needle["id"])
    if not order:
        raise InputError("needles: none given")
    rng.shuffle(order)
    return [(needle, _answer(needle)) for needle in order]


def _checked_bios(bios: Sequence[dict], what: str, label: bool = False) -> list[dict]:
    """The records, after checking they carry the keys assembly needs."""
    keys = ("id", "name", "text", "label") if label else ("id", "name", "text")
    for i, bio in enumerate(bios):
        missing = [key for key in keys if key not in bio]
        if missing:
            raise InputError(f"{what}[{i}] ({bio.get('id', 'no id')}): missing {', '.join(missing)}")
    return list(bios)


def _check_positive(lengths: list[int], key: str) -> None:
    if not lengths or any(length <= 0 for length in lengths):
        raise InputError(f"{key} must be a non-empty list of positive token counts, got {lengths}")
