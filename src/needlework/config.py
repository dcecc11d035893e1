"""Configuration: compose `conf/` with Hydra, validate it, and derive the keys that name result paths.

The resolved configuration is a plain dict. Everything the workflow does is a function of it. Snakemake hands its
`config` dict over whole (:func:`workflow_overrides`): `--config overrides="lora=r64 context.lengths=[256, 512]"`
(Hydra overrides; a list may hold spaces), `--config lora=r64` or `--config 'train={max_steps: 6}'` (a config
group or top-level key) and `--configfile FILE` (a YAML of such keys) all become the same Hydra overrides; any
other key stops the run, naming the nearest key. `--config print_config=true` prints the composed config and exits.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

# The experiment's own model under evaluation names: base, its fine-tune, and the RAFT rows base_closed (asked
# without documents) and dsf (its closed-book fine-tune, needlework.raft.prompts.CLOSED_BOOK).
RAFT_ROWS = ("base_closed", "dsf")  # evaluated by the RAFT track only
RESERVED_MODELS = ("base", "finetuned", *RAFT_ROWS)
# What an `openai` model file may leave out (base_url, model and api_key_env are all a user writes).
OPENAI_MODEL_DEFAULTS: dict[str, Any] = {
    "api_key_env": None, "json_mode": "object", "max_concurrency": 8, "temperature": 0.0, "max_tokens": 256,
    "max_retries": 6, "timeout_s": 120.0, "price_input_per_1m": 0.0, "price_output_per_1m": 0.0, "tokenizer": None,
    "schema_in_prompt": True,
}
HF_MODEL_DEFAULTS: dict[str, Any] = {"attn_implementation": "sdpa", "chat_template": None,
                                     "modules_to_save": None, "schema_in_prompt": False}
# Sources whose records carry a wiki_bio-style infobox (what the infobox labeler parses); a jsonl file has none.
INFOBOX_SOURCES = ("synthetic", "wiki_bio")
# Keys of Snakemake's `config` that are no config keys: the Hydra override string, the print flag, and what the
# workflow itself puts there for its jobs (the resolved config).
WORKFLOW_KEYS = ("overrides", "print_config", "cfg")


class ConfigError(ValueError):
    """A configuration problem; the message names the config key."""


def default_config_dir() -> Path:
    """`conf/` of the working directory (the repository root when run through Snakemake)."""
    return Path.cwd() / "conf"


def parse_overrides(overrides: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Split the `--config overrides="a=1 b=[2, 3]"` string into Hydra override tokens (a bracketed value with
    spaces stays one token)."""
    if not overrides:
        return []
    if isinstance(overrides, str):
        tokens: list[str] = []
        for token in shlex.split(overrides):
            if tokens and _open_brackets(tokens[-1]) > 0:
                tokens[-1] += " " + token
            else:
                tokens.append(token)
        return tokens
    return list(overrides)


def _open_brackets(token: str) -> int:
    return sum(token.count(c) for c in "[{(") - sum(token.count(c) for c in "]})")


def workflow_overrides(config: Mapping[str, Any], config_dir: str | Path | None = None) -> list[str]:
    """The Hydra overrides that Snakemake's `config` dict stands for: each `--config KEY=VALUE` or `--configfile`
    entry (a config group, a top-level key, or in a file a dotted key such as `data.path`; a mapping value sets the
    keys under it), then the `overrides` string, which wins. An unknown key raises ConfigError naming it and the
    nearest known key."""
    known = _top_level_keys(Path(config_dir or default_config_dir()))
    tokens: list[str] = []
    for key, value in config.items():
        if key in WORKFLOW_KEYS:
            continue
        if key.split(".")[0] not in known:
            raise ConfigError(
                f"--config/--configfile key {key!r} is not a config key{_did_you_mean(key, [*known, 'overrides'])}; "
                f"nothing was run (write --config overrides=\"lora=r64 train.max_steps=6\" for Hydra overrides, "
                f"or a config group or top-level key: {', '.join(sorted(known))})")
        tokens += _as_overrides(key, value)
    raw = config.get("overrides")
    if raw is not None and not isinstance(raw, (str, list)):
        raise ConfigError(f"--config overrides: expected a string of Hydra overrides, got {raw!r} "
                          "(write --config overrides=\"lora=r64 seed=1\")")
    return tokens + parse_overrides(raw)


def print_requested(config: Mapping[str, Any]) -> bool:
    """Whether `--config print_config=true` asks for the composed config instead of a run."""
    value = str(config.get("print_config", "false")).lower()
    if value not in ("true", "false", "job"):
        raise ConfigError(f"--config print_config: expected true or false, got {config['print_config']!r}")
    return value != "false"


def to_yaml(cfg: dict[str, Any]) -> str:
    """The resolved config as YAML (what `--config print_config=true` prints), its overrides as a comment."""
    meta = cfg.get("_meta", {})
    body = yaml.safe_dump({k: v for k, v in cfg.items() if k != "_meta"}, sort_keys=False, allow_unicode=True)
    return f"# composed with overrides: {' '.join(meta.get('overrides', [])) or '(none)'}\n{body}"


