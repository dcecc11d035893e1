"""Haystack assembly: token budget, needle placement, depth, special tokens, namesakes, determinism, export."""
import copy
import json
from collections import Counter

import pytest
from datasets import load_from_disk
from faker import Faker
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from needlework.longctx.haystack import DEPTH, MAX_SHORTFALL, QUESTION, SEPARATOR, SYSTEM_PROMPT, build_eval, build_train
from needlework.longctx.export import export_split
from needlework.io import InputError
from needlework.tokenizer import train_tokenizer

LENGTHS = [256, 512]
DEPTHS = [0.0, 25.0, 50.0, 75.0, 100.0]
# Llama-2 style: no system turn of its own, the system prompt is folded into the first [INST] as plain text.
LLAMA2_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set turns = messages[1:] %}{% else %}{% set turns = messages %}{% endif %}"
    "{% for m in turns %}{% if m['role'] == 'user' %}[INST] {% if loop.first and system is defined %}"
    "<<SYS>>\n{{ system }}\n<</SYS>>\n\n{% endif %}{{ m['content'] }} [/INST]"
    "{% else %} {{ m['content'] }} {{ eos_token }}{% endif %}{% endfor %}"
)


def _bios(n=240, seed=0):
    fake = Faker()
    fake.seed_instance(seed)
    bios, names = [], set()
    while len(bios) < n:
        name = fake.name().lower()
        if name in names:
            continue
        names.add(name)
        i = len(bios)
        text = (f"{name} ( born {fake.date()} ) is a {fake.country().lower()} {fake.job().lower()} . "
                + fake.paragraph(fake.random_int(2, 9)).lower())
        label = {"nationality": "swedish", "date_of_birth": {"day": 1 + i % 28, "month": 3, "year": 1950},
                 "sportsperson": i % 2 == 0}
        bios.append({"id": f"synthetic-{i}", "name": name, "text": text, "label": label})
    return bios


BIOS = _bios()
NEEDLES, POOL = BIOS[:8], BIOS[8:]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([bio["text"] for bio in BIOS], vocab_size=1024)


@pytest.fixture(scope="module")
def grid(tok):
    # eval pools hold every bio, needles included: a needle must never show up as its own distractor
    return build_eval(NEEDLES, BIOS, tok, LENGTHS, DEPTHS, per_cell=3, seed=7)


@pytest.fixture(scope="module")
def train(tok):
    return build_train(NEEDLES, POOL, tok, LENGTHS, n_per_length=10, seed=7)


def _pieces(record):
    """The user content's biographies (question dropped), and the index of the needle among them."""
    needle = next(bio for bio in BIOS if bio["id"] == record["needle_id"])
    pieces = record["messages"][1]["content"].split(SEPARATOR)
    assert pieces[-1] == QUESTION.format(name=needle["name"])
    pieces = pieces[:-1]
    return needle, pieces, pieces.index(needle["text"])


def _prompt_ids(tok, record):
    return tok.apply_chat_template(record["messages"][:2], add_generation_prompt=True, return_dict=False)


def test_every_prompt_fits_its_context_length(tok, grid, train):
    for record in grid + train:
        n = len(_prompt_ids(tok, record))
        assert n == record["n_tokens"]
        assert record["context_length"] - MAX_SHORTFALL <= n <= record["context_length"], record["id"]
    asked = Counter(r["context_length"] for r in grid + grid.dropped)
    assert asked == {256: 15, 512: 15} and Counter(r["context_length"] for r in train) == {256: 10, 512: 10}
    # only a depth a short context cannot honour loses a record, and it is listed
    assert {(r["context_length"], r["reason"]) for r in grid.dropped} <= {(256, DEPTH)} and not train.dropped


def test_messages_follow_the_contract(grid):
    record = grid[0]
    assert set(record) == {"id", "needle_id", "context_length", "depth", "actual_depth", "n_tokens", "messages"}
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    assert record["messages"][0]["content"] == SYSTEM_PROMPT
    answer = json.loads(record["messages"][2]["content"])
    assert answer["nationality"] == "swedish" and answer["date_of_death"] == {"day": 0, "month": 0, "year": 0}
    assert len({r["id"] for r in grid}) == len(grid)


def test_needle_is_one_whole_biography_and_never_its_own_distractor(grid, train):
    for record in grid + train:
        needle, pieces, _ = _pieces(record)
        assert pieces.count(needle["text"]) == 1
        others = [p for p in pieces if p != needle["text"]]
        assert others, record["id"]
        assert not any(needle["name"] in p for p in others), record["id"]


def test_at_most_one_distractor_is_cut_at_a_word_boundary_next_to_the_needle_or_last(grid, train):
    texts = {bio["text"] for bio in BIOS}
    for record in grid + train:
        needle, pieces, at = _pieces(record)
        cut = [i for i, p in enumerate(pieces) if i != at and p not in texts]
        assert len(cut) <= 1 and set(cut) <= {at - 1, len(pieces) - 1}, record["id"]
        assert all(any(t.startswith(pieces[i] + " ") for t in texts) for i in cut), record["id"]


