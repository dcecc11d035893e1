"""Fine-tuning the tiny model on chat haystacks (needlework.training.sft): golden losses, context extension, resume."""
from __future__ import annotations

import json
import random

import pytest
import torch
from faker import Faker
from transformers import TrainerCallback

from needlework.io import InputError, write_jsonl
from needlework.labels.schema import Date, Label
from needlework.models import ROPE_FILE, build_tiny, load_model, load_tokenizer
from needlework.tokenizer import CHAT_TEMPLATE, train_tokenizer
from needlework.training.sft import finetune

SYSTEM = "extract information about a person in JSON"
BUILD = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64}
LONG_NATIVE = 1024  # longer than every example: no RoPE scaling
SHORT_NATIVE = 128  # shorter than every example: RoPE scaling from the data
LORA = {"method": "lora", "r": 4, "alpha": 8, "dropout": 0.1, "target_modules": "all-linear"}
TRAIN = {
    "learning_rate": 5e-3, "epochs": 1, "max_steps": 4, "batch_size": 2, "grad_accum": 1, "warmup_ratio": 0.0,
    "weight_decay": 0.0, "lr_scheduler": "linear", "packing": False, "gradient_checkpointing": False,
    "save_steps": 100, "save_total_limit": 2, "logging_steps": 1, "rope_type": "linear", "bf16": "auto",
    "max_answer_tokens": 32,
}
# Losses of steps 1-4 of the LoRA run above on the data below (seed 0, fp32 on CPU), recorded once.
GOLDEN_LOSSES = [5.99452, 5.98161, 5.96484, 5.96044]


def haystack_records(n: int, seed: int) -> list[dict]:
    """Chat records in the haystack format of the spec: a short haystack, a question and the label JSON."""
    faker = Faker()
    faker.seed_instance(seed)
    rng = random.Random(seed)
    records = []
    for i in range(n):
        name = faker.name().lower()
        question = f"\n\nGiven this information, extract information about {name}."
        haystack = " ".join(faker.paragraph(nb_sentences=4).lower() for _ in range(rng.randint(1, 3)))
        label = Label(
            nationality=rng.choice(["swedish", "french", "unknown"]),
            date_of_birth=Date(day=rng.randint(0, 28), month=rng.randint(1, 12), year=rng.randint(1900, 2000)),
            sportsperson=rng.random() < 0.5,
            politician=rng.random() < 0.3,
        )
        records.append({
            "id": f"train-{i}", "needle_id": f"synthetic-{i}", "context_length": 256, "depth": 50,
            "actual_depth": 50.0, "n_tokens": 0,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": haystack + question},
                {"role": "assistant", "content": label.to_json()},
            ],
        })
    return records


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    """A tokenizer trained on bios, two tiny models (long and short native context) and 12 training records."""
    root = tmp_path_factory.mktemp("train")
    records = haystack_records(12, seed=0)
    tokenizer = train_tokenizer([m["content"] for r in records for m in r["messages"]], vocab_size=400)
    tokenizer.save_pretrained(root / "tokenizer")
    write_jsonl(root / "train.jsonl", records)
    models = {native: build_tiny(root / "tokenizer", BUILD, native, seed=0, out_dir=root / f"tiny-{native}")
              for native in (LONG_NATIVE, SHORT_NATIVE)}
    return {"root": root, "jsonl": root / "train.jsonl", "records": records, "models": models}


def model_cfg(workspace: dict, native: int, **extra) -> dict:
    return {"name": "tiny", "backend": "hf", "path": str(workspace["models"][native]), "native_context": native,
            "dtype": "float32", "attn_implementation": "sdpa", "chat_template": None, **extra}


