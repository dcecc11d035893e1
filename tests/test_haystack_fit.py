"""Haystacks the grid can trust: distinct prompts on the default grid, records that cannot be fitted dropped and
listed (never stopping the build), the step's stop above context.max_drop_share with the audit file written."""
import random
import string

import pytest

from needlework.longctx import haystack
from needlework.config import compose
from needlework.corpus.build import build_corpus
from needlework.corpus.needles import select_needles
from needlework.longctx.haystack import DEPTH, FIT, MAX_SHORTFALL, Built, build_eval, build_train
from needlework.longctx.export import AUDIT, export_split
from needlework.io import InputError, read_jsonl
from needlework.labels.infobox import label_needles
from needlework.models import load_tokenizer
from test_haystack import BIOS, NEEDLES, POOL


@pytest.fixture(scope="module")
def tok():
    from needlework.tokenizer import train_tokenizer

    return train_tokenizer([bio["text"] for bio in BIOS], vocab_size=1024)


@pytest.fixture(scope="module")
def default_inputs():
    """The default experiment's corpus, labeled evaluation needles and distractor pool, and the tiny base's
    tokenizer."""
    cfg = compose([])
    corpus, *_ = build_corpus(cfg["data"], cfg["seed"])
    n = cfg["needles"]
    chosen, _ = select_needles(corpus, n["n_train"], n["n_eval"], n["min_words"], n["max_words"], cfg["seed"])
    by_id = {r["id"]: r for r in corpus}
    needles = [by_id[r["id"]] for r in chosen if r["split"] == "eval"]
    labels = {row["id"]: row["label"] for row in label_needles(needles) if not row.get("error")}
    needles = [dict(r, label=labels[r["id"]]) for r in needles if r["id"] in labels]
    ids = {r["id"] for r in needles}
    pool = [r for r in corpus if r["id"] not in ids]
    return cfg, needles, pool, load_tokenizer({"backend": "hf", "path": "models/tiny-base"})


def _assert_distinct_and_in_their_cells(built, depths):
    prompts = [r["messages"][1]["content"] for r in built]
    assert len(set(prompts)) == len(prompts)
    for record in built:  # grouping by depth is grouping by the grid depth nearest the actual depth
        nearest = min(depths, key=lambda d: (abs(d - record["actual_depth"]), d != record["depth"]))
        assert nearest == record["depth"], record["id"]
    assert {row["reason"] for row in built.dropped} <= {DEPTH}


def test_the_default_grid_has_no_two_equal_prompts(default_inputs):
    cfg, needles, pool, tok = default_inputs
    ctx = cfg["context"]
    built = build_eval(needles, pool, tok, ctx["lengths"], ctx["depths"], ctx["needles_per_cell"], cfg["seed"])
    _assert_distinct_and_in_their_cells(built, ctx["depths"])
    asked = len(ctx["lengths"]) * len(ctx["depths"]) * ctx["needles_per_cell"]
    assert len(built) + len(built.dropped) == asked
    assert len(built.dropped) <= 0.05 * asked  # a cell a short context cannot honour is rare, and listed


def test_short_contexts_with_a_fine_grid_drop_cells_they_cannot_honour_and_say_so(default_inputs):
    cfg, needles, pool, tok = default_inputs
    depths = [float(d) for d in range(0, 101, 10)]
    built = build_eval(needles, pool, tok, [224, 256], depths, per_cell=10, seed=cfg["seed"])
    _assert_distinct_and_in_their_cells(built, depths)
    assert built.dropped and len(built) + len(built.dropped) == 2 * 11 * 10
    row = built.dropped[0]
    assert set(row) == {"id", "needle_id", "context_length", "depth", "reason", "detail"}
    assert row["context_length"] in (224, 256) and "nearer depth" in row["detail"]
    # the first and last boundaries always exist: depth 0 and 100 are never dropped
    assert not [r for r in built.dropped if r["depth"] in (0.0, 100.0)]


def _coarse(bio, rng):
    """The biography with one unbroken 'word' of ~150 random letters (dozens of tokens) in its middle: a cut
    inside it can only land far from the budget, as with a long unbroken string in a real file."""
    words = bio["text"].split(" ")
    blob = "".join(rng.choice(string.ascii_lowercase) for _ in range(150))
    return dict(bio, id=bio["id"] + "-coarse", text=" ".join(words[:3] + [blob] + words[3:]))


def _word_cuts_only(monkeypatch):
    """The assembler as it was before cuts could go inside a word: distractors cut at word boundaries only."""
    monkeypatch.setattr(haystack, "MAX_CUT_GAP", float("inf"))


# Chinese characters: one to three byte-level tokens each for the tiny base's tokenizer, never a space between them.
HANZI = "张王李赵刘陈杨黄周吴徐孙马朱胡林郭何高罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢"


def _native_name(bio, rng):
    """The biography with a Chinese name of 17 characters in its lead, as wiki_bio writes native names
    ("name ( chinese : ... ; born ... )"): one word of about fifty tokens for the tiny base's tokenizer."""
    name, rest = bio["text"].split(" ( ", 1)
    native = "".join(rng.choice(HANZI) for _ in range(17))
    return dict(bio, id=bio["id"] + "-zh", text=f"{name} ( chinese : {native} ; {rest}")


@pytest.fixture(scope="module")
def tiny_base():
    return load_tokenizer({"backend": "hf", "path": "models/tiny-base"})