def test_namesake_distractors_are_skipped(tok):
    needle = NEEDLES[0]
    twins = [{"id": f"twin-{i}", "name": needle["name"].upper() + " " * (i % 2), "text": f"{needle['name']} ( born "
              f"{1900 + i} ) is a poet who wrote {i} books ."} for i in range(30)]
    records = build_eval([needle], twins + POOL[:12], tok, [512], [50.0], per_cell=4, seed=1)
    for record in records:
        assert not any(twin["text"] in record["messages"][1]["content"] for twin in twins)


def test_a_copy_of_the_needle_under_another_id_is_never_its_distractor(tok):
    # a published file's duplicate records: the same biography again, re-spaced or re-cased, under its own id
    needle = NEEDLES[0]
    copies = [{"id": f"copy-{i}", "name": f"{needle['name']} {i}",
               "text": needle["text"].upper() if i % 2 else needle["text"].replace(" ", "  ")} for i in range(30)]
    records = build_train([needle], copies + POOL[:12], tok, [512], n_per_length=4, seed=1)
    for record in records:
        assert record["messages"][1]["content"].casefold().count(needle["text"].casefold()) <= 1
        assert needle["text"].replace(" ", "  ") not in record["messages"][1]["content"]


def test_actual_depth_is_near_the_requested_depth(tok, grid, train):
    sep = len(tok(SEPARATOR, add_special_tokens=False)["input_ids"])
    for record in grid + train:
        needle, pieces, at = _pieces(record)
        counts = [len(tok(p, add_special_tokens=False)["input_ids"]) + sep for p in pieces if p != needle["text"]]
        before, total = sum(counts[:at]), sum(counts)
        assert record["actual_depth"] == pytest.approx(100 * before / total, abs=0.01)
        one_bio = 100 * max(counts) / total
        assert abs(record["actual_depth"] - record["depth"]) <= one_bio, record["id"]
    assert {r["actual_depth"] for r in grid if r["depth"] == 0.0} == {0.0}
    assert {r["actual_depth"] for r in grid if r["depth"] == 100.0} == {100.0}


def test_no_special_token_inside_the_context(tok, grid):
    special = set(tok.all_special_ids)
    for record in grid:
        assert special.isdisjoint(tok(record["messages"][1]["content"], add_special_tokens=False)["input_ids"])
        ids = _prompt_ids(tok, record)
        assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1


def test_eval_cells_spread_the_needles_in_distinct_prompts_at_their_own_depth(grid, tok):
    cells = {}
    for record in grid + grid.dropped:
        cells.setdefault((record["context_length"], record["depth"]), []).append(record)
    assert len(cells) == len(LENGTHS) * len(DEPTHS)
    assert all(len({r["needle_id"] for r in records}) == 3 for records in cells.values())  # per_cell distinct
    for length in LENGTHS:  # 5 cells of 3 at a length cover all 8 needles, each at another depth per length
        assert {r["needle_id"] for r in grid + grid.dropped if r["context_length"] == length} == {
            n["id"] for n in NEEDLES}
    same = build_eval(NEEDLES, BIOS, tok, [256], DEPTHS, per_cell=len(NEEDLES), seed=7)  # all needles per cell
    assert len({frozenset(r["needle_id"] for r in same + same.dropped if r["depth"] == d) for d in DEPTHS}) == 1
    assert len({r["messages"][1]["content"] for r in grid}) == len(grid)
    for record in grid:  # the cell a record is in is the grid depth nearest where its needle sits
        assert min(DEPTHS, key=lambda d: (abs(d - record["actual_depth"]), d != record["depth"])) == record["depth"]


def test_train_cycles_through_needles_at_random_depths(train):
    uses = Counter(r["needle_id"] for r in train)  # 20 records over 8 needles, cycling across lengths
    assert set(uses) == {n["id"] for n in NEEDLES} and sorted(uses.values()) == [2] * 4 + [3] * 4
    depths = [r["depth"] for r in train]
    assert all(0.0 <= d <= 100.0 for d in depths) and len(set(depths)) == len(depths)


