"""The shipped tiny base (models/tiny-base): committed files as recorded, whole-word tokens, and real retrieval.

The retrieval tests run the evaluation's own haystack builder, backend and scorer on biographies the model never
saw (a corpus of another seed), so a needle put in the wrong place, a label shifted against its needle, or a RoPE
factor not applied shows up as a drop in accuracy.
"""
import json
from pathlib import Path

import pytest

from needlework.longctx import haystack
from needlework.config import compose, model_config
from needlework.corpus.build import build_corpus
from needlework.evaluate.baseline import majority_cells
from needlework.models import load_tokenizer
from needlework.training.tiny_base import (MANIFEST, OPTIONAL, corpus_labels, extra_bios, file_hashes, grid_cells,
                                  grid_predictions, name_parts, prepare, read_manifest)

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "tiny-base"
CFG = compose("experiment=tiny_base", config_dir=ROOT / "conf")
NATIVE = CFG["model"]["native_context"]


def _mean(table):
    return float((table["accuracy"] * table["n"]).sum() / table["n"].sum())


def _grid(length: int, max_words: int):
    """A grid at ``length`` (3 depths x 8 needles) over a corpus of another seed, and its majority baseline."""
    corpus, *_ = build_corpus({"source": "synthetic", "n": 160, "non_person_rate": 0.0, "anonymize": True,
                               "max_bad_share": 0.05}, seed=7)
    labels = corpus_labels(corpus)
    needles = [dict(r, label=json.loads(labels[r["id"]])) for r in corpus
               if r["id"] in labels and len(r["text"].split()) <= max_words]
    eval_needles, train_needles = needles[:8], needles[8:]
    eval_ids = {r["id"] for r in eval_needles}
    pool = [r for r in corpus if r["id"] not in eval_ids]
    records = haystack.build_eval(eval_needles, pool, load_tokenizer(CFG["model"]), [length], [0, 50, 100], 8, 0)
    baseline = _mean(majority_cells(records, [r["label"] for r in train_needles], "leaves"))
    return records, baseline


@pytest.fixture(scope="module")
def grid():
    """The native-length grid."""
    return _grid(NATIVE, 120)


@pytest.fixture(scope="module")
def half_grid():
    """Half the native context (256 tokens: the needle among one or two other biographies)."""
    return _grid(NATIVE // 2, 120)


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


def test_reads_the_asked_biography_at_every_depth_at_half_the_native_context(half_grid):
    """What the shipped base learned (README "The shipped tiny base"): at 256 tokens it answers from the
    biography asked about wherever it stands (measured 0.87, every depth 0.79-0.94, majority baseline 0.57).
    A needle put in the wrong place, another person's biography in its place or a label shifted against its
    needle brings accuracy down to the baseline."""
    records, baseline = half_grid
    table = grid_cells(CFG["model"], records, "base")
    assert _mean(table) >= baseline + 0.15, (_mean(table), baseline)
    per_depth = {depth: _mean(cells) for depth, cells in table.groupby("depth")}
    assert min(per_depth.values()) >= baseline + 0.08, (per_depth, baseline)


def test_the_committed_training_settings_are_the_config_that_reproduces_them():
    """`snakemake tiny_base` with conf/model/tiny_base.yaml trains what is committed: the recorded settings differ
    only in where it ran (device, worker processes), which do not change the schedule or the batches."""
    recorded = json.loads((MODEL_DIR / "training.json").read_text())
    where = {"device", "workers"}
    config = {k: v for k, v in {**OPTIONAL, **CFG["model"]["pretrain"]}.items() if k not in where}
    assert {k: v for k, v in {**OPTIONAL, **recorded["config"]}.items() if k not in where} == config
    assert recorded["native_context"] == NATIVE and recorded["seed"] == CFG["seed"]


def test_answers_in_the_schema_and_above_the_baseline_at_native_length(grid):
    """Every answer parses (chat template, end token and JSON format survive from training to evaluation), and at
    its native 512 tokens the base still reads the needle (measured 0.63, majority baseline 0.57)."""
    records, baseline = grid
    table = grid_cells(CFG["model"], records, "base")
    assert table["parse_failures"].sum() == 0
    assert _mean(table) >= baseline + 0.05, (_mean(table), baseline)


def test_rope_scaling_from_the_model_config_is_applied(grid):
    """A base scaled without training (a model's rope_scaling; tiny_base_scaled takes the default fine-tune's YaRN
    x2.25) reads positions it was never trained on: its answers change (a factor silently not applied would leave
    them identical)."""
    records, _ = grid
    plain = grid_predictions(CFG["model"], records)
    yarn = {"rope_type": "yarn", "factor": 2.25, "original_max_position_embeddings": 512}
    scaled = grid_predictions(dict(model_config(CFG, "tiny_base_scaled"), rope_scaling=yarn), records)
    changed = sum(a["answer"] != b["answer"] for a, b in zip(plain, scaled))
    assert changed >= len(records) // 4, (changed, len(records))


def test_an_adapter_and_the_rope_it_was_trained_with_are_applied(grid, tmp_path):
    """Evaluating a fine-tune loads its adapter and the RoPE scaling saved beside it: answers differ from the base
    with the adapter alone, and from the adapter without its scaling (an adapter silently not loaded, or loaded
    without its RoPE factor, would give identical answers)."""
    from peft import LoraConfig, get_peft_model

    from needlework.models import load_model, save_rope

    records = grid[0][:8]
    rope = {"rope_type": "linear", "factor": 2.0}
    for name, with_rope in [("scaled", True), ("unscaled", False)]:
        torch_model = load_model(CFG["model"])
        peft_model = get_peft_model(torch_model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                           init_lora_weights=False))
        peft_model.save_pretrained(tmp_path / name)
        if with_rope:
            save_rope(tmp_path / name, rope)
    base = [p["answer"] for p in grid_predictions(CFG["model"], records)]
    scaled = [p["answer"] for p in grid_predictions(CFG["model"], records, adapter_dir=tmp_path / "scaled")]
    unscaled = [p["answer"] for p in grid_predictions(CFG["model"], records, adapter_dir=tmp_path / "unscaled")]
    assert sum(a != b for a, b in zip(base, unscaled)) >= len(records) // 2
    assert sum(a != b for a, b in zip(scaled, unscaled)) >= len(records) // 4