class LossRecorder(TrainerCallback):
    """Collects (step, loss) of every logged step."""

    def __init__(self):
        self.losses: list[tuple[int, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append((state.global_step, logs["loss"]))


class KillAfterFirstCheckpoint(TrainerCallback):
    """Simulates a killed job: stops the run right after its first checkpoint is written."""

    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt(f"killed after step {state.global_step}")


def test_golden_losses(workspace, tmp_path):
    recorder = LossRecorder()
    result = finetune(model_cfg(workspace, LONG_NATIVE), LORA, TRAIN, workspace["jsonl"], tmp_path / "run",
                      seed=0, callbacks=[recorder])
    assert [step for step, _ in recorder.losses] == [1, 2, 3, 4]
    assert [loss for _, loss in recorder.losses] == pytest.approx(GOLDEN_LOSSES, abs=1e-4)
    assert result["final_loss"] == pytest.approx(GOLDEN_LOSSES[-1], abs=1e-4)
    assert result["steps"] == 4 and result["resumed_from_step"] == 0
    assert result["rope"] is None and result["loss_mode"] == "assistant_only"
    assert 0 < result["trainable_params"] < result["total_params"]
    assert result["train_tokens"] > 0 and result["tokens_per_s"] > 0
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "run" / "adapter" / ROPE_FILE).exists()


def test_rope_scaling_is_chosen_from_the_data_and_reloads_with_the_adapter(workspace, tmp_path):
    cfg = model_cfg(workspace, SHORT_NATIVE)
    result = finetune(cfg, LORA, {**TRAIN, "max_steps": 2, "rope_type": "yarn"}, workspace["jsonl"],
                      tmp_path / "run", seed=0)

    tokenizer = load_tokenizer(cfg)
    conversations = [r["messages"] for r in workspace["records"]]
    longest = max(len(tokenizer.apply_chat_template(c, return_dict=False)) for c in conversations)
    longest_prompt = max(len(tokenizer.apply_chat_template(c[:-1], add_generation_prompt=True, return_dict=False))
                         for c in conversations)
    needed = max(longest, longest_prompt + TRAIN["max_answer_tokens"])
    assert result["max_length"] == longest > SHORT_NATIVE
    assert result["needed_context"] == needed
    factor = result["rope"]["factor"]
    assert needed / SHORT_NATIVE <= factor < needed / SHORT_NATIVE + 0.01
    assert result["rope"] == {"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": SHORT_NATIVE}

    adapter = tmp_path / "run" / "adapter"
    assert json.loads((adapter / ROPE_FILE).read_text()) == result["rope"]
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        workspace["models"][SHORT_NATIVE].resolve())
    model = load_model(cfg, adapter_dir=adapter)
    rope = model.config.rope_parameters  # the adapter is folded into the weights for evaluation
    assert (rope["rope_type"], rope["factor"], rope["rope_theta"]) == ("yarn", factor, 10000.0)
    with torch.no_grad():
        logits = model(input_ids=torch.arange(2 * SHORT_NATIVE).unsqueeze(0) % 300).logits
    assert logits.shape[1] == 2 * SHORT_NATIVE and torch.isfinite(logits).all()


def test_killed_run_resumes_from_its_last_checkpoint(workspace, tmp_path):
    cfg, train, out = model_cfg(workspace, LONG_NATIVE), {**TRAIN, "save_steps": 2}, tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        finetune(cfg, LORA, train, workspace["jsonl"], out, seed=0, callbacks=[KillAfterFirstCheckpoint()])
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-2"]
    assert not (out / "adapter").exists()

    recorder = LossRecorder()
    result = finetune(cfg, LORA, train, workspace["jsonl"], out, seed=0, callbacks=[recorder])
    assert result["resumed_from_step"] == 2 and result["steps"] == 4
    # Steps 3 and 4 are exactly those of the uninterrupted golden run.
    assert recorder.losses == [(3, pytest.approx(GOLDEN_LOSSES[2], abs=1e-4)),
                               (4, pytest.approx(GOLDEN_LOSSES[3], abs=1e-4))]
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_rerun_of_a_finished_run_trains_again_from_scratch(workspace, tmp_path):
    """`snakemake -R finetune` after a finished run: the old final checkpoint must not turn it into 0 steps."""
    cfg, train, out = model_cfg(workspace, LONG_NATIVE), {**TRAIN, "save_steps": 2}, tmp_path / "run"
    finetune(cfg, LORA, train, workspace["jsonl"], out, seed=0)
    assert (out / "checkpoints" / "checkpoint-4").is_dir()

    recorder = LossRecorder()
    result = finetune(cfg, LORA, train, workspace["jsonl"], out, seed=0, callbacks=[recorder])
    assert result["resumed_from_step"] == 0 and result["steps"] == 4
    assert [loss for _, loss in recorder.losses] == pytest.approx(GOLDEN_LOSSES, abs=1e-4)


