"""Result paths [contract]: `results/<stage>/<readable-name>-<short hash of the config it depends on>`.

Each stage's key hashes its own config subtree together with its upstream keys, so two sweeps never
overwrite each other and an upstream step shared by several combinations is computed once.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from needlework.config import fingerprint, model_config
from needlework.identity import converted_dir, semantic, weights_identity

# A training cost setting and whether a merged copy is exported do not change the adapter.
_TRAIN_KEYS_NOT_IN_HASH = ("gpu_hour_usd", "export_merged")


class Paths:
    """Every output location of one composed experiment."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        root = Path(cfg["results_dir"])
        self.root = root
        seed = cfg["seed"]
        data, needles, model, context = cfg["data"], cfg["needles"], cfg["model"], cfg["context"]
        labeler = semantic(cfg["labeler"])

        self.k_corpus = fingerprint(data, seed)
        self.k_needles = fingerprint(self.k_corpus, needles)
        self.k_labels = fingerprint(self.k_needles, labeler)
        # A built (tiny) model is trained on this corpus; a hub/local/GGUF model is the same whatever the data.
        weights = weights_identity(model)
        built = self.builds_tiny
        self.k_model = fingerprint(semantic(model), seed, self.k_labels if built else weights)
        # Haystacks depend on the tokenizer only (not on dtype or attention kernel of the same model).
        k_tokenizer = (self.k_model if built
                       else fingerprint(model["path"], model.get("chat_template"), *[weights] * bool(weights)))
        self.k_train_hay = fingerprint(self.k_labels, k_tokenizer, context["train_lengths"],
                                       context["train_examples"], seed)
        self.k_eval_hay = fingerprint(self.k_labels, k_tokenizer, context["lengths"], context["depths"],
                                      context["needles_per_cell"], seed)
        train = {k: v for k, v in cfg["train"].items() if k not in _TRAIN_KEYS_NOT_IN_HASH}
        self.k_train = fingerprint(self.k_train_hay, self.k_model, cfg["lora"], train, seed)

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
        self.baseline_dir = root / "evaluate" / f"majority-{fingerprint(self.k_eval_hay, cfg['eval']['scoring'])}"
        self.latest_report_dir = root / "report" / cfg["name"]  # a link to the latest keyed report
        self.tracking_db = root / "mlflow.db"

    @cached_property
    def report_dir(self) -> Path:
        """`results/report/<experiment>-<key>`: the key holds everything the report reads (the evaluated models'
        keys and prices, the training cost rate, what its notes say), so sweep combinations never overwrite each
        other and a price change rebuilds the report alone."""
        cfg, models = self.cfg, self.cfg["eval"]["models"]
        notes = (cfg["name"], cfg["seed"], cfg["data"]["source"], cfg["model"]["name"], cfg["model"]["native_context"],
                 cfg["lora"])
        key = fingerprint([self.eval_key(m) for m in models], [model_config(cfg, m) for m in models],
                          self.k_eval_hay, self.k_labels, self.k_train if "finetuned" in models else None,
                          cfg["train"]["gpu_hour_usd"], cfg["eval"]["effective_margin"], notes)
        return self.root / "report" / f"{cfg['name']}-{key}"

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
        return self.root / "labels" / f"{labeler_cfg['kind']}-{fingerprint(self.k_needles, semantic(labeler_cfg))}"

    def prediction_key(self, model_name: str) -> str:
        """Readable name + hash of what an evaluated model's answers depend on (not how they are scored): names
        its answer cache, so a change of eval.scoring rescores without asking the model again."""
        mcfg = semantic(model_config(self.cfg, model_name))
        upstream = self.k_train if model_name == "finetuned" else self.k_model if model_name == "base" else None
        if mcfg.get("rope_scaling") == "from_finetune":  # its RoPE factor is the fine-tune's: what chooses it
            upstream = fingerprint(self.k_train_hay, self.cfg["train"]["rope_type"],
                                   self.cfg["train"]["max_answer_tokens"])
        local = self.cfg["eval"]["max_new_tokens"] if mcfg["backend"] == "hf" else None
        weights = weights_identity(mcfg) if mcfg["backend"] == "hf" else None
        return f"{model_name}-{fingerprint(self.k_eval_hay, mcfg, upstream, local, *[weights] * bool(weights))}"

    def eval_key(self, model_name: str) -> str:
        """Readable name + hash of what an evaluated model's scores depend on: its answers and eval.scoring. A base
        scaled like its fine-tune also names that fine-tune (an input of its step), so sweep combinations never
        share its output, while its answers, cached by :meth:`prediction_key`, are reused across them."""
        scaled = model_config(self.cfg, model_name).get("rope_scaling") == "from_finetune"
        extra = [self.k_train] if scaled else []
        return f"{model_name}-{fingerprint(self.prediction_key(model_name), self.cfg['eval']['scoring'], *extra)}"

    def llm_cache(self, what: str, endpoint: dict[str, Any]) -> Path:
        """One content-addressed response cache per endpoint and model, shared by every key and experiment: a
        request answered once is never paid for again."""
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in endpoint["model"])[-48:]
        return self.root / "cache" / f"{what}-{slug}-{fingerprint(endpoint['base_url'], endpoint['model'])}.jsonl"

    def eval_dir(self, model_name: str) -> Path:
        return self.root / "evaluate" / self.eval_key(model_name)
