"""The one training loop (needlework.training.loop) and its pretraining recipe: the same weights as before the loop
was shared, and a killed run that resumes from its checkpoint ends with the weights of an uninterrupted one.

The tiny base's recipe has its own resume tests in tests/test_tiny_base.py.
"""
import logging
import math

import pytest
import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from needlework.corpus.build import build_corpus
from needlework.models import build_tiny
from needlework.tokenizer import train_tokenizer
from needlework.training import loop, pretrain

SETTINGS = {"steps": 7, "batch_size": 3, "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def init(tmp_path_factory):
    """A freshly built tiny Llama (64-token context) and the texts it is pretrained on."""
    out = tmp_path_factory.mktemp("init")
    corpus, *_ = build_corpus({"source": "synthetic", "n": 40, "non_person_rate": 0.0, "anonymize": True,
                               "max_bad_share": 0.05}, seed=3)
    texts = [r["text"] for r in corpus]
    train_tokenizer(texts, vocab_size=300).save_pretrained(out / "tok")
    build = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}
    return build_tiny(out / "tok", build, 64, 5, out / "init"), texts


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the same thread count gives the same bytes; the session's count restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _pretrain_as_before(model, blocks, *, steps, batch_size, learning_rate, seed):
    """needlework.training.pretrain.pretrain as it was before it became a recipe of the shared loop."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    model.train()
    for _ in range(steps):
        batch = blocks[torch.randint(len(blocks), (batch_size,), generator=generator)]
        model(input_ids=batch, labels=batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)


def test_pretraining_gives_the_weights_it_gave_before_the_loop_was_shared(init, tmp_path):
    """The per-corpus tiny model's weights are part of every downstream result key: the same seed and settings give
    the same bytes as the loop pretraining had before (which also gave this file's SHA-256 579a8d55... on the
    machine the change was made on)."""
    init_dir, texts = init
    result = pretrain.pretrain_tiny(init_dir, texts, SETTINGS, 5, tmp_path / "model")
    model = LlamaForCausalLM.from_pretrained(str(init_dir))
    blocks = pretrain.pack(AutoTokenizer.from_pretrained(str(init_dir)), texts, 64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        _pretrain_as_before(model, blocks, seed=5, **SETTINGS)
    model.save_pretrained(tmp_path / "before")
    assert (tmp_path / "model" / "model.safetensors").read_bytes() == (
        tmp_path / "before" / "model.safetensors").read_bytes()
    assert result["pretrain_steps"] == 7
    assert not (tmp_path / "model.work").exists()  # the checkpoint goes once the model is saved


def test_a_killed_pretraining_resumes_to_the_same_weights(init, tmp_path, monkeypatch, caplog):
    """A model build killed after its checkpoint at step 4 (`snakemake` interrupted) reruns from that step, not from
    scratch, and saves the same bytes as a build never interrupted."""
    init_dir, texts = init
    pretrain.pretrain_tiny(init_dir, texts, SETTINGS, 5, tmp_path / "straight")
    whole = pretrain.pretrain

    def killed(*args, **kwargs):
        whole(*args, **kwargs, stop_at=4)
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrain, "pretrain", killed)
    with pytest.raises(KeyboardInterrupt):
        pretrain.pretrain_tiny(init_dir, texts, SETTINGS, 5, tmp_path / "cut")
    assert not (tmp_path / "cut").exists() and (tmp_path / "cut.work" / pretrain.CHECKPOINT).is_file()
    monkeypatch.setattr(pretrain, "pretrain", whole)
    with caplog.at_level(logging.INFO, logger="needlework.training.loop"):
        result = pretrain.pretrain_tiny(init_dir, texts, SETTINGS, 5, tmp_path / "cut")
    assert "resuming from step 4" in caplog.text
    assert result["pretrain_steps"] == 7  # the losses of the steps before the kill come from the checkpoint
    assert (tmp_path / "straight" / "model.safetensors").read_bytes() == (
        tmp_path / "cut" / "model.safetensors").read_bytes()


def _linear_run(checkpoint, fingerprint, learning_rate=0.1, fail_at=None):
    """A linear regression through the loop, every step checkpointed; the step loss raises at step ``fail_at``
    (a kill between two checkpoints). Returns the weights and the metric rows."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)

    def batches(start, stop):
        for step in range(start, stop):
            x = torch.randn(8, 4, generator=torch.Generator().manual_seed(step))
            yield {"ids": x, "y": x.sum(1, keepdim=True)}

    def step_loss(batch):
        if fail_at is not None and len(seen) == fail_at:
            raise RuntimeError("killed")
        seen.append(batch)
        loss = ((model(batch["ids"]) - batch["y"]) ** 2).mean()
        return loss, {"loss": float(loss.detach())}

    seen = []
    rows = loop.train(model, batches, step_loss, steps=10, learning_rate=learning_rate, weight_decay=0.01,
                      schedule=loop.warmup_cosine(10, warmup=2, floor=0.1), checkpoint=checkpoint,
                      fingerprint=fingerprint, checkpoint_minutes=0)
    return model.state_dict(), rows


def test_a_run_killed_between_checkpoints_resumes_from_the_last_one(tmp_path):
    """Killed at step 6, a run resumes from the checkpoint of step 5 and ends with the weights and metric rows of an
    uninterrupted run; a checkpoint of other settings (another fingerprint) is not resumed from."""
    straight, rows = _linear_run(tmp_path / "straight.pt", "a")
    with pytest.raises(RuntimeError, match="killed"):
        _linear_run(tmp_path / "cut.pt", "a", fail_at=5)
    resumed, resumed_rows = _linear_run(tmp_path / "cut.pt", "a")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    def untimed(rows):
        return [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_s")} for r in rows]

    assert untimed(resumed_rows) == untimed(rows) and [r["step"] for r in rows] == list(range(1, 11))
    with pytest.raises(RuntimeError, match="killed"):
        _linear_run(tmp_path / "other.pt", "b", learning_rate=0.5, fail_at=5)
    fresh, _ = _linear_run(tmp_path / "other.pt", "a")
    assert all(torch.equal(straight[k], fresh[k]) for k in straight)
