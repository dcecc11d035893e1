"""Configuration: compose `conf/` with Hydra, validate it, and derive the keys that name result paths.

The resolved configuration is a plain dict. Everything the workflow does is a function of it.
"""
from __future__ import annotations

import hashlib
import json
import shlex
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

RESERVED_MODELS = ("base", "finetuned")
# What an `openai` model file may leave out (DESIGN.md: base_url, model and api_key_env are all a user writes).
OPENAI_MODEL_DEFAULTS: dict[str, Any] = {
    "api_key_env": None, "json_mode": "object", "max_concurrency": 8, "temperature": 0.0, "max_tokens": 256,
    "max_retries": 6, "timeout_s": 120.0, "price_input_per_1m": 0.0, "price_output_per_1m": 0.0, "tokenizer": None,
    "schema_in_prompt": True,
}
HF_MODEL_DEFAULTS: dict[str, Any] = {"attn_implementation": "sdpa", "chat_template": None,
                                     "modules_to_save": None}
# Sources whose records carry a wiki_bio-style infobox (what the infobox labeler parses); a jsonl file has none.
INFOBOX_SOURCES = ("synthetic", "wiki_bio")


class ConfigError(ValueError):
    """A configuration problem; the message names the config key."""


def default_config_dir() -> Path:
    """`conf/` of the working directory (the repository root when run through Snakemake)."""
    return Path.cwd() / "conf"


def parse_overrides(overrides: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Split the `--config overrides="a=1 b=[2,3]"` string into Hydra override tokens."""
    if not overrides:
        return []
    if isinstance(overrides, str):
        return shlex.split(overrides)
    return list(overrides)


def compose(overrides: str | list[str] | None = None, config_dir: str | Path | None = None) -> dict[str, Any]:
    """Compose `config.yaml` with Hydra overrides, resolve interpolations, validate, return a plain dict.

    Raises ConfigError naming the key for unknown keys, missing required values and invalid values.
    """
    tokens = parse_overrides(overrides)
    config_dir = Path(config_dir or default_config_dir()).resolve()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=tokens, return_hydra_config=True)
        choices = dict(cfg.hydra.runtime.choices)
        searchpath = list(cfg.hydra.searchpath)
        with open_dict(cfg):
            del cfg["hydra"]
        resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"config: {_describe(exc)}") from None
    resolved["model"]["name"] = choices["model"]
    resolved["_meta"] = {"config_dir": str(config_dir), "overrides": tokens, "searchpath": searchpath,
                         "choices": {k: v for k, v in choices.items() if not k.startswith("hydra")}}
    validate(resolved)
    return resolved


def model_config(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The config of an evaluated model: `base`/`finetuned` are the experiment's own model, others are
    `conf/model/<name>.yaml` (or the same file in a `hydra.searchpath` directory)."""
    if name in RESERVED_MODELS:
        return dict(cfg["model"], name=name)
    model = group_config(cfg, "model", name, where="eval.models")
    model["name"] = name
    _validate_against(model, {"$ref": "#/$defs/model", "$defs": _schema()["$defs"]}, f"model '{name}'")
    defaults = OPENAI_MODEL_DEFAULTS if model["backend"] == "openai" else HF_MODEL_DEFAULTS
    return {**defaults, **model}


def group_config(cfg: dict[str, Any], group: str, option: str, where: str) -> dict[str, Any]:
    """Compose another option of a config group (e.g. `labeler=openai`) with the experiment's search path."""
    from hydra.core.global_hydra import GlobalHydra

    meta = cfg["_meta"]
    extra = [t for t in meta["overrides"] if t.startswith("hydra.searchpath")]
    outer = GlobalHydra.instance().hydra  # set inside a Hydra app (a sweep job): put back afterwards
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=meta["config_dir"], version_base="1.3"):
            sub = hydra_compose(config_name="config", overrides=[*extra, f"{group}={option}"])
        return OmegaConf.to_container(sub[group], resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"config key {where}: {group} '{option}': {_describe(exc)}") from None
    finally:
        GlobalHydra.instance().clear()
        if outer is not None:
            GlobalHydra.instance().initialize(outer)


def validate(cfg: dict[str, Any]) -> None:
    """Check the resolved config against the JSON schema and the rules that tie keys together; the error names
    the offending key."""
    _validate_against({k: v for k, v in cfg.items() if k != "_meta"}, _schema(), "config")
    if cfg["model"]["backend"] != "hf":
        raise ConfigError(
            f"config key model: '{cfg['model']['name']}' is an {cfg['model']['backend']} endpoint, but the experiment's "
            "model must be an hf model (its tokenizer builds the prompts and it is the one fine-tuned); evaluate "
            f"API models beside it with eval.models=[base,finetuned,{cfg['model']['name']}]")
    _check_labelers(cfg)
    if cfg["context"]["needles_per_cell"] > cfg["needles"]["n_eval"]:
        raise ConfigError(f"config key context.needles_per_cell: {cfg['context']['needles_per_cell']} needles per "
                          f"cell need at least as many evaluation needles (needles.n_eval is "
                          f"{cfg['needles']['n_eval']}); a needle would repeat within a cell")


def _check_labelers(cfg: dict[str, Any]) -> None:
    """The labeler it is compared with must be able to run on the configured source (the experiment's own
    labeler=infobox on a source without infoboxes stops at the labels step, so `snakemake corpus` still runs)."""
    source, label_field = cfg["data"]["source"], cfg["data"].get("label_field")
    if cfg["labeler"]["kind"] == "field" and not label_field:
        raise ConfigError("config key data.label_field: labeler=field needs the field that holds the labels")
    other = cfg["labeler"].get("compare_with")
    if not other or "_meta" not in cfg:
        return
    other_kind = group_config(cfg, "labeler", other, "labeler.compare_with")["kind"]
    if other_kind == "infobox" and source not in INFOBOX_SOURCES:
        raise ConfigError(f"config key labeler.compare_with: '{other}' labels are parsed from infoboxes, which a "
                          f"data={source} source does not have; set labeler.compare_with=null (no comparison), or "
                          "compare with the source's own labels (labeler.compare_with=field with data.label_field)")
    if other_kind == "field" and not label_field:
        raise ConfigError(f"config key labeler.compare_with: '{other}' labels are read from the source, which needs "
                          "data.label_field (the field that holds them); set it, or set labeler.compare_with=null")


def fingerprint(*parts: Any) -> str:
    """Short stable hash of config subtrees (and upstream keys): names result directories."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("needlework").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _validate_against(instance: Any, schema: dict[str, Any], what: str) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "<root>"
        if key.endswith("api_key_env"):  # never echo what may be a pasted key
            raise ConfigError(f"{what} key {key}: must be the NAME of an environment variable holding the key "
                              "(the key itself never goes into a config file)")
        raise ConfigError(f"{what} key {key}: {err.message}")


def _describe(exc: Exception) -> str:
    """Hydra/OmegaConf errors as one line that names the key."""
    full_key = getattr(exc, "full_key", None)
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = " ".join(lines[:2] + [", ".join(ln for ln in lines[2:] if " " not in ln)]).strip() or type(exc).__name__
    if full_key and full_key not in text:
        text = f"key {full_key}: {text}"
    return text

