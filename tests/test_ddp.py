"""Multi-process training (train.num_processes > 1): the step's own `accelerate launch` line on two CPU (gloo) ranks
follows the one-process loss trajectory with the same global batch, and rank 0 alone saves the adapter."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from needlework.io import write_json, write_jsonl
from needlework.models import build_tiny
from needlework.stages.modeling import accelerate_command
from needlework.tokenizer import train_tokenizer
from needlework.training.sft import finetune
from test_train import BUILD, LORA, TRAIN, LossRecorder, haystack_records

# The Trainer normalises the loss by the tokens of the whole global batch on every rank, so two ranks with half the
# batch each follow the one-process trajectory up to float summation order (measured here: 2e-7 relative).
LOSS_RTOL = 1e-4
STEPS = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    records = haystack_records(16, seed=1)
    tokenizer = train_tokenizer([m["content"] for r in records for m in r["messages"]], vocab_size=400)
    tokenizer.save_pretrained(root / "tokenizer")
    write_jsonl(root / "train.jsonl", records)
    path = build_tiny(root / "tokenizer", BUILD, 1024, seed=0, out_dir=root / "tiny")
    model = {"name": "tiny", "backend": "hf", "path": str(path), "native_context": 1024, "dtype": "float32",
             "attn_implementation": "sdpa", "chat_template": None}
    lora = {**LORA, "dropout": 0.0}  # ranks draw different dropout masks than one process would
    train = {**TRAIN, "max_steps": STEPS, "save_steps": STEPS, "logging_steps": 1}
    return root, model, lora, train


def test_two_gloo_ranks_match_one_process_with_the_same_global_batch(setup):
    root, model, lora, train = setup
    recorder = LossRecorder()
    one = finetune(model, lora, {**train, "batch_size": 4}, root / "train.jsonl", root / "one", seed=0,
                   callbacks=[recorder])
    assert one["world_size"] == 1

    out = root / "two"
    job = out / "job.json"
    write_json(job, {"model": model, "lora": lora, "train": {**train, "batch_size": 2},
                     "train_jsonl": str(root / "train.jsonl"), "out_dir": str(out), "seed": 0, "report_to": "none"})
    run = subprocess.run([*accelerate_command(2), "-m", "needlework.training.sft", str(job)], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stderr[-4000:]
    two = json.loads((out / "result.json").read_text())
    assert two["world_size"] == 2  # torch.distributed really had two ranks (not `--cpu`'s silent single one)
    assert two["steps"] == one["steps"] == STEPS

    state = json.loads((out / "checkpoints" / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    ddp_losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(ddp_losses) == STEPS
    assert ddp_losses == pytest.approx([loss for _, loss in recorder.losses], rel=LOSS_RTOL)
    # Both ranks counted their own tokens: the two-rank run saw as many training tokens as the single process.
    assert two["train_tokens"] == pytest.approx(one["train_tokens"], rel=0.01)

    adapters = [p for p in out.rglob("adapter_model.safetensors") if "checkpoints" not in p.parts]
    assert adapters == [out / "adapter" / "adapter_model.safetensors"]  # one adapter, written once (rank 0)
    assert not [p for p in out.iterdir() if p.name.startswith(".adapter")]  # no second rank's partial copy
