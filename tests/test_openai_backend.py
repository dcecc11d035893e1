"""The OpenAI-compatible evaluation backend against a real local server."""
from __future__ import annotations

import re

import pytest
from fake_openai import FakeOpenAI, Fault, fake_openai, unused_base_url  # noqa: F401 - fake_openai is a fixture

from needlework.evaluate.openai_backend import OpenAIBackend
from needlework.io import InputError
from needlework.llm import EndpointUnreachableError, MissingApiKeyError

KEY_ENV = "NEEDLEWORK_TEST_BACKEND_KEY"
LABEL = '{"nationality": "swedish", "date_of_birth": {"day": 2, "month": 3, "year": 1995}}'


def model_cfg(base_url: str, **overrides) -> dict:
    cfg = {
        "name": "fake-api",
        "backend": "openai",
        "base_url": base_url,
        "model": "fake-model",
        "api_key_env": None,
        "json_mode": "schema",
        "max_concurrency": 3,
        "price_input_per_1m": 1.0,
        "price_output_per_1m": 4.0,
        "tokenizer": None,
        "temperature": 0,
        "max_tokens": 64,
        "timeout_s": 0.5,
        "max_retries": 2,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.05,
    }
    cfg.update(overrides)
    return cfg


def haystack_requests(n: int) -> list[dict]:
    return [
        {
            "id": f"h{i}",
            "messages": [
                {"role": "system", "content": "extract information about a person in JSON"},
                {"role": "user", "content": f"haystack {i} ...\n\nGiven this information, extract information about anna berg."},
            ],
        }
        for i in range(n)
    ]


def test_generate_answers_every_request_with_usage(tmp_path):
    with FakeOpenAI(lambda body: LABEL) as server:
        server.inject(Fault.rate_limit(retry_after=0), Fault.stall(2.0))
        backend = OpenAIBackend(model_cfg(server.base_url, schema_in_prompt=False), tmp_path / "cache.jsonl")
        results = {r["id"]: r for r in backend.generate(haystack_requests(5))}
        assert server.max_in_flight <= 3
    assert sorted(results) == [f"h{i}" for i in range(5)]
    for result in results.values():
        assert set(result) == {"id", "answer", "error", "input_tokens", "output_tokens"}
        assert result["answer"] == LABEL and result["error"] is None
        assert result["input_tokens"] == 18 and result["output_tokens"] == 9  # the fake server counts words
    assert backend.stats["cost_usd"] == pytest.approx((5 * 18 * 1.0 + 5 * 9 * 4.0) / 1e6)


def test_the_label_fields_are_spelled_out_in_the_system_message_by_default():
    with FakeOpenAI(lambda body: LABEL) as server:
        list(OpenAIBackend(model_cfg(server.base_url, json_mode="object"), None).generate(haystack_requests(1)))
        system, user = server.requests[0]["messages"]
    assert system["content"].startswith("extract information about a person in JSON\n\n")
    for field in ("nationality", "date_of_birth", "date_of_death", "sportsperson", "politician"):
        assert f'"{field}"' in system["content"]
    assert user == haystack_requests(1)[0]["messages"][1]  # the haystack and question are untouched


def test_schema_mode_sends_the_strict_label_schema_and_settings(fake_openai):
    fake_openai.answer = lambda body: LABEL
    list(OpenAIBackend(model_cfg(fake_openai.base_url), None).generate(haystack_requests(1)))
    body = fake_openai.requests[0]
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == "label" and schema["strict"] is True
    assert set(schema["schema"]["required"]) == {"nationality", "date_of_birth", "date_of_death", "sportsperson", "politician"}
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("fake-model", 0.0, 64)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_unparseable_answers_are_returned_as_is_not_retried():
    with FakeOpenAI(lambda body: "I think she is swedish.") as server:
        [result] = OpenAIBackend(model_cfg(server.base_url, json_mode="none"), None).generate(haystack_requests(1))
        assert server.n_requests == 1
    assert result["answer"] == "I think she is swedish." and result["error"] is None
    assert "response_format" not in server.requests[0]


def test_a_request_that_keeps_failing_yields_an_error_and_the_run_goes_on():
    def answer(body):
        return Fault.server_error() if "haystack 1 " in body["messages"][-1]["content"] else LABEL

    with FakeOpenAI(answer) as server:
        results = {r["id"]: r for r in OpenAIBackend(model_cfg(server.base_url), None).generate(haystack_requests(3))}
        assert server.n_requests == 2 + 3  # h1: one request and two retries
    assert results["h1"]["answer"] is None and "HTTP 500" in results["h1"]["error"]
    assert results["h0"]["answer"] == results["h2"]["answer"] == LABEL


def test_a_rerun_is_served_from_the_cache(tmp_path):
    with FakeOpenAI(lambda body: LABEL) as server:
        first = list(OpenAIBackend(model_cfg(server.base_url), tmp_path / "cache.jsonl").generate(haystack_requests(4)))
        backend = OpenAIBackend(model_cfg(server.base_url), tmp_path / "cache.jsonl")
        second = list(backend.generate(haystack_requests(4)))
        assert server.n_requests == 4
    assert sorted(first, key=lambda r: r["id"]) == sorted(second, key=lambda r: r["id"])
    assert backend.stats["requests_sent"] == 0 and backend.stats["cache_hits"] == 4


def test_an_unreachable_endpoint_yields_cached_results_then_raises_naming_base_url(tmp_path):
    server = FakeOpenAI(lambda body: LABEL).start()
    base_url = server.base_url
    list(OpenAIBackend(model_cfg(base_url), tmp_path / "cache.jsonl").generate(haystack_requests(2)))
    server.stop()  # the endpoint goes away; its port now refuses connections

    got = []
    with pytest.raises(EndpointUnreachableError, match=re.escape(base_url)):
        for result in OpenAIBackend(model_cfg(base_url), tmp_path / "cache.jsonl").generate(haystack_requests(3)):
            got.append(result)
    assert {r["id"]: r["answer"] for r in got} == {"h0": LABEL, "h1": LABEL, "h2": None}
    assert "Connection" in got[-1]["error"]


def test_missing_api_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(MissingApiKeyError, match=KEY_ENV):
        OpenAIBackend(model_cfg(unused_base_url(), api_key_env=KEY_ENV), None)


def test_a_config_without_base_url_names_the_key():
    with pytest.raises(InputError, match=r"model\.base_url"):
        OpenAIBackend(model_cfg(""), None)
