"""The evaluation's generation cap must hold the longest reference answer in the evaluated model's tokens: a lower
cap cuts correct answers into parse failures and scores the cap, not the model. The step stops before the first
prompt, naming the key and the value it needs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from needlework.config import ConfigError, compose
from needlework.models import load_tokenizer
from needlework.stages.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "tiny-base"
LABELS = [
    {"nationality": "irish", "date_of_birth": {"day": 11, "month": 1, "year": 1898},
     "date_of_death": {"day": 25, "month": 8, "year": 1933}, "sportsperson": False, "politician": False},
    {"nationality": "bosnian", "date_of_birth": {"day": 28, "month": 12, "year": 1988},
     "date_of_death": {"day": 19, "month": 11, "year": 2019}, "sportsperson": True, "politician": True},
]


def write_grid(path: Path) -> list[str]:
    answers = [json.dumps(label) for label in LABELS]
    with open(path, "w") as fh:
        for i, answer in enumerate(answers):
            fh.write(json.dumps({"id": f"eval-256-0-{i:03d}", "needle_id": f"n{i}", "context_length": 256,
                                 "depth": 0.0, "actual_depth": 0.0, "n_tokens": 40, "messages": [
                                     {"role": "system", "content": "extract information about a person in JSON"},
                                     {"role": "user", "content": f"person {i} was born . who is person {i} ?"},
                                     {"role": "assistant", "content": answer}]}) + "\n")
    return answers


def run(tmp_path: Path, cap: int):
    cfg = compose(["experiment=tiny_base", f"model.path={SHIPPED}", f"results_dir={tmp_path / 'results'}",
                   "tracking.enabled=false", f"eval.max_new_tokens={cap}", "eval.batch_size=2"],
                  config_dir=ROOT / "conf")
    out = tmp_path / f"cap-{cap}"
    out.mkdir()
    evaluate(cfg, "base", str(tmp_path / "grid.jsonl"), str(SHIPPED), None, str(out / "predictions.jsonl"),
             str(out / "cells.csv"), str(tmp_path / "cache.jsonl"))
    return out


def test_a_cap_below_the_longest_reference_answer_stops_before_any_prompt(tmp_path):
    answers = write_grid(tmp_path / "grid.jsonl")
    tokenizer = load_tokenizer({"backend": "hf", "path": str(SHIPPED)})
    needed = max(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers) + 1  # + end token

    with pytest.raises(ConfigError, match=rf"eval.max_new_tokens is {needed - 1}.*>= {needed}"):
        run(tmp_path, needed - 1)
    assert not (tmp_path / f"cap-{needed - 1}" / "predictions.jsonl").exists()
    assert not (tmp_path / "cache.jsonl").exists()  # nothing was asked

    out = run(tmp_path, needed)  # exactly enough: the grid is answered
    assert len((out / "predictions.jsonl").read_text().splitlines()) == len(answers)
