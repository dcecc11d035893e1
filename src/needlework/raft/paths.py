"""Result paths of the RAFT track: ``results/raft/<step>/<readable-name>-<hash of what it depends on>``.

Each key hashes the step's own config with its upstream keys and the content identities of its inputs (data files,
the model's weights or tokenizer: needlework.identity, never their paths), so changing ``oracle_p`` or ``distractors`` reruns
assembly (and what follows) only, and changing the teacher reruns generation but never re-reads the documents.
The documents exclude the evaluation questions' paragraphs, so their key holds the evaluation data's. The DSF
fine-tune (same examples without documents, same train/lora config) has its own training directory and key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from needlework.config import ConfigError, model_config
from needlework.identity import (Keys, converted_dir, data_identity, hash_cache, model_identity, semantic, settings,
                                 tokenizer_identity)
from needlework.raft.documents import fixture_path
from needlework.raft.prompts import CLOSED_BOOK, prompts

_TRAIN_KEYS_NOT_IN_HASH = ("gpu_hour_usd",)
_ASSEMBLY_KEYS_NOT_IN_HASH = ("workers",)


class RaftPaths:
    """Every output location of the RAFT track of one composed experiment."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        raft, model, seed = cfg["raft"], cfg["model"], cfg["seed"]
        self.root = Path(cfg["results_dir"]) / "raft"
        self.hash_cache = cache = hash_cache()
        self.keys = keys = Keys()
        ev = raft["eval"]
        self.k_eval_data = keys.key("raft_eval_data", {"eval": {"limit": ev["limit"]}, "seed": seed},
                                    {"data": data_identity(ev["path"] or fixture_path("eval"), cache)})
        docs = raft["documents"]
        self.k_docs = keys.key("raft_documents", {"documents": settings(docs)},  # without the evaluation paragraphs
                               {"data": data_identity(docs["path"] or fixture_path("train"), cache),
                                "eval_data": self.k_eval_data})
        self.builds_model = model["path"] is None and not model.get("gguf")  # a tiny Llama built on the documents
        self.model_identity = model_identity(model, cache)
        self.k_model = keys.key("raft_model", {"model": settings(semantic(model)), "seed": seed},
                                {"documents": self.k_docs} if self.builds_model else {"model": self.model_identity})
        needs_tokenizer = docs["source"] != "hotpotqa"
        tokenizer = ({"model": self.k_model} if self.builds_model else {"tokenizer": tokenizer_identity(model, cache)})
        self.k_chunks = keys.key("raft_chunks", {"chunking": raft["chunking"] if needs_tokenizer else None},
                                 {"documents": self.k_docs, **(tokenizer if needs_tokenizer else {})})
        generator = dict(raft["generator"])
        generator.pop("max_concurrency", None)
        if generator["kind"] == "openai" and not generator.get("teacher"):
            raise ConfigError("config key raft.generator.teacher: generator kind openai needs a teacher model name "
                              "(conf/model/<name>.yaml with backend openai)")
        if generator["kind"] == "openai":
            generator["teacher"] = semantic(self.teacher())
        self.k_gen = keys.key("raft_generate", {"fragments": raft["fragments"], "seed": seed,
                                                "questions_per_chunk": raft["questions_per_chunk"],
                                                "generator": generator, "prompts": prompts()["version"]},
                              {"chunks": self.k_chunks})
        assembly = {k: v for k, v in raft["assembly"].items() if k not in _ASSEMBLY_KEYS_NOT_IN_HASH}
        self.k_examples = keys.key("raft_assemble", {"assembly": assembly, "seed": seed}, {"generated": self.k_gen})
        train = {k: v for k, v in cfg["train"].items() if k not in _TRAIN_KEYS_NOT_IN_HASH}
        training = {"lora": cfg["lora"], "train": train, "seed": seed}
        trained_on = {"examples": self.k_examples, "model": self.k_model, "model_identity": self.model_identity}
        self.k_train = keys.key("raft_train", training, trained_on)
        # the same training on the examples without documents
        self.k_dsf = keys.key("raft_train", {**training, "closed_book": True}, trained_on)

        name, lora = model["name"], cfg["lora"]
        adapter = "full" if lora["method"] == "full" else f"{lora['method']}{lora['r']}"
        self.documents_dir = self.root / "documents" / f"{docs['source']}-{self.k_docs}"
        # a packaged GGUF model is converted once, where the long-context track converts it too
        self.model_dir = (converted_dir(Path(cfg["results_dir"]), model["gguf"]) if model.get("gguf")
                          else self.root / "models" / f"{name}-{self.k_model}")
        self.chunks_dir = self.root / "chunks" / f"{docs['source']}-{self.k_chunks}"
        self.generated_dir = self.root / "generated" / f"{generator['kind']}-{self.k_gen}"
        self.examples_dir = self.root / "examples" / f"{raft['assembly']['negatives']}-{self.k_examples}"
        self.train_dir = self.root / "train" / f"{name}-{adapter}-{self.k_train}"
        self.dsf_train_dir = self.root / "train" / f"{name}-{adapter}-dsf-{self.k_dsf}"
        self.eval_data_dir = self.root / "eval_data" / f"hotpotqa-{self.k_eval_data}"
        self.eval_keys = {self.eval_key(m): m for m in ev["models"]}
        k_report = keys.key("raft_report", {}, {"evaluate": sorted(self.eval_keys), "generated": self.k_gen})
        self.report_dir = self.root / "report" / f"{cfg['name']}-{k_report}"

    def teacher(self) -> dict[str, Any]:
        """The teacher model's config (``raft.generator.teacher``)."""
        return model_config(self.cfg, self.cfg["raft"]["generator"]["teacher"])

    def eval_key(self, model_name: str) -> str:
        """Readable name + hash of what a model's RAFT predictions depend on (its weights' identity, not its path)."""
        mcfg = semantic(model_config(self.cfg, model_name))
        upstream = {"finetuned": {"train": self.k_train}, "dsf": {"train": self.k_dsf}, "base": {"model": self.k_model},
                    "base_closed": {"model": self.k_model}}.get(model_name, {})
        ev = self.cfg["raft"]["eval"]
        config = {"model": settings(mcfg), "eval": {"max_new_tokens": ev["max_new_tokens"], "stop": ev["stop"]},
                  "closed_book": model_name in CLOSED_BOOK}  # asked without documents
        identity = model_identity(mcfg, self.hash_cache) if mcfg["backend"] == "hf" else None
        inputs = {"eval_data": self.k_eval_data, **upstream, "model_identity": identity}
        return f"{model_name}-{self.keys.key('raft_evaluate', config, inputs)}"

    def provenance_of(self, out_dir: str | Path) -> dict[str, Any] | None:
        """The stage, key, config subtree and input identities of a RAFT result folder of this experiment (None
        for another folder)."""
        return self.keys.of(out_dir)

    def eval_dir(self, key: str) -> Path:
        return self.root / "evaluate" / key