def test_builds_are_deterministic_and_seeded(tok, grid, train, tmp_path):
    export_split(train, "train", tmp_path / "a")
    export_split(grid, "eval", tmp_path / "a")
    again_train = build_train(NEEDLES, list(reversed(POOL)), tok, LENGTHS, n_per_length=10, seed=7)
    again_grid = build_eval(list(reversed(NEEDLES)), BIOS, tok, LENGTHS, DEPTHS, per_cell=3, seed=7)
    export_split(again_train, "train", tmp_path / "b")
    export_split(again_grid, "eval", tmp_path / "b")
    for name in ("train.jsonl", "eval.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = build_train(NEEDLES, POOL, tok, LENGTHS, n_per_length=10, seed=8)
    assert other != train


def test_export_writes_jsonl_dataset_stats_and_plot(grid, train, tmp_path):
    out = tmp_path / "out"
    summary = export_split(grid, "eval", out)
    lines = (out / "eval.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == grid
    assert (out / "audit" / "dropped.jsonl").read_text() == ""
    dataset = load_from_disk(str(out / "dataset"))
    assert dataset["eval"].num_rows == len(grid)
    assert dataset["eval"][0]["messages"] == grid[0]["messages"]
    assert (out / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "stats.json").read_text()) == summary
    assert summary["eval_n"] == len(grid) and summary["eval_dropped"] == 0
    assert export_split(train, "train", tmp_path / "train")["train_needles"] == len(NEEDLES)
    assert 256 - MAX_SHORTFALL <= summary["eval_n_tokens_min"] <= summary["eval_n_tokens_max"] <= 512
    assert summary["eval_fill_min"] >= 1 - MAX_SHORTFALL / 256
    assert not list(out.glob(".*")), "no temporary leftovers"


def test_export_split_writes_one_split(grid, tmp_path):
    summary = export_split(grid, "eval", tmp_path / "eval")
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == [
        "audit", "dataset", "eval.jsonl", "stats.json", "stats.png"]
    assert list(load_from_disk(str(tmp_path / "eval" / "dataset"))) == ["eval"]
    assert summary["eval_n"] == len(grid) and "train_n" not in summary


def test_export_of_an_empty_split_loads_back(tmp_path):
    summary = export_split([], "train", tmp_path / "out")  # e.g. context.train_examples=0
    dataset = load_from_disk(str(tmp_path / "out" / "dataset"))
    assert dataset["train"].num_rows == 0
    assert (tmp_path / "out" / "train.jsonl").read_bytes() == b""
    assert summary == {"train_n": 0, "train_dropped": 0}
    assert (tmp_path / "out" / "stats.png").read_bytes()[:4] == b"\x89PNG"


def test_too_short_context_is_refused(tok):
    with pytest.raises(InputError, match="context length 64 is too short for needle"):
        build_eval(NEEDLES, POOL, tok, [64], [50.0], per_cell=1, seed=0)


def test_too_small_pool_is_refused(tok):
    with pytest.raises(InputError, match="pool .* too small"):
        build_train(NEEDLES, POOL[:2], tok, [1024], n_per_length=1, seed=0)


def test_bad_grid_settings_are_refused(tok):
    with pytest.raises(InputError, match="depths"):
        build_eval(NEEDLES, POOL, tok, [256], [150.0], per_cell=1, seed=0)
    with pytest.raises(InputError, match="lengths"):
        build_train(NEEDLES, POOL, tok, [], n_per_length=1, seed=0)


def test_bad_inputs_name_the_record(tok):
    bad_label = [{**NEEDLES[0], "label": {"nationality": "x", "date_of_birth": {"month": 13}}}]
    with pytest.raises(InputError, match="synthetic-0.*label"):
        build_eval(bad_label, POOL, tok, [256], [0.0], per_cell=1, seed=0)
    sneaky = [{**bio, "text": bio["text"] + " <|end|>"} for bio in POOL]
    with pytest.raises(InputError, match="special token"):
        build_eval(NEEDLES, sneaky, tok, [256], [0.0], per_cell=1, seed=0)
    with pytest.raises(InputError, match=r"pool\[0\].*text"):
        build_eval(NEEDLES, [{"id": "x", "name": "y"}], tok, [256], [0.0], per_cell=1, seed=0)


def _sentencepiece_like():
    """A Unigram/Metaspace tokenizer (merges across spaces and newlines) with a Llama-2 style template."""
    backend = Tokenizer(models.Unigram())
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=800, special_tokens=["<s>", "</s>", "<unk>"], unk_token="<unk>",
                                      show_progress=False)
    chat = f"[INST] <<SYS>>\n{SYSTEM_PROMPT}\n<</SYS>>\n\n{{}} [/INST]"
    backend.train_from_iterator([chat.format(bio["text"]) for bio in BIOS], trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.chat_template = LLAMA2_TEMPLATE
    return tok


@pytest.mark.parametrize("kind", ["llama2-template", "sentencepiece-like"])
def test_other_tokenizers_and_templates(tok, kind):
    if kind == "llama2-template":
        other = copy.deepcopy(tok)
        other.chat_template = LLAMA2_TEMPLATE
    else:
        other = _sentencepiece_like()
    records = build_eval(NEEDLES, BIOS, other, [300, 600], [0.0, 50.0, 100.0], per_cell=2, seed=3)
    for record in records:
        ids = _prompt_ids(other, record)
        assert "<<SYS>>\n" + SYSTEM_PROMPT in other.decode(ids[:40])
        assert record["context_length"] - MAX_SHORTFALL <= len(ids) == record["n_tokens"] <= record["context_length"]
        assert ids.count(other.bos_token_id) == 1 and ids[0] == other.bos_token_id
        _pieces(record)


def test_a_template_writing_bos_twice_names_the_config_key(tok):
    """A template that adds a BOS the tokenizer adds again is a user's config problem: the error says which key."""
    other = copy.deepcopy(tok)
    other.chat_template = "{{ bos_token }}" + LLAMA2_TEMPLATE
    with pytest.raises(InputError, match=r"model\.chat_template"):
        build_eval(NEEDLES, BIOS, other, [300], [50.0], per_cell=1, seed=3)