def test_a_long_word_at_the_cut_no_longer_makes_a_record_unfittable(tiny_base, monkeypatch):
    """The cause of 'train-16384-00631: could not fit the prompt into [16352, 16384] tokens in 8 attempts': the
    last distractor was cut at word boundaries only, and when the budget ran out inside a word of more tokens than
    the window is wide (a native-script name, which the tiny base's byte-level BPE writes as two or three tokens a
    character), every plan of that draw either stopped before the word (too short) or took it whole (too long).
    Reproduced with the tiny base's tokenizer and one draw per record; a cut now goes on inside such a word."""
    rng = random.Random(0)
    pool = [_native_name(bio, rng) for bio in POOL]
    assert max(len(tiny_base(w, add_special_tokens=False)["input_ids"]) for w in pool[0]["text"].split()) > 40
    monkeypatch.setattr(haystack, "MAX_DRAWS", 1)  # no redraw: the one draw must fit
    _word_cuts_only(monkeypatch)
    before = build_train(NEEDLES, pool, tiny_base, [1024], n_per_length=24, seed=0)
    assert before.dropped and {row["reason"] for row in before.dropped} == {FIT}
    assert "no prompt in [992, 1024] tokens in 4 plans" in before.dropped[0]["detail"]
    monkeypatch.setattr(haystack, "MAX_CUT_GAP", MAX_SHORTFALL // 4)
    built = build_train(NEEDLES, pool, tiny_base, [1024], n_per_length=24, seed=0)
    assert not built.dropped and len(built) == 24
    assert {r["id"] for r in before.dropped} <= {r["id"] for r in built}  # the same records, now built
    for record in built:
        ids = tiny_base.apply_chat_template(record["messages"][:2], add_generation_prompt=True, return_dict=False)
        assert len(ids) == record["n_tokens"] and 1024 - MAX_SHORTFALL <= record["n_tokens"] <= 1024
    assert built == build_train(NEEDLES, pool, tiny_base, [1024], n_per_length=24, seed=0)  # deterministic
    texts = {bio["text"] for bio in pool + NEEDLES}
    cut_inside = [piece for record in built for piece in record["messages"][1]["content"].split("\n\n")[:-1]
                  if piece not in texts and not any(t.startswith(piece + " ") for t in texts)]
    assert cut_inside and all(any(t.startswith(piece) for t in texts) for piece in cut_inside)


def test_a_record_one_draw_cannot_fit_is_redrawn_not_fatal(tok, monkeypatch):
    """With cuts at word boundaries only, re-planning one distractor draw cannot land in the window when the text
    at the cut moves in steps larger than the window; another draw can."""
    rng = random.Random(0)
    pool = [_coarse(bio, rng) if i % 2 else bio for i, bio in enumerate(POOL)]
    _word_cuts_only(monkeypatch)
    monkeypatch.setattr(haystack, "MAX_DRAWS", 1)
    one_draw = build_train(NEEDLES, pool, tok, [1024], n_per_length=24, seed=0)
    assert one_draw.dropped and {row["reason"] for row in one_draw.dropped} == {FIT}
    monkeypatch.setattr(haystack, "MAX_DRAWS", 16)
    built = build_train(NEEDLES, pool, tok, [1024], n_per_length=24, seed=0)
    assert len(built) == 24 and not built.dropped
    assert all(1024 - MAX_SHORTFALL <= r["n_tokens"] <= 1024 for r in built)


def test_unfittable_records_are_dropped_listed_and_stop_the_step_only_above_the_share(tok, tmp_path, monkeypatch):
    rng = random.Random(1)
    pool = [_coarse(bio, rng) for bio in POOL]  # every distractor coarse, one draw: some records cannot be fitted
    _word_cuts_only(monkeypatch)
    monkeypatch.setattr(haystack, "MAX_DRAWS", 1)
    built = build_train(NEEDLES, pool, tok, [1024], n_per_length=24, seed=0)
    assert built and built.dropped, "some fit, some do not"
    assert len(built) + len(built.dropped) == 24
    row = built.dropped[0]
    assert row["reason"] == FIT and row["context_length"] == 1024 and row["id"].startswith("train-1024-")
    assert "[992, 1024]" in row["detail"]
    stats = export_split(built, "train", tmp_path, built.dropped)
    assert stats["train_dropped"] == stats["train_dropped_fit"] == len(built.dropped)
    assert list(read_jsonl(tmp_path / AUDIT)) == built.dropped
    built.check(1.0, str(tmp_path / AUDIT))
    with pytest.raises(InputError, match=r"context\.max_drop_share=0\.01.*dropped\.jsonl.*train-1024-"):
        built.check(0.01, str(tmp_path / AUDIT))


def test_depth_drops_never_count_toward_the_share():
    built = Built([{"id": "a"}])
    built.dropped.append({"id": "b", "reason": DEPTH, "detail": "x"})
    built.check(0.0, "audit")



def test_a_stop_writes_the_audit_it_names(tmp_path):
    """Above context.max_drop_share the build stops, but first writes every dropped row to the file the message
    names (the haystack step puts it beside its output directory, which Snakemake deletes on failure)."""
    from needlework.longctx.haystack import FIT, Built

    built = Built()
    built.dropped.append({"id": "train-512-00000", "needle_id": "n0", "context_length": 512, "depth": 50.0,
                          "reason": FIT, "detail": "lengths tried: 530, 529"})
    stop_audit = tmp_path / "train-x.dropped-at-stop.jsonl"
    with pytest.raises(InputError, match="train-x.dropped-at-stop.jsonl"):
        built.check(0.0, str(stop_audit))
    assert [r["id"] for r in read_jsonl(stop_audit)] == ["train-512-00000"]
