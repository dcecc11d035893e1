"""The shipped tiny base (models/tiny-base): committed files as recorded, whole-word tokens, and real retrieval.

The retrieval tests run the evaluation's own haystack builder, backend and scorer on biographies the model never
saw (a corpus of another seed), so a needle put in the wrong place, a label shifted against its needle, or a RoPE
factor not applied shows up as a drop in accuracy.
"""
import json
from pathlib import Path

import pytest

from needlework import haystack
from needlework.config import compose, model_config
from needlework.corpus.build import build_corpus
from needlework.evaluate.baseline import majority_cells
from needlework.models import load_tokenizer
from needlework.tiny_base import (MANIFEST, corpus_labels, file_hashes, grid_cells, grid_predictions, name_parts,
                                  read_manifest)

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "tiny-base"
CFG = compose(config_dir=ROOT / "conf")
NATIVE = CFG["model"]["native_context"]


def _mean(table):
    return float((table["accuracy"] * table["n"]).sum() / table["n"].sum())


@pytest.fixture(scope="module")
def grid():
    """A native-length grid (3 depths x 8 needles) over a corpus of another seed, and its majority baseline."""
    corpus, _, _ = build_corpus({"source": "synthetic", "n": 160, "non_person_rate": 0.0, "anonymize": True}, seed=7)
    labels = corpus_labels(corpus)
    needles = [dict(r, label=json.loads(labels[r["id"]])) for r in corpus
               if r["id"] in labels and len(r["text"].split()) <= 120]
    eval_needles, train_needles = needles[:8], needles[8:]
    eval_ids = {r["id"] for r in eval_needles}
    pool = [r for r in corpus if r["id"] not in eval_ids]
    records = haystack.build_eval(eval_needles, pool, load_tokenizer(CFG["model"]), [NATIVE], [0, 50, 100], 8, 0)
    baseline = _mean(majority_cells(records, [r["label"] for r in train_needles]))
    return records, baseline


def test_committed_files_match_their_recorded_hashes():
    recorded = read_manifest(MODEL_DIR)
    assert {"model.safetensors", "config.json", "tokenizer.json", "training.json"} <= set(recorded)
    assert file_hashes(MODEL_DIR) == recorded, f"models/tiny-base differs from its {MANIFEST}"


def test_every_name_part_number_and_common_word_is_one_token():
    tokenizer = load_tokenizer(CFG["model"])
    first, last = name_parts()
    words = [*first, *last, *map(str, range(2101)), *"( born march ) is a swedish ice hockey player".split()]
    lengths = {len(ids) for ids in tokenizer([" " + w for w in words], add_special_tokens=False)["input_ids"]}
    assert lengths == {1}


@pytest.mark.xfail(strict=True, reason="issue 9 gap: the shipped base answers with the label priors (README)")
def test_retrieves_well_above_the_majority_baseline_at_native_length(grid):
    records, baseline = grid
    table = grid_cells(CFG["model"], records, "base")
    assert _mean(table) >= baseline + 0.25, (_mean(table), baseline)


def test_answers_in_the_schema_at_native_length(grid):
    """Every answer parses: chat template, end token and JSON format survive from training to evaluation."""
    records, baseline = grid
    table = grid_cells(CFG["model"], records, "base")
    assert table["parse_failures"].sum() == 0
    assert _mean(table) >= baseline - 0.1, (_mean(table), baseline)


def test_rope_scaling_from_the_model_config_is_applied(grid):
    """The base scaled without training (tiny_base_scaled) reads positions it was never trained on: its answers
    change (a factor silently not applied would leave them identical)."""
    records, _ = grid
    plain = grid_predictions(CFG["model"], records)
    scaled = grid_predictions(model_config(CFG, "tiny_base_scaled"), records)
    changed = sum(a["answer"] != b["answer"] for a, b in zip(plain, scaled))
    assert changed >= len(records) // 4, (changed, len(records))
