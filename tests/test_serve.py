"""Serving a fine-tuned model behind an OpenAI-compatible server: the merged export (train.export_merged) runs in a
real local `transformers serve` (CPU), and the `openai` backend's greedy answers and cells.csv equal the `hf`
backend's (base + adapter) on the same grid. vLLM is the same protocol on GPUs (README)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import torch

from needlework.config import compose
from needlework.io import read_jsonl, write_jsonl
from needlework.models import build_tiny, load_model, load_tokenizer
from needlework.serving import export_merged
from needlework.stages.evaluation import evaluate
from needlework.tokenizer import train_tokenizer
from needlework.training.sft import finetune
from test_train import BUILD, LORA, TRAIN, haystack_records
from workflow_helpers import ROOT, snakemake

MAX_NEW_TOKENS = 80  # the grid's longest label takes 70 tokens of the tiny tokenizer (evaluation refuses less)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """A tiny model, a LoRA adapter trained on it, the merged export, and a 6-prompt evaluation grid."""
    root = tmp_path_factory.mktemp("serve")
    records = haystack_records(12, seed=2)
    for i, record in enumerate(records):  # two lengths x three depths, one needle each
        record.update(context_length=[256, 512][i % 2], depth=[0, 50, 100][i % 3])
    tokenizer = train_tokenizer([m["content"] for r in records for m in r["messages"]], vocab_size=400)
    tokenizer.save_pretrained(root / "tokenizer")
    write_jsonl(root / "train.jsonl", records)
    write_jsonl(root / "grid.jsonl", records[:6])
    base = build_tiny(root / "tokenizer", BUILD, 1024, seed=0, out_dir=root / "base")
    model = {"name": "tiny", "backend": "hf", "path": str(base), "native_context": 1024, "dtype": "float32",
             "attn_implementation": "sdpa", "chat_template": None}
    finetune(model, LORA, {**TRAIN, "max_steps": 40, "learning_rate": 1e-2}, root / "train.jsonl", root / "run",
             seed=0)
    merged = export_merged(model, root / "run" / "adapter", root / "merged")
    return root, base, root / "run" / "adapter", merged


@pytest.fixture(scope="module")
def server(finetuned):
    root, _, _, merged = finetuned
    port = _free_port()
    cli = Path(sys.executable).parent / "transformers"
    log = open(root / "serve.log", "w")
    proc = subprocess.Popen([str(cli), "serve", str(merged), "--device", "cpu", "--dtype", "float32",
                             "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, (root / "serve.log").read_text()[-3000:]
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail(f"transformers serve did not answer in 120 s: {(root / 'serve.log').read_text()[-3000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_merged_model_is_one_plain_model_directory(finetuned):
    _, _, _, merged = finetuned
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()
    assert not (merged / "adapter_config.json").exists()
    assert (merged / "tokenizer.json").is_file()


def test_merge_keeps_the_fine_tuned_logits(finetuned):
    root, base, adapter, merged = finetuned
    model = {"name": "tiny", "backend": "hf", "path": str(base), "native_context": 1024, "dtype": "float32",
             "attn_implementation": "sdpa", "chat_template": None}
    ids = torch.tensor([load_tokenizer(model)("a poet born in 1901 .")["input_ids"]])
    with torch.no_grad():
        tuned = load_model(model, adapter_dir=adapter)(ids).logits
        folded = load_model(dict(model, path=str(merged)))(ids).logits
        plain = load_model(model)(ids).logits
    assert torch.allclose(tuned, folded, atol=1e-4)
    assert not torch.allclose(plain, folded, atol=1e-3)  # the adapter changed something that the merge kept


def test_served_answers_and_cells_equal_the_local_backend(finetuned, server, tmp_path):
    root, base, adapter, merged = finetuned
    conf = tmp_path / "conf" / "model"
    conf.mkdir(parents=True)
    (conf / "served.yaml").write_text(
        f"backend: openai\nbase_url: {server}\nmodel: {merged}\napi_key_env: null\njson_mode: none\n"
        f"max_tokens: {MAX_NEW_TOKENS}\nmax_concurrency: 2\ntokenizer: {merged}\n"
        "schema_in_prompt: false\n")  # the prompt exactly as the hf backend gets it
    cfg = compose([f"results_dir={tmp_path / 'results'}", "tracking.enabled=false",
                   f"eval.max_new_tokens={MAX_NEW_TOKENS}", "eval.models=[finetuned,served]",
                   f"hydra.searchpath=[file://{tmp_path / 'conf'}]"], config_dir=ROOT / "conf")
    out = {}
    # `finetuned` as the workflow evaluates it (base + adapter, hf backend) vs the merged export behind the server.
    for name, model_dir, adapter_dir in (("finetuned", str(base), str(adapter)), ("served", None, None)):
        d = tmp_path / name
        d.mkdir()
        evaluate(cfg, name, str(root / "grid.jsonl"), model_dir, adapter_dir, str(d / "predictions.jsonl"),
                 str(d / "cells.csv"), str(d / "cache.jsonl"))
        out[name] = d
    local = {p["id"]: p["answer"] for p in read_jsonl(out["finetuned"] / "predictions.jsonl")}
    served = {p["id"]: p["answer"] for p in read_jsonl(out["served"] / "predictions.jsonl")}
    # The server ran the same model: the same greedy answers. The merged export and base + adapter differ by float
    # rounding, which can tip a near-tie late in a long untrained answer, so one answer may part after a shared start.
    assert len(local) == 6 and local.keys() == served.keys()
    assert sum(local[k] == served[k] for k in local) >= 5
    assert all(len(os.path.commonprefix([local[k], served[k]])) >= 40 for k in local)
    assert len(set(local.values())) > 1  # (answers that differ by prompt: the model's, not a constant)
    cells = {name: pd.read_csv(d / "cells.csv").drop(columns="model") for name, d in out.items()}
    pd.testing.assert_frame_equal(cells["finetuned"], cells["served"])


def test_export_merged_is_a_workflow_option_that_retrains_nothing(tmp_path):
    """train.export_merged adds the merge step after training; it is not in the training key (no retraining)."""
    plans = {flag: snakemake(tmp_path, "-n", overrides=f"train.export_merged={flag}") for flag in ("false", "true")}
    assert all(p.returncode == 0 for p in plans.values()), plans["true"].stderr[-3000:]
    assert "rule export_merged:" not in plans["false"].stdout and "rule export_merged:" in plans["true"].stdout
    merged = re.search(r"output: (\S+/merged)", plans["true"].stdout.split("rule export_merged:", 1)[1]).group(1)
    trained = re.search(r"output: (\S+)/adapter", plans["false"].stdout.split("rule finetune:", 1)[1]).group(1)
    assert merged == f"{trained}/merged"  # the same training directory with or without the export
