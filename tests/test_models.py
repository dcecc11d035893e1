"""Tiny-model building, RoPE scaling and model/tokenizer/adapter loading (needlework.models)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from faker import Faker

from needlework.io import InputError
from needlework.models import build_tiny, load_model, load_tokenizer, model_path, rope_scaling_for
from needlework.tokenizer import CHAT_TEMPLATE, train_tokenizer

BUILD = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "vocab_size": 2048}
NATIVE = 64


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    faker = Faker()
    faker.seed_instance(0)
    tokenizer = train_tokenizer([faker.paragraph(nb_sentences=5).lower() for _ in range(100)], vocab_size=400)
    path = tmp_path_factory.mktemp("tok") / "tokenizer"
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_dir(tokenizer_dir, tmp_path_factory) -> Path:
    return build_tiny(tokenizer_dir, BUILD, NATIVE, seed=0, out_dir=tmp_path_factory.mktemp("m") / "tiny")


def model_cfg(path, **extra) -> dict:
    return {"name": "tiny", "backend": "hf", "path": None if path is None else str(path), "native_context": NATIVE,
            "dtype": "float32", "attn_implementation": "sdpa", "chat_template": None, **extra}


def test_build_tiny_is_deterministic_and_sized_from_tokenizer(tokenizer_dir, tiny_dir, tmp_path):
    again = build_tiny(tokenizer_dir, BUILD, NATIVE, seed=0, out_dir=tmp_path / "again")
    other = build_tiny(tokenizer_dir, BUILD, NATIVE, seed=1, out_dir=tmp_path / "other")
    weights = (tiny_dir / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == weights
    assert (other / "model.safetensors").read_bytes() != weights
    config = json.loads((tiny_dir / "config.json").read_text())
    tokenizer = load_tokenizer(model_cfg(tiny_dir))
    assert config["vocab_size"] == len(tokenizer) == 400
    assert config["max_position_embeddings"] == NATIVE
    assert (config["hidden_size"], config["num_hidden_layers"]) == (32, 2)
    assert tokenizer.eos_token == "<|end|>" and tokenizer.pad_token == "<|pad|>"


def test_build_tiny_bad_config_leaves_nothing(tokenizer_dir, tmp_path):
    with pytest.raises(InputError, match="model.build.num_heads"):
        build_tiny(tokenizer_dir, {**BUILD, "num_heads": 5}, NATIVE, seed=0, out_dir=tmp_path / "bad")
    with pytest.raises(InputError, match="model.build.intermediate_size"):
        build_tiny(tokenizer_dir, {k: v for k, v in BUILD.items() if k != "intermediate_size"}, NATIVE, 0,
                   tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []


def test_rope_scaling_for():
    assert rope_scaling_for(4096, 4096, "linear") is None
    assert rope_scaling_for(4096, 16384, "linear") == {"rope_type": "linear", "factor": 4.0}
    assert rope_scaling_for(512, 1100, "dynamic") == {"rope_type": "dynamic", "factor": 2.15}
    assert rope_scaling_for(4096, 16512, "linear")["factor"] == 4.04  # rounded up: 4.03125 would not cover it
    assert rope_scaling_for(4096, 8192, "yarn") == {
        "rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 4096}
    with pytest.raises(ValueError, match="train.rope_type"):
        rope_scaling_for(4096, 100, "ntk")


@pytest.mark.parametrize("rope_type", ["linear", "dynamic", "yarn"])
def test_rope_scaled_model_runs_at_twice_native_context(tiny_dir, tmp_path, rope_type):
    # A base whose rope_theta is not the default: scaling must keep it.
    base = tmp_path / "base"
    base.mkdir()
    for f in tiny_dir.iterdir():
        (base / f.name).write_bytes(f.read_bytes())
    config = json.loads((base / "config.json").read_text())
    config["rope_parameters"]["rope_theta"] = 12345.0
    (base / "config.json").write_text(json.dumps(config))

    model = load_model(model_cfg(base), rope_scaling=rope_scaling_for(NATIVE, 2 * NATIVE, rope_type))
    assert model.config.rope_parameters["rope_type"] == rope_type
    assert model.config.rope_parameters["factor"] == 2.0
    assert model.config.rope_parameters["rope_theta"] == 12345.0
    with torch.no_grad():
        logits = model(torch.arange(2 * NATIVE).unsqueeze(0) % 300).logits
    assert logits.shape == (1, 2 * NATIVE, 400)
    assert torch.isfinite(logits).all()
    unscaled = load_model(model_cfg(base))
    assert unscaled.config.rope_parameters == {"rope_type": "default", "rope_theta": 12345.0}


def test_missing_base_path_names_the_config_key(tmp_path):
    missing = tmp_path / "no-such-model"
    for load in (load_model, load_tokenizer):
        with pytest.raises(InputError, match=f"model.path.*{missing}"):
            load(model_cfg(missing))
    with pytest.raises(InputError, match="model.path: no base model"):
        load_model(model_cfg(None))


def test_hub_id_missing_offline_is_a_clear_error():
    with pytest.raises(InputError, match="model.path.*no-such-org/no-such-model"):
        load_tokenizer(model_cfg("no-such-org/no-such-model"))


def hub_cache_with_two_commits(tiny_dir: Path, hub: Path) -> tuple[str, str]:
    """A local Hugging Face cache (the layout `hf download` writes) holding `org/tiny` at two commits: `main`
    points at the newer, whose one weight differs; the tag `v1` at the older."""
    from safetensors.torch import load_file, save_file

    repo, old, new = hub / "models--org--tiny", "a" * 40, "b" * 40
    for commit in (old, new):
        shutil.copytree(tiny_dir, repo / "snapshots" / commit)
    weights = repo / "snapshots" / new / "model.safetensors"
    state = load_file(weights)
    state["lm_head.weight"] = state["lm_head.weight"] + 1.0
    save_file(state, weights, metadata={"format": "pt"})
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(new)
    (repo / "refs" / "v1").write_text(old)
    return old, new


def test_a_pinned_hub_revision_loads_that_commit_offline_and_keys_results_by_it(tiny_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants

    from needlework.identity import hub_revision, model_identity
    from needlework.stages.preflight import uncached_hub_models

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    old, new = hub_cache_with_two_commits(tiny_dir, tmp_path / "hub")
    hub_revision.cache_clear()
    local = load_model(model_cfg(tiny_dir)).lm_head.weight
    latest = load_model(model_cfg("org/tiny")).lm_head.weight
    pinned = load_model(model_cfg("org/tiny", revision="v1")).lm_head.weight
    assert torch.equal(pinned, local) and torch.equal(latest, local + 1.0)
    assert load_tokenizer(model_cfg("org/tiny", revision=old)).chat_template
    assert model_identity(model_cfg("org/tiny")) == f"hub:org/tiny@{new}"
    assert model_identity(model_cfg("org/tiny", revision="v1")) == f"hub:org/tiny@{old}"

    # a revision the cache lacks stops before any job, with the command that fetches it
    problems = uncached_hub_models({"model.path": model_cfg("org/tiny", revision="v2"),
                                    "model 'other' path": model_cfg("org/tiny", revision="v1")})
    assert len(problems) == 1 and "'v2'" in problems[0] and "hf download org/tiny --revision v2" in problems[0]
    with pytest.raises(InputError, match="org/tiny.*revision 'v2'.*model.revision"):
        load_model(model_cfg("org/tiny", revision="v2"))
    # a local directory has no revision to pin
    with pytest.raises(InputError, match="model.revision: 'v1' pins a version of a hub model"):
        load_model(model_cfg(tiny_dir, revision="v1"))
    hub_revision.cache_clear()


def test_relative_local_path_becomes_absolute(tiny_dir, monkeypatch):
    monkeypatch.chdir(tiny_dir.parent)
    assert model_path(model_cfg(tiny_dir.name)) == str(tiny_dir.resolve())


def test_missing_adapter_dir_is_a_clear_error(tiny_dir, tmp_path):
    with pytest.raises(InputError, match=f"adapter directory {tmp_path / 'nope'} does not exist"):
        load_model(model_cfg(tiny_dir), adapter_dir=tmp_path / "nope")
    with pytest.raises(InputError, match="neither adapter_config.json nor config.json"):
        load_model(model_cfg(tiny_dir), adapter_dir=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_qlora_on_cpu_fails_before_loading(tmp_path):
    # The path does not exist either: the GPU check must come first.
    with pytest.raises(InputError, match="lora.method=qlora needs a CUDA GPU"):
        load_model(model_cfg(tmp_path / "absent"), quantization="4bit", for_training=True)


def test_tokenizer_without_chat_template(tiny_dir, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in tiny_dir.iterdir():
        if f.name != "chat_template.jinja":
            (bare / f.name).write_bytes(f.read_bytes())
    with pytest.raises(InputError, match="'tiny'.*no chat template.*model.chat_template"):
        load_tokenizer(model_cfg(bare))
    tokenizer = load_tokenizer(model_cfg(bare, chat_template=CHAT_TEMPLATE))
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt == "<|bos|><|user|>hi<|end|><|assistant|>"
    assert tokenizer.padding_side == "left"


def test_template_without_system_role_folds_the_system_prompt(tmp_path):
    """Mistral-Instruct's template raises on a system message; prompts must still render, identically framed."""
    from needlework.models import load_tokenizer
    from needlework.tokenizer import train_tokenizer

    mistral_like = (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% elif m['role'] == 'user' %}"
        "[INST] {{ m['content'] }} [/INST]{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    )
    tok = train_tokenizer(["a tiny corpus of words for the test tokenizer"] * 20, vocab_size=300)
    tok.chat_template = mistral_like
    tok.save_pretrained(tmp_path / "tok")
    loaded = load_tokenizer({"name": "m", "path": str(tmp_path / "tok"), "chat_template": None})
    text = loaded.apply_chat_template(
        [{"role": "system", "content": "extract"}, {"role": "user", "content": "bio"}],
        tokenize=False, add_generation_prompt=True)
    assert text == "<|bos|>[INST] extract\n\nbio [/INST]"
