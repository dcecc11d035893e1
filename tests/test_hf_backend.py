"""HFBackend on a tiny random Llama: batched greedy generation equals one-at-a-time generation."""
import random

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from needlework.evaluate.hf_backend import HFBackend
from needlework.tokenizer import train_tokenizer

MAX_NEW_TOKENS = 12
EOS_SCALE = 1.4  # scales the end token's output row so that some answers stop early and others do not
WORDS = "john smith born march 1995 swedish ice hockey player politician club party died in the of and was is".split()


@pytest.fixture(scope="module")
def tokenizer():
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60))) for _ in range(200)]
    return train_tokenizer(texts, vocab_size=320)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight[tokenizer.eos_token_id] *= EOS_SCALE
    return model


@pytest.fixture(scope="module")
def requests():
    rng = random.Random(1)
    return [
        {
            "id": f"h-{i}",
            "messages": [
                {"role": "system", "content": "extract information about a person in JSON"},
                {"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 70)))},
                {"role": "assistant", "content": '{"nationality": "swedish"}'},
            ],
        }
        for i in range(10)
    ]


def one_at_a_time(model, tokenizer, messages):
    """Reference: plain unpadded greedy generate on the system + user prompt."""
    ids = tokenizer.apply_chat_template(messages[:2], add_generation_prompt=True, return_dict=False)
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]),
            do_sample=False,
            max_new_tokens=MAX_NEW_TOKENS,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )[0, len(ids):].tolist()
    return tokenizer.decode(out, skip_special_tokens=True), len(ids), len(out)


def test_batched_generation_equals_one_at_a_time(model, tokenizer, requests):
    backend = HFBackend(model, tokenizer, batch_size=4, max_new_tokens=MAX_NEW_TOKENS)
    results = list(backend.generate(requests))
    assert sorted(r["id"] for r in results) == sorted(r["id"] for r in requests)
    by_id = {r["id"]: r for r in results}
    lengths = set()
    for request in requests:
        answer, input_tokens, output_tokens = one_at_a_time(model, tokenizer, request["messages"])
        got = by_id[request["id"]]
        assert (got["answer"], got["input_tokens"], got["output_tokens"], got["error"]) == (
            answer, input_tokens, output_tokens, None,
        ), request["id"]
        lengths.add(input_tokens)
        assert got["output_tokens"] <= MAX_NEW_TOKENS
    stopped = [r["output_tokens"] < MAX_NEW_TOKENS for r in results]
    assert any(stopped) and not all(stopped), "the test needs answers that stop at eos and answers that run out"
    assert len(lengths) > 4, "the test needs prompts of different lengths, so batches are padded"


def test_prompt_leaves_out_the_assistant_label(model, tokenizer, requests):
    backend = HFBackend(model, tokenizer)
    ids = backend.prompt_ids(requests[0]["messages"])
    text = tokenizer.decode(ids)
    assert text.endswith("<|assistant|>")
    assert text.count("<|assistant|>") == 1
    assert '{"nationality"' not in text


def test_results_do_not_depend_on_batch_size_or_request_order(model, tokenizer, requests):
    def results(batch_size, order):
        backend = HFBackend(model, tokenizer, batch_size=batch_size, max_new_tokens=MAX_NEW_TOKENS)
        return {r["id"]: r for r in backend.generate(order)}

    assert results(3, requests) == results(10, requests[::-1])