def test_killed_run_with_changed_inputs_starts_fresh(workspace, tmp_path):
    """Rebuilt training haystacks under the same key: the half-done run of the old data is not continued."""
    cfg, train, out = model_cfg(workspace, LONG_NATIVE), {**TRAIN, "save_steps": 2}, tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        finetune(cfg, LORA, train, workspace["jsonl"], out, seed=0, callbacks=[KillAfterFirstCheckpoint()])
    changed = tmp_path / "changed.jsonl"
    write_jsonl(changed, workspace["records"][::-1])

    result = finetune(cfg, LORA, train, changed, out, seed=0)
    assert result["resumed_from_step"] == 0 and result["steps"] == 4
    # and a changed training setting counts as changed input too
    with pytest.raises(KeyboardInterrupt):
        finetune(cfg, LORA, train, workspace["jsonl"], tmp_path / "other", seed=0,
                 callbacks=[KillAfterFirstCheckpoint()])
    result = finetune(cfg, LORA, {**train, "learning_rate": 1e-3}, workspace["jsonl"], tmp_path / "other", seed=0)
    assert result["resumed_from_step"] == 0


def test_full_finetune_with_packing_saves_a_scaled_model(workspace, tmp_path):
    cfg = model_cfg(workspace, SHORT_NATIVE)
    train = {**TRAIN, "max_steps": 2, "packing": True, "gradient_checkpointing": True, "rope_type": "dynamic"}
    result = finetune(cfg, {"method": "full"}, train, workspace["jsonl"], tmp_path / "run", seed=0)
    assert result["trainable_params"] == result["total_params"] > 0
    assert result["rope"]["rope_type"] == "dynamic"
    model = load_model(cfg, adapter_dir=tmp_path / "run" / "adapter")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config.rope_parameters["factor"] == result["rope"]["factor"]


def test_template_without_generation_markers_falls_back_to_completion_only(workspace, tmp_path):
    plain = CHAT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    result = finetune(model_cfg(workspace, LONG_NATIVE, chat_template=plain), LORA, {**TRAIN, "max_steps": 1},
                      workspace["jsonl"], tmp_path / "run", seed=0)
    assert result["loss_mode"] == "completion_only"
    assert result["steps"] == 1 and result["final_loss"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_qlora_on_cpu_fails_before_anything_is_read(tmp_path):
    cfg = {"name": "x", "path": str(tmp_path / "absent"), "native_context": 64, "dtype": "auto"}
    with pytest.raises(InputError, match="lora.method=qlora needs a CUDA GPU"):
        finetune(cfg, {**LORA, "method": "qlora"}, TRAIN, tmp_path / "absent.jsonl", tmp_path / "run", seed=0)
    assert not (tmp_path / "run").exists()


def test_bad_inputs_are_named(workspace, tmp_path):
    cfg = model_cfg(workspace, LONG_NATIVE)
    with pytest.raises(InputError, match="lora.method"):
        finetune(cfg, {**LORA, "method": "adapter"}, TRAIN, workspace["jsonl"], tmp_path / "run", seed=0)
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, [workspace["records"][0], {"id": "x", "messages": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(InputError, match=f"{bad}:2: the last message must be the assistant's answer"):
        finetune(cfg, LORA, TRAIN, bad, tmp_path / "run", seed=0)
    broken = "{%- for m in messages -%}{{ raise_exception('roles not supported') }}{%- endfor -%}"
    with pytest.raises(InputError, match="chat template of model 'tiny' cannot render.*roles not supported"):
        finetune({**cfg, "chat_template": broken}, LORA, TRAIN, workspace["jsonl"], tmp_path / "run", seed=0)
    with pytest.raises(ValueError, match="train.rope_type"):
        finetune(cfg, LORA, {**TRAIN, "rope_type": "ntk"}, workspace["jsonl"], tmp_path / "run", seed=0)
    assert not (tmp_path / "run").exists()


def test_training_reports_its_steps_in_the_step_log(workspace, tmp_path):
    """Without a terminal (Snakemake logs, CI, cluster jobs) the log gets step counts, not a silent or \\r-spammed bar."""
    from needlework.stages.runtime import step_log

    log = tmp_path / "train.log"
    with step_log(log):
        finetune(model_cfg(workspace, LONG_NATIVE), LORA, TRAIN, workspace["jsonl"], tmp_path / "run", seed=0)
    text = log.read_text()
    assert "\r" not in text
    lines = [line for line in text.splitlines() if line.startswith("train:")]
    assert "0/4" in lines[0] and "4/4" in lines[-1]