def _plain_override(text: str) -> bool:
    """Whether Hydra's grammar takes `key=<text>` as one value (else the string is quoted)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return not OverridesParser.create().parse_override(f"key={text}").is_sweep_override()
    except HydraException:
        return False


def _top_level_keys(config_dir: Path) -> set[str]:
    """What a Snakemake config key may name: a key of the schema, a config group (a folder of conf/), hydra."""
    groups = {p.name for p in config_dir.iterdir() if p.is_dir() and any(p.glob("*.yaml"))}
    return {*_schema()["properties"], *groups, "hydra"}


def _as_overrides(key: str, value: Any) -> list[str]:
    if isinstance(value, Mapping):
        if not value:
            raise ConfigError(f"--config/--configfile key {key}: an empty mapping sets nothing; remove it")
        return [token for sub, item in value.items() for token in _as_overrides(f"{key}.{sub}", item)]
    return [f"{key}={_hydra_value(value)}"]


def _hydra_value(value: Any) -> str:
    """A YAML value in Hydra's override grammar (a string stays as written, as on Hydra's command line)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and not _plain_override(value):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


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
        raise ConfigError(_composition_error(exc)) from None
    resolved["model"]["name"] = choices["model"]
    resolved["_meta"] = {"config_dir": str(config_dir), "overrides": tokens, "searchpath": searchpath,
                         "choices": {k: v for k, v in choices.items() if not k.startswith("hydra")}}
    validate(resolved)
    return resolved


def check_keys(tokens: list[str], config_dir: str | Path | None = None) -> None:
    """Raise ConfigError naming the nearest existing key when an override names a key the config lacks. Plain
    overrides are composed (not validated); a sweep's (`a,b`, `choice(...)`) key is looked up in that config."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    config_dir = Path(config_dir or default_config_dir()).resolve()
    tokens = [t for t in tokens if not t.lstrip("+~").startswith("hydra") or t.startswith("hydra.searchpath")]
    try:
        parsed = OverridesParser.create().parse_overrides(tokens)
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            plain = [t for t, o in zip(tokens, parsed, strict=True) if not o.is_sweep_override()]
            cfg = hydra_compose(config_name="config", overrides=plain, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_composition_error(exc)) from None
    keys = {*_flat_keys({k: v for k, v in OmegaConf.to_container(cfg).items() if k != "hydra"}),
            *cfg.hydra.runtime.choices}
    for o in parsed:
        if o.is_sweep_override() and not o.is_add() and o.key_or_group not in keys:
            raise ConfigError(f"config key {o.key_or_group}: not in the config{_did_you_mean(o.key_or_group, keys)}")


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
    raft_rows = [m for m in cfg["eval"]["models"] if m in RAFT_ROWS]
    if raft_rows:
        raise ConfigError(f"config key eval.models: {', '.join(raft_rows)} are rows of the RAFT table (set them in "
                          "raft.eval.models); the long-context grid evaluates base, finetuned and model files")
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
        unexpected = re.findall(r"'([^']+)'", err.message.rpartition("(")[2]) if "unexpected" in err.message else []
        if unexpected and isinstance(err.instance, dict):
            known = [k for k in err.instance if k not in unexpected]
            near = difflib.get_close_matches(unexpected[0], known, n=1, cutoff=0.6)
            if near:
                raise ConfigError(f"{what} key {key}: {err.message} (did you mean "
                                  f"{near[0] if key == '<root>' else f'{key}.{near[0]}'}?)")
        raise ConfigError(f"{what} key {key}: {err.message}")


def _did_you_mean(key: str, candidates: Iterable[str]) -> str:
    """` (did you mean <the nearest candidate>?)`, or nothing when none is near."""
    near = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""


def _flat_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping, inner nodes included."""
    if not isinstance(node, Mapping):
        return []
    return [k for key, value in node.items() for k in (f"{prefix}{key}", *_flat_keys(value, f"{prefix}{key}."))]


def _composition_error(exc: Exception) -> str:
    """A Hydra composition error as one line naming the key; an unknown key or option gets the nearest one."""
    cause = exc.__cause__
    if isinstance(cause, (ConfigKeyError, AttributeError)) and getattr(cause, "parent_node", None) is not None:
        key = cause.full_key or str(cause.key)  # the first node of the override's key that is missing
        written = re.search(r"Could not override '([^']+)'", str(exc))
        written = written.group(1) if written and written.group(1).startswith(key) else key
        tree = OmegaConf.to_container(cause.parent_node._get_root(), resolve=False)
        keys = _flat_keys({k: v for k, v in tree.items() if k != "hydra"})
        parent, _, leaf = key.rpartition(".")
        siblings = [k.removeprefix(f"{parent}.") for k in keys if k.rpartition(".")[0] == parent]
        near = difflib.get_close_matches(leaf, siblings, n=1, cutoff=0.6)
        hint = (f" (did you mean {parent + '.' if parent else ''}{near[0]}{written[len(key):]}?)" if near else
                f"; keys {f'under {parent}' if parent else 'at the top'}: {', '.join(siblings)}")
        return f"config key {written}: not in the config{hint}"
    missing = re.search(r"Could not find '([^']+)/([^']+)'", str(exc))
    if isinstance(exc, MissingConfigException) and missing and exc.options:
        return f"config: {_describe(exc)}{_did_you_mean(missing.group(2), exc.options)}"
    return f"config: {_describe(exc)}"


def _describe(exc: Exception) -> str:
    """Hydra/OmegaConf errors as one line that names the key."""
    full_key = getattr(exc, "full_key", None)
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = " ".join(lines[:2] + [", ".join(ln for ln in lines[2:] if " " not in ln)]).strip() or type(exc).__name__
    if full_key and full_key not in text:
        text = f"key {full_key}: {text}"
    return text

