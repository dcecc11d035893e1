"""Result paths [contract]: `results/<stage>/<readable-name>-<short hash of what it depends on>`.

Each stage's key hashes the config subtree it reads together with its inputs: upstream keys and the content
identities of models, tokenizers and data (needlework.identity), never a model's path. So two sweeps never
overwrite each other, an upstream step shared by several combinations is computed once, new weights rerun
training and evaluation but not the haystacks (a new tokenizer reruns those too), and a model copied elsewhere
changes nothing. What went into each key is kept (:meth:`Paths.provenance_of`) for the folder's provenance file.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from needlework.config import RESERVED_MODELS, fingerprint, model_config
from needlework.identity import (Keys, converted_dir, data_identity, hash_cache, model_identity, semantic,
                                 settings, tokenizer_identity)

# A training cost setting and whether a merged copy is exported do not change the adapter.
_TRAIN_KEYS_NOT_IN_HASH = ("gpu_hour_usd", "export_merged")


class Paths:
    """Every output location of one composed experiment."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        root = Path(cfg["results_dir"])
        self.root = root
        self.hash_cache = hash_cache()
        self.keys = keys = Keys()
        seed = cfg["seed"]
        data, needles, model, context = cfg["data"], cfg["needles"], cfg["model"], cfg["context"]
        labeler = semantic(cfg["labeler"])

        self.k_corpus = keys.key("corpus", {"data": settings(data), "seed": seed},
                                 {"data": data_identity(data.get("path"), self.hash_cache)})
        self.k_needles = keys.key("needles", {"needles": needles, "seed": seed}, {"corpus": self.k_corpus})
        self.k_labels = keys.key("labels", {"labeler": labeler}, {"needles": self.k_needles})
        # A built (tiny) model is trained on this corpus; a hub/local/GGUF model is the same whatever the data.
        built = self.builds_tiny
        self.model_identity = model_identity(model, self.hash_cache)
        self.tokenizer_identity = tokenizer_identity(model, self.hash_cache)
        self.k_model = keys.key("model", {"model": settings(semantic(model)), **({"seed": seed} if built else {})},
                                {"labels": self.k_labels} if built else {"model": self.model_identity})
        # Haystacks depend on the tokenizer only (not on the weights, dtype or attention kernel of the model).
        tokenizer = ({"model": self.k_model} if built
                     else {"tokenizer": self.tokenizer_identity, "chat_template": model.get("chat_template")})
        self.k_train_hay = keys.key(
            "haystacks_train", {"context": {k: context[k] for k in ("train_lengths", "train_examples")},
                                "seed": seed}, {"labels": self.k_labels, **tokenizer})
        self.k_eval_hay = keys.key(
            "haystacks_eval", {"context": {k: context[k] for k in ("lengths", "depths", "needles_per_cell")},
                               "seed": seed}, {"labels": self.k_labels, **tokenizer})
        train = {k: v for k, v in cfg["train"].items() if k not in _TRAIN_KEYS_NOT_IN_HASH}
        self.k_train = keys.key("train", {"lora": cfg["lora"], "train": train, "seed": seed},
                                {"haystacks_train": self.k_train_hay, "model": self.k_model,
                                 "model_identity": self.model_identity})

        name = model["name"]
        self.corpus_dir = root / "corpus" / f"{data['source']}-{self.k_corpus}"
        self.needles_dir = root / "needles" / f"{data['source']}-{self.k_needles}"
        self.labels_dir = root / "labels" / f"{cfg['labeler']['kind']}-{self.k_labels}"
        self.model_dir = (converted_dir(root, model["gguf"]) if model.get("gguf")
                          else root / "models" / f"{name}-{self.k_model}")
        self.train_hay_dir = root / "haystacks" / f"train-{name}-{self.k_train_hay}"
        self.eval_hay_dir = root / "haystacks" / f"eval-{name}-{self.k_eval_hay}"
        lora = cfg["lora"]
        adapter = "full" if lora["method"] == "full" else f"{lora['method']}{lora['r']}"
        self.train_dir = root / "train" / f"{name}-{adapter}-{self.k_train}"
        # Scores depend on the scoring mode (eval.scoring); the baseline's answers do not depend on any model.
        k_baseline = keys.key("baseline", {"eval": {"scoring": cfg["eval"]["scoring"]}},
                              {"haystacks_eval": self.k_eval_hay})
        self.baseline_dir = root / "evaluate" / f"majority-{k_baseline}"
        self.latest_report_dir = root / "report" / cfg["name"]  # a link to the latest keyed report
        self.tracking_db = root / "mlflow.db"

    @cached_property
    def report_dir(self) -> Path:
        """`results/report/<experiment>-<key>`: the key holds everything the report reads (the evaluated models'
        keys and prices, the training cost rate, what its notes say), so sweep combinations never overwrite each
        other and a price change rebuilds the report alone."""
        cfg, models = self.cfg, self.cfg["eval"]["models"]
        notes = {"name": cfg["name"], "seed": cfg["seed"], "source": cfg["data"]["source"],
                 "model": cfg["model"]["name"], "native_context": cfg["model"]["native_context"], "lora": cfg["lora"]}
        config = {"models": [settings(model_config(cfg, m)) for m in models], "notes": notes,
                  "train": {"gpu_hour_usd": cfg["train"]["gpu_hour_usd"]},
                  "eval": {"effective_margin": cfg["eval"]["effective_margin"]}}
        inputs = {"evaluate": [self.eval_key(m) for m in models], "haystacks_eval": self.k_eval_hay,
                  "labels": self.k_labels, "train": self.k_train if "finetuned" in models else None}
        return self.root / "report" / f"{cfg['name']}-{self.keys.key('report', config, inputs)}"

    def provenance_of(self, out_dir: str | Path) -> dict[str, Any] | None:
        """The stage, key, config subtree and input identities of a result folder of this experiment (None for
        another folder)."""
        self.report_dir  # names every evaluated model's folder too
        return self.keys.of(out_dir)

    @property
    def builds_model(self) -> bool:
        """True when the experiment's model is made by the workflow: the tiny Llama built here, or a packaged GGUF
        converted here (both live in :attr:`model_dir`)."""
        return self.cfg["model"]["path"] is None

    @property
    def builds_tiny(self) -> bool:
        """True when the experiment's model is the tiny Llama built and pretrained on this corpus."""
        return self.cfg["model"]["path"] is None and not self.cfg["model"].get("gguf")

    def labels_dir_for(self, labeler_cfg: dict[str, Any]) -> Path:
        """Labels of the same needles by another labeler (for the agreement table)."""
        key = self.keys.key("labels", {"labeler": semantic(labeler_cfg)}, {"needles": self.k_needles})
        return self.root / "labels" / f"{labeler_cfg['kind']}-{key}"

    def _answers(self, model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The config and inputs an evaluated model's answers depend on (not how they are scored): its settings, its
        weights' identity (never its path), the grid, and what it is made of here (the fine-tune, the built base)."""
        mcfg = semantic(model_config(self.cfg, model_name))
        hf = mcfg["backend"] == "hf"
        upstream = {"train": self.k_train} if model_name == "finetuned" else (
            {"model": self.k_model} if model_name == "base" else {})
        config = {"model": settings(mcfg), "eval": {"max_new_tokens": self.cfg["eval"]["max_new_tokens"]} if hf else {}}
        if mcfg.get("rope_scaling") == "from_finetune":  # its RoPE factor is the fine-tune's: what chooses it
            upstream = {"haystacks_train": self.k_train_hay}
            config["train"] = {k: self.cfg["train"][k] for k in ("rope_type", "max_answer_tokens")}
        inputs = {"haystacks_eval": self.k_eval_hay, **upstream,
                  "model_identity": model_identity(mcfg, self.hash_cache) if hf else None}
        return config, inputs

    def prediction_key(self, model_name: str) -> str:
        """Readable name + hash of what an evaluated model's answers depend on: names its answer cache, so a change
        of eval.scoring rescores without asking the model again, and a copy of the model elsewhere asks nothing."""
        return f"{model_name}-{self.keys.key('predictions', *self._answers(model_name))}"

    def eval_key(self, model_name: str) -> str:
        """Readable name + hash of what an evaluated model's scores depend on: its answers and eval.scoring. A base
        scaled like its fine-tune also names that fine-tune (an input of its step), so sweep combinations never
        share its output, while its answers, cached by :meth:`prediction_key`, are reused across them."""
        config, inputs = self._answers(model_name)
        config["eval"] = {**config["eval"], "scoring": self.cfg["eval"]["scoring"]}
        if model_config(self.cfg, model_name).get("rope_scaling") == "from_finetune":
            inputs["train"] = self.k_train
        return f"{model_name}-{self.keys.key('evaluate', config, inputs)}"

    def identity_file(self, model_name: str, what: str = "model") -> Path | None:
        """`results/identity/<model>[-tokenizer]-<hash>.json`: the file recording an evaluated model's identity
        (``what``: model or tokenizer), an input of the steps that use it; None for a model built here."""
        mcfg = self.cfg["model"] if model_name in RESERVED_MODELS else model_config(self.cfg, model_name)
        if mcfg["backend"] != "hf":
            return None
        found = (tokenizer_identity if what == "tokenizer" else model_identity)(mcfg, self.hash_cache)
        suffix = "-tokenizer" if what == "tokenizer" else ""
        return self.root / "identity" / f"{mcfg['name']}{suffix}-{fingerprint(found)}.json" if found else None

    def llm_cache(self, what: str, endpoint: dict[str, Any]) -> Path:
        """One content-addressed response cache per endpoint and model, shared by every key and experiment: a
        request answered once is never paid for again."""
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in endpoint["model"])[-48:]
        return self.root / "cache" / f"{what}-{slug}-{fingerprint(endpoint['base_url'], endpoint['model'])}.jsonl"

    def eval_dir(self, model_name: str) -> Path:
        return self.root / "evaluate" / self.eval_key(model_name)