def test_repeat_targets_are_names_said_again_before_the_first_answer():
    """The auxiliary loss asks for a name part only where it was seen before in the row, and never in answers."""
    import torch

    from needlework.training.tiny_base import repeat_targets

    ann, lee, x = 10, 11, 5  # two name parts and another word
    ids = torch.tensor([[ann, x, lee, x, lee, ann, x, lee, ann]])
    targets = torch.full_like(ids, -100)
    targets[0, 6:8] = ids[0, 7:9]  # the answer is positions 7-8 (each target sits one position before its token)
    out = repeat_targets(ids, targets, torch.tensor([ann, lee]))
    # lee again at 4 (predicted from 3), ann again at 5 (from 4); 7 and 8 are answer tokens
    assert {p: int(t) for p, t in enumerate(out[0]) if t != -100} == {3: lee, 4: ann}


def test_a_stopped_training_resumes_to_the_same_weights(tmp_path):
    """`snakemake tiny_base` killed and rerun loses nothing: a run cut at step 2 and resumed from its checkpoint
    gives the same weights and tokenizer as one uninterrupted run (same seed, one thread), and batches made in
    worker processes (as beside a GPU) are the same as batches made in the training process."""
    from needlework.training.tiny_base import train_tiny_base

    corpus, *_ = build_corpus({"source": "synthetic", "n": 60, "non_person_rate": 0.0, "anonymize": True,
                               "max_bad_share": 0.05}, seed=3)
    cfg = {**CFG["model"]["pretrain"], "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
           "steps": 4, "batch_size": 2, "questions": 2, "valid_bios": 5, "valid_examples": 2, "eval_every": 2,
           "threads": 1, "stop_at": None, "device": "cpu", "workers": 0, "second_phase": None}
    held_out = {corpus[0]["id"]}

    def run(name, stop_at=None, workers=0):
        return train_tiny_base(corpus, held_out, {**cfg, "stop_at": stop_at, "workers": workers}, 128, 0,
                               tmp_path / name, tmp_path / f"{name}.work")

    run("straight", workers=2)
    assert run("cut", stop_at=2)["steps"] == 2
    assert run("cut")["steps"] == 4  # same work dir: resumes at step 2
    for name in ("model.safetensors", "tokenizer.json"):
        assert (tmp_path / "straight" / name).read_bytes() == (tmp_path / "cut" / name).read_bytes(), name


