"""needlework.identity: results are keyed by what made them (content hashes, hub revisions), never by where a model
lives or when its files were written; every result folder says what made it."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from safetensors.numpy import load_file, save_file

from needlework import identity
from needlework.config import compose
from needlework.evaluate.grid import run_predictions
from needlework.identity import data_identity, file_sha256, model_identity, tokenizer_identity
from needlework.longctx.paths import Paths
from needlework.stages.evaluation import model_identity as answers_identity
from needlework.stages.runtime import record_provenance

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "tiny-base"
CONF = ROOT / "conf"


def copy_model(dest: Path) -> Path:
    shutil.copytree(SHIPPED, dest)
    return dest


def change_one_weight(model_dir: Path) -> None:
    """Rewrite model.safetensors with one value of one tensor changed (same names, shapes and size)."""
    weights = load_file(str(model_dir / "model.safetensors"))
    name = sorted(weights)[0]
    tensor = weights[name].copy()
    tensor.flat[0] += 1
    weights[name] = tensor
    save_file(weights, str(model_dir / "model.safetensors"), metadata={"format": "pt"})


def change_tokenizer(model_dir: Path) -> None:
    path = model_dir / "chat_template.jinja"
    path.write_text(path.read_text().replace("<|user|>", "<|user|> "))


def local(path: Path) -> dict:
    return {"backend": "hf", "path": str(path)}


@pytest.fixture(autouse=True)
def fresh_memory(tmp_path, monkeypatch):
    """Every test starts as a new process would: nothing remembered in memory, its own hash cache file."""
    monkeypatch.setenv(identity.HASH_CACHE_ENV, str(tmp_path / "hash-cache.json"))
    identity._MEMORY.clear()
    identity.hub_revision.cache_clear()
    yield
    identity._MEMORY.clear()


def test_a_copy_elsewhere_is_the_same_model_and_new_weights_are_not(tmp_path):
    a, b = copy_model(tmp_path / "a"), copy_model(tmp_path / "elsewhere" / "b")
    assert model_identity(local(a)) == model_identity(local(b))
    assert tokenizer_identity(local(a)) == tokenizer_identity(local(b))

    change_one_weight(b)
    assert model_identity(local(a)) != model_identity(local(b))
    assert tokenizer_identity(local(a)) == tokenizer_identity(local(b))  # prompts stay the same

    change_tokenizer(a)
    assert tokenizer_identity(local(a)) != tokenizer_identity(local(b))
    # metrics and manifests beside the weights make no difference
    c = copy_model(tmp_path / "c")
    (c / "training.json").write_text("{}")
    (c / "SHA256SUMS").unlink()
    assert model_identity(local(c)) == model_identity(local(SHIPPED))


def test_a_file_is_hashed_once_while_its_size_and_mtime_stay(tmp_path, monkeypatch):
    model = copy_model(tmp_path / "m")
    cache = identity.hash_cache()
    hashed = []
    real = identity._sha256
    monkeypatch.setattr(identity, "_sha256", lambda path: hashed.append(path.name) or real(path))

    first = model_identity(local(model), cache)
    assert "model.safetensors" in hashed and cache.is_file()
    identity._MEMORY.clear()  # a new process: only the cache file remembers
    hashed.clear()
    assert model_identity(local(model), cache) == first
    assert hashed == []

    change_one_weight(model)
    assert model_identity(local(model), cache) != first
    assert hashed == ["model.safetensors"]


def test_a_hub_model_is_its_resolved_revision(tmp_path, monkeypatch, caplog):
    import huggingface_hub.constants

    hub = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    repo = hub / "models--org--model"
    for commit in ("a" * 40, "b" * 40):
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    hub_model = {"backend": "hf", "path": "org/model"}
    assert model_identity(hub_model) == f"hub:org/model@{'a' * 40}"

    (repo / "refs" / "main").write_text("b" * 40)  # the hub model moved on
    identity.hub_revision.cache_clear()  # (a new process)
    assert model_identity(hub_model) == f"hub:org/model@{'b' * 40}"

    with caplog.at_level(logging.WARNING):
        assert model_identity({"backend": "hf", "path": "org/absent"}) == "hub:org/absent@main (unresolved)"
    assert "not in the local hub cache" in caplog.text


def small_cfg(tmp_path: Path, model_dir: Path, *more: str) -> dict:
    return compose(["experiment=tiny_base", f"model.path={model_dir}", f"results_dir={tmp_path / 'results'}",
                    *more], config_dir=CONF)


def result_dirs(paths: Paths) -> dict[str, Path]:
    dirs = {name: getattr(paths, name) for name in ("corpus_dir", "labels_dir", "train_hay_dir", "eval_hay_dir",
                                                    "train_dir", "baseline_dir", "report_dir")}
    return {**dirs, **{m: paths.eval_dir(m) for m in paths.cfg["eval"]["models"]},
            "predictions": paths.prediction_key("finetuned")}


def test_keys_follow_the_model_content_not_its_path(tmp_path):
    a, b, c = (copy_model(tmp_path / name) for name in ("a", "b", "c"))
    same, moved = result_dirs(Paths(small_cfg(tmp_path, a))), result_dirs(Paths(small_cfg(tmp_path, b)))
    assert same == moved

    change_one_weight(c)
    changed = result_dirs(Paths(small_cfg(tmp_path, c)))
    kept = {"corpus_dir", "labels_dir", "train_hay_dir", "eval_hay_dir", "baseline_dir"}
    assert {k for k in same if same[k] != changed[k]} == set(same) - kept

    change_tokenizer(c)
    retokenized = result_dirs(Paths(small_cfg(tmp_path, c)))
    assert retokenized["train_hay_dir"] != same["train_hay_dir"] and retokenized["eval_hay_dir"] != same["eval_hay_dir"]


def test_a_data_file_counts_by_its_content(tmp_path):
    source = tmp_path / "bios.jsonl"
    source.write_text('{"name": "A", "text": "A was born."}\n')
    copy = tmp_path / "elsewhere.jsonl"
    shutil.copy(source, copy)
    assert data_identity(source) == data_identity(copy)
    key = Paths(small_cfg(tmp_path, SHIPPED, "data=jsonl", f"data.path={source}")).k_corpus
    assert Paths(small_cfg(tmp_path, SHIPPED, "data=jsonl", f"data.path={copy}")).k_corpus == key
    copy.write_text('{"name": "B", "text": "B was born."}\n')
    assert Paths(small_cfg(tmp_path, SHIPPED, "data=jsonl", f"data.path={copy}")).k_corpus != key


class CountingBackend:
    def __init__(self):
        self.asked = 0

    def generate(self, requests):
        for request in requests:
            self.asked += 1
            yield {"id": request["id"], "answer": "{}", "error": None, "input_tokens": 1, "output_tokens": 1}


def grid(n: int = 4) -> list[dict]:
    return [{"id": f"h{i}", "needle_id": f"n{i}", "context_length": 256, "depth": 0, "actual_depth": 0.0,
             "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": "{}"}]} for i in range(n)]


def test_answers_of_a_copied_model_come_from_the_cache_and_of_new_weights_do_not(tmp_path):
    a, b = copy_model(tmp_path / "a"), copy_model(tmp_path / "b")
    adapter = tmp_path / "adapter-a"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    adapter_copy = Path(shutil.copytree(adapter, tmp_path / "adapter-b"))
    cache = tmp_path / "predictions.jsonl"
    mcfg = {"name": "tiny_base", "backend": "hf", "path": str(a), "dtype": "float32"}

    first = CountingBackend()
    run_predictions(first, grid(), tmp_path / "p1.jsonl", cache, answers_identity(mcfg, None, str(adapter)))
    copied = CountingBackend()
    run_predictions(copied, grid(), tmp_path / "p2.jsonl", cache,
                    answers_identity(dict(mcfg, path=str(b)), None, str(adapter_copy)))
    assert (first.asked, copied.asked) == (4, 0)

    (adapter_copy / "adapter_model.safetensors").write_bytes(b"retrained")
    retrained = CountingBackend()
    run_predictions(retrained, grid(), tmp_path / "p3.jsonl", cache,
                    answers_identity(dict(mcfg, path=str(b)), None, str(adapter_copy)))
    assert retrained.asked == 4


def test_a_result_folder_says_what_made_it(tmp_path):
    model = copy_model(tmp_path / "m")
    cfg = small_cfg(tmp_path, model, "lora=r16", "train.learning_rate=0.001")
    paths = Paths(cfg)
    record_provenance(cfg, paths.train_dir)
    record = json.loads((paths.train_dir / identity.PROVENANCE).read_text())
    assert record["stage"] == "train" and paths.train_dir.name.endswith(record["key"])
    assert record["config"]["lora"]["r"] == 16 and record["config"]["train"]["learning_rate"] == 0.001
    assert record["inputs"]["model_identity"] == model_identity(local(model))
    assert record["inputs"]["haystacks_train"] == paths.k_train_hay
    assert record["code"]["needlework"] and len(record["code"]["git_commit"]) == 40
    assert str(model) not in json.dumps(record)  # where the model lies is not what made the result

    record_provenance(cfg, paths.eval_dir("finetuned"))
    evaluated = json.loads((paths.eval_dir("finetuned") / identity.PROVENANCE).read_text())
    assert evaluated["inputs"]["train"] == paths.k_train and evaluated["config"]["eval"]["scoring"]


def test_a_killed_training_resumes_for_the_same_inputs_wherever_the_base_lies(tmp_path):
    """The resume fingerprint (kept beside the checkpoints): training records by content, the base by identity."""
    from needlework.training.sft import training_fingerprint

    a, b = copy_model(tmp_path / "a"), copy_model(tmp_path / "b")
    records = tmp_path / "train.jsonl"
    records.write_text('{"messages": []}\n')
    lora, train = {"method": "lora", "r": 8}, {"learning_rate": 1e-3}

    def inputs(model_dir, **changed):
        settings = {"lora": lora, "train": train, **changed}
        return training_fingerprint(dict(local(model_dir), name="m"), settings["lora"], settings["train"], records, 0)

    before = inputs(a)
    assert inputs(b) == before  # the same base elsewhere: the killed run resumes
    assert inputs(a, train={"learning_rate": 2e-3}) != before
    change_one_weight(b)
    assert inputs(b) != before
    records.write_text('{"messages": [1]}\n')
    assert inputs(a) != before


def test_file_sha256_is_the_plain_sha256(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10_000_000)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
