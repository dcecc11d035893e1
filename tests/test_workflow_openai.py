"""End-to-end: an OpenAI-compatible model (a real local HTTP server) evaluated by the workflow, exact cells.csv."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from fake_openai import FakeOpenAI
from workflow_helpers import SMALL, snakemake

EVAL_ONLY = SMALL + " eval.models=[scripted]"


def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.slow
def test_openai_model_gives_exactly_the_expected_cells(tmp_path):
    work = tmp_path / "w"
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    assert snakemake(work, "haystacks", overrides=SMALL).returncode == 0
    grid = [json.loads(line) for path in work.glob("results/haystacks/eval-*/eval.jsonl")
            for line in path.read_text().splitlines()]
    assert len(grid) == 4 and len({r["messages"][1]["content"] for r in grid}) == 4  # 4 distinct prompts

    def answer(body):
        user = body["messages"][-1]["content"]
        assert all(m["role"] != "assistant" for m in body["messages"])  # the label is never sent
        record = next(r for r in grid if r["messages"][1]["content"] == user)
        label = json.loads(record["messages"][2]["content"])
        cell = (record["context_length"], record["depth"])
        if cell == (256, 0):
            return json.dumps(label)                                   # all 9 fields right
        if cell == (256, 100):
            return json.dumps({**label, "nationality": "martian"})      # 8 of 9
        if cell == (384, 0):
            return "Here it is:\n```json\n" + json.dumps(label) + "\n```"  # fenced, still right
        return "I could not find this person."                         # parse failure

    with FakeOpenAI(answer) as server:
        (conf / "model" / "scripted.yaml").write_text(
            f"backend: openai\nbase_url: {server.base_url}\nmodel: scripted\napi_key_env: null\n"
            "price_input_per_1m: 1.0\nprice_output_per_1m: 2.0\n")
        overrides = f"hydra.searchpath=[file://{conf}] {EVAL_ONLY}"
        result = snakemake(work, "evaluate", overrides=overrides)
        assert result.returncode == 0, result.stderr[-4000:]
        assert server.n_requests == 4
        cells_path = next(work.glob("results/evaluate/scripted-*/cells.csv"))
        cells = pd.read_csv(cells_path)
        expected = {(256, 0): 1.0, (256, 100): 8 / 9, (384, 0): 1.0, (384, 100): 0.0}
        assert len(cells) == 4
        for row in cells.itertuples():
            acc = expected[(row.context_length, int(row.depth))]
            assert row.model == "scripted" and row.n == 1
            assert row.accuracy == pytest.approx(acc, abs=1e-6)
            low, high = _wilson(acc, 1)
            assert (row.ci_low, row.ci_high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
            assert row.parse_failures == (1 if acc == 0.0 else 0)
            assert row.acc_nationality == (1.0 if acc == 1.0 else 0.0)
            assert row.acc_date_of_birth == (0.0 if acc == 0.0 else 1.0)

        # A rerun after losing the outputs is served from the answer cache: no request is repeated.
        cells_path.unlink()
        result = snakemake(work, "evaluate", overrides=overrides)
        assert result.returncode == 0, result.stderr[-4000:]
        assert server.n_requests == 4
        assert pd.read_csv(cells_path).equals(cells)