def test_a_second_phase_trains_on_from_the_first_and_a_stopped_one_resumes(tmp_path):
    """``second_phase`` trains on from the first phase's weights: ``training.json`` has both phases' metrics, the
    second's numbered on from the first's last step; a run killed in the second phase reruns from the finished
    first phase kept in the work directory (not trained again) and ends with the same bytes as a straight run."""
    from needlework.training.tiny_base import train_tiny_base

    corpus, *_ = build_corpus({"source": "synthetic", "n": 60, "non_person_rate": 0.0, "anonymize": True,
                               "max_bad_share": 0.05}, seed=3)
    cfg = {**CFG["model"]["pretrain"], "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
           "steps": 3, "batch_size": 2, "questions": 2, "valid_bios": 5, "valid_examples": 2, "eval_every": 2,
           "threads": 1, "stop_at": None, "device": "cpu", "workers": 0, "extra_bios": 0}
    second = {"steps": 3, "learning_rate": 1e-3, "min_length": 64, "curriculum": 0.0, "extra_bios": 5,
              "eval_every": 3}

    def run(name, stop_at=None):
        return train_tiny_base(corpus, {corpus[0]["id"]}, {**cfg, "second_phase": {**second, "stop_at": stop_at}},
                               128, 0, tmp_path / name, tmp_path / f"{name}.work")

    run("straight")
    assert run("cut", stop_at=1)["steps"] == 4
    first = tmp_path / "cut.work" / "phase-1" / "model.safetensors"
    trained_at = first.stat().st_mtime_ns
    summary = run("cut")
    assert first.stat().st_mtime_ns == trained_at  # the finished first phase is reused, not trained again
    rows = json.loads((tmp_path / "cut" / "training.json").read_text())["metrics"]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.get("phase", 1) for r in rows] == [1, 1, 1, 2, 2, 2]
    assert "valid_value_acc" in rows[5] and summary["first_phase"]["steps"] == 3
    assert summary["config"]["second_phase"]["extra_bios"] == 5
    for name in ("model.safetensors", "tokenizer.json"):
        assert (tmp_path / "straight" / name).read_bytes() == (tmp_path / "cut" / name).read_bytes(), name
    assert (tmp_path / "cut" / "model.safetensors").read_bytes() != first.read_bytes()
    second["learning_rate"] = 0.0  # a second phase that does not move keeps the first's weights (float16 bytes;
    # 1e-12 could flip the float16 rounding of a near-zero weight)
    run("still")
    assert (tmp_path / "still" / "model.safetensors").read_bytes() == (
        tmp_path / "still.work" / "phase-1" / "model.safetensors").read_bytes()


def test_a_first_phase_of_another_corpus_is_refused(tmp_path):
    """A first phase left in the work directory by another corpus (another tokenizer) stops the second phase with
    one error naming the directory and the config key, instead of training on mismatched token ids."""
    import shutil

    from needlework.io import InputError
    from needlework.training.tiny_base import train_tiny_base

    cfg = {**CFG["model"]["pretrain"], "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
           "steps": 1, "batch_size": 2, "questions": 2, "valid_bios": 5, "valid_examples": 2, "threads": 1,
           "device": "cpu", "workers": 0, "extra_bios": 0, "second_phase": None}
    corpora = [build_corpus({"source": "synthetic", "n": 40, "non_person_rate": 0.0, "anonymize": True,
                             "max_bad_share": 0.05}, seed=seed)[0] for seed in (3, 4)]
    train_tiny_base(corpora[0], set(), cfg, 128, 0, tmp_path / "other", tmp_path / "other.work")
    shutil.copytree(tmp_path / "other", tmp_path / "this.work" / "phase-1")
    with pytest.raises(InputError, match=r"phase-1.*model\.pretrain\.second_phase"):
        train_tiny_base(corpora[1], set(), {**cfg, "second_phase": {"steps": 1}}, 128, 0, tmp_path / "this",
                        tmp_path / "this.work")
    assert not (tmp_path / "this").exists()


def test_extra_biographies_are_training_examples_only():
    """``extra_bios`` adds distinct biographies to the training examples: the tokenizer and the validation set stay
    the corpus's, none of their ids is a corpus id, and the held-out needles stay out."""
    corpus, *_ = build_corpus({"source": "synthetic", "n": 40, "non_person_rate": 0.0, "anonymize": True,
                               "max_bad_share": 0.05}, seed=3)
    cfg = {**CFG["model"]["pretrain"], "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
           "valid_bios": 5, "valid_examples": 2}
    held_out = {corpus[0]["id"]}
    extra = extra_bios(30, 3)
    assert len(extra) == 30 and not {r["id"] for r in extra} & {r["id"] for r in corpus}
    plain, more = prepare(corpus, held_out, cfg, 128, 3), prepare(corpus, held_out, cfg, 128, 3, extra)
    assert more["train_bios"] == plain["train_bios"] + 30 and more["valid_bios"] == plain["valid_bios"]
    assert more["valid"] == plain["valid"]
    assert more["tokenizer"].get_vocab() == plain["tokenizer"].get_vocab()
    assert not held_out & {b["id"] for b in more["examples"].bios}
    assert {b["id"] for b in more["examples"].bios} - {b["id"] for b in plain["examples"].bios} == {
        r["id"] for r in extra}


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is visible: cuda is valid here")
def test_asking_for_a_gpu_where_there_is_none_names_the_config_key():
    from needlework.io import InputError
    from needlework.training.tiny_base import device_of

    with pytest.raises(InputError, match="model.pretrain.device"):
        device_of({"device": "cuda"})
    assert device_of({"device": "auto"}).type == "cpu"


def test_auto_workers_are_the_cores_given_to_the_process_not_the_machine(monkeypatch):
    """Beside a GPU, batches are made on every core the job was given (a SLURM allocation) but one; on a CPU the
    training process keeps the cores."""
    import os

    import torch

    from needlework.training.tiny_base import workers_of

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert workers_of({"workers": "auto"}, torch.device("cuda")) == 3
    assert workers_of({"workers": "auto"}, torch.device("cpu")) == 0
    assert workers_of({"workers": 5}, torch.device("cpu")) == 5
