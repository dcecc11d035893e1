"""Result paths of the RAFT track: ``results/raft/<step>/<readable-name>-<hash of what it depends on>``.

Each key hashes the step's own config with its upstream keys, so changing ``oracle_p`` or ``distractors`` reruns
assembly (and what follows) only, and changing the teacher reruns generation but never re-reads the documents.
The documents exclude the evaluation questions' paragraphs, so their key holds the evaluation data's. The DSF
fine-tune (same examples without documents, same train/lora config) has its own training directory and key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from needlework.config import ConfigError, fingerprint, model_config
from needlework.identity import converted_dir, semantic, weights_identity
from needlework.raft.prompts import CLOSED_BOOK, prompts

_TRAIN_KEYS_NOT_IN_HASH = ("gpu_hour_usd",)
_ASSEMBLY_KEYS_NOT_IN_HASH = ("workers",)


class RaftPaths:
    """Every output location of the RAFT track of one composed experiment."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        raft, model, seed = cfg["raft"], cfg["model"], cfg["seed"]
        self.root = Path(cfg["results_dir"]) / "raft"
        ev = raft["eval"]
        self.k_eval_data = fingerprint(ev["path"], ev["limit"], seed)
        docs = raft["documents"]
        self.k_docs = fingerprint(docs, self.k_eval_data)  # the evaluation questions' paragraphs are left out
        self.builds_model = model["path"] is None and not model.get("gguf")  # a tiny Llama built on the documents
        self.k_model = (fingerprint(model, seed, self.k_docs) if self.builds_model
                        else fingerprint(model, weights_identity(model)))
        needs_tokenizer = docs["source"] != "hotpotqa"
        tokenizer = (self.k_model if model["path"] is None else model["path"]) if needs_tokenizer else None
        self.k_chunks = fingerprint(self.k_docs, raft["chunking"] if needs_tokenizer else None, tokenizer)
        generator = dict(raft["generator"])
        generator.pop("max_concurrency", None)
        if generator["kind"] == "openai" and not generator.get("teacher"):
            raise ConfigError("config key raft.generator.teacher: generator kind openai needs a teacher model name "
                              "(conf/model/<name>.yaml with backend openai)")
        if generator["kind"] == "openai":
            generator["teacher"] = semantic(self.teacher())
        self.k_gen = fingerprint(self.k_chunks, raft["fragments"], raft["questions_per_chunk"], generator,
                                 prompts()["version"], seed)
        assembly = {k: v for k, v in raft["assembly"].items() if k not in _ASSEMBLY_KEYS_NOT_IN_HASH}
        self.k_examples = fingerprint(self.k_gen, assembly, seed)
        train = {k: v for k, v in cfg["train"].items() if k not in _TRAIN_KEYS_NOT_IN_HASH}
        self.k_train = fingerprint(self.k_examples, self.k_model, cfg["lora"], train, seed)
        self.k_dsf = fingerprint(self.k_train, "closed_book")  # the same training on the examples without documents

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
        self.report_dir = self.root / "report" / f"{cfg['name']}-{fingerprint(sorted(self.eval_keys), self.k_gen)}"

    def teacher(self) -> dict[str, Any]:
        """The teacher model's config (``raft.generator.teacher``)."""
        return model_config(self.cfg, self.cfg["raft"]["generator"]["teacher"])

    def eval_key(self, model_name: str) -> str:
        """Readable name + hash of what a model's RAFT predictions depend on."""
        mcfg = semantic(model_config(self.cfg, model_name))
        upstream = {"finetuned": self.k_train, "dsf": self.k_dsf, "base": self.k_model,
                    "base_closed": self.k_model}.get(model_name)
        ev = self.cfg["raft"]["eval"]
        closed = ["closed_book"] if model_name in CLOSED_BOOK else []  # asked without documents
        return (f"{model_name}-"
                f"{fingerprint(self.k_eval_data, mcfg, upstream, ev['max_new_tokens'], ev['stop'], *closed)}")

    def eval_dir(self, key: str) -> Path:
        return self.root / "evaluate" / key
