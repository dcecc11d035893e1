"""ChatClient against a real local server: faults, retries, cache, concurrency, keys, unreachable endpoints."""
from __future__ import annotations

import json
import time

import pytest
from fake_openai import FakeOpenAI, Fault, unused_base_url

from needlework.io import InputError, read_jsonl
from needlework.labels.schema import json_schema
from needlework.llm import (
    ChatClient,
    EndpointRejectedError,
    EndpointUnreachableError,
    MissingApiKeyError,
    client_from_config,
    require_api_key,
    strict_json_schema,
)

KEY_ENV = "NEEDLEWORK_TEST_LLM_KEY"
SECRET = "sk-test-very-secret-0123456789"


def echo_number(body: dict) -> str:
    """Answer ``{"n": <the number at the end of the first user message>}`` (a repair request keeps it first)."""
    first = next(m for m in body["messages"] if m["role"] == "user")
    return json.dumps({"n": int(first["content"].split()[-1])})


def requests_for(n: int) -> list[tuple[str, list[dict]]]:
    return [(f"r{i}", [{"role": "user", "content": f"give me number {i}"}]) for i in range(n)]


def make_client(server_or_url, tmp_path=None, **overrides) -> ChatClient:
    base_url = server_or_url if isinstance(server_or_url, str) else server_or_url.base_url
    kwargs = dict(
        base_url=base_url,
        model="fake-model",
        api_key_env=None,
        max_concurrency=4,
        max_retries=3,
        timeout_s=0.5,
        retry_initial_s=0.01,
        retry_max_s=0.05,
        validate=json.loads,
        cache_path=None if tmp_path is None else tmp_path / "cache.jsonl",
    )
    kwargs.update(overrides)
    return ChatClient(**kwargs)


def test_answers_are_complete_and_correct_under_injected_faults(tmp_path):
    with FakeOpenAI(echo_number) as server:
        server.inject(Fault.rate_limit(retry_after=0), Fault.server_error(503), Fault.stall(2.0), Fault.reply("not json {"))
        client = make_client(server, tmp_path)
        results = list(client.run(requests_for(12)))
    assert len(results) == 12
    assert all(r.error is None and not r.cached for r in results)
    assert {r.key: json.loads(r.content)["n"] for r in results} == {f"r{i}": i for i in range(12)}
    stats = client.stats
    assert server.n_requests == stats["requests_sent"] == 12 + 4
    assert stats["retries"] == 3  # 429, 503 and the timeout; the invalid answer is an invalid re-request
    assert stats["invalid"] == 1
    assert stats["failures"] == 0


def test_retry_after_header_is_honoured():
    with FakeOpenAI(echo_number) as server:
        server.inject(Fault.rate_limit(retry_after=0.6))
        [result] = make_client(server, retry_initial_s=0.001, retry_max_s=0.001).run(requests_for(1))
    assert result.error is None
    assert result.latency_s >= 0.6  # the backoff alone would have waited ~1 ms


def test_rerun_sends_zero_requests_and_counts_cached_usage(tmp_path):
    prices = dict(price_input_per_1m=2.0, price_output_per_1m=10.0)
    with FakeOpenAI(echo_number) as server:
        first = {r.key: r.content for r in make_client(server, tmp_path, **prices).run(requests_for(6))}
        sent = server.n_requests
        rerun_client = make_client(server, tmp_path, **prices)
        rerun = list(rerun_client.run(requests_for(6)))
        assert server.n_requests == sent == 6
    assert {r.key: r.content for r in rerun} == first
    assert all(r.cached for r in rerun)
    stats = rerun_client.stats
    assert stats["requests_sent"] == 0 and stats["cache_hits"] == 6
    assert stats["prompt_tokens"] == 6 * 4 and stats["completion_tokens"] == 6 * 2  # fake usage: word counts
    assert stats["cost_usd"] == pytest.approx((24 * 2.0 + 12 * 10.0) / 1e6)
    assert stats["cost_usd_new"] == 0.0


def test_a_crash_truncated_cache_line_is_tolerated(tmp_path):
    cache = tmp_path / "cache.jsonl"
    with FakeOpenAI(echo_number) as server:
        list(make_client(server, tmp_path).run(requests_for(5)))
        lines = cache.read_bytes().splitlines(keepends=True)
        cache.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # the last write was cut short
        client = make_client(server, tmp_path)
        results = list(client.run(requests_for(5)))
        assert server.n_requests == 5 + 1  # only the torn answer is requested again
    assert all(r.error is None for r in results)
    assert client.stats["cache_hits"] == 4
    assert len(list(read_jsonl(cache))) == 5  # the file is whole again


def test_an_interrupted_run_resumes_without_repeating_answered_requests(tmp_path):
    with FakeOpenAI(echo_number) as server:
        run = make_client(server, tmp_path, max_concurrency=2).run(requests_for(10))
        first = [next(run) for _ in range(3)]
        run.close()  # the job dies here (Ctrl-C, OOM kill of the consumer ...)
        answered = len((tmp_path / "cache.jsonl").read_text().splitlines())
        sent = server.n_requests
        assert 3 <= answered <= sent < 10
        rest = list(make_client(server, tmp_path).run(requests_for(10)))
        assert server.n_requests == sent + 10 - answered
    assert sum(r.cached for r in rest) == answered
    assert {r.key for r in rest} >= {r.key for r in first} and len(rest) == 10


def test_a_corrupt_cache_line_in_the_middle_names_file_and_line(tmp_path):
    cache = tmp_path / "cache.jsonl"
    cache.write_text('{"hash": "a", "content": "{}"}\nnot json\n{"hash": "b", "content": "{}"}\n')
    with pytest.raises(InputError, match=r"cache\.jsonl:2"):
        make_client(unused_base_url(), tmp_path)


def test_failures_and_invalid_answers_are_reported_and_not_cached(tmp_path):
    def answer(body):
        text = body["messages"][0]["content"]
        if text.endswith(" 0"):
            return Fault.server_error()
        return "no json here" if text.endswith(" 1") else echo_number(body)

    with FakeOpenAI(answer) as server:
        client = make_client(server, tmp_path, max_retries=2, max_invalid_retries=1)
        results = {r.key: r for r in client.run(requests_for(3))}
        assert server.n_requests == 3 + 2 + 1  # r0: 1+2 retries, r1: 1+1 re-request, r2: 1
        assert results["r0"].error.startswith("gave up after 3 attempts: HTTP 500")
        assert results["r1"].error.startswith("invalid answer: JSONDecodeError")
        assert results["r2"].error is None
        assert client.stats["failures"] == 2 and client.stats["invalid"] == 2
        rerun = make_client(server, tmp_path, max_retries=2, max_invalid_retries=1)
        list(rerun.run(requests_for(3)))
        assert server.n_requests == 6 + 3 + 2  # failures are asked again, the good answer is cached
    assert rerun.stats["cache_hits"] == 1


def test_a_permanent_http_error_is_not_retried():
    with FakeOpenAI(lambda body: Fault.http_error(400)) as server:
        [result] = make_client(server).run(requests_for(1))
        assert server.n_requests == 1
    assert result.error == "HTTP 400: injected HTTP 400"
    assert result.content is None


def test_missing_api_key_env_fails_at_construction_naming_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with FakeOpenAI(echo_number) as server:
        with pytest.raises(MissingApiKeyError, match=KEY_ENV):
            make_client(server, api_key_env=KEY_ENV)
        with pytest.raises(MissingApiKeyError, match=KEY_ENV):
            require_api_key(KEY_ENV)
        assert server.n_requests == 0
    assert require_api_key(None) == "EMPTY"


def test_the_api_key_is_sent_but_never_cached_or_returned(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAI(echo_number, api_key=SECRET) as server:
        client = make_client(server, tmp_path, api_key_env=KEY_ENV)
        results = list(client.run(requests_for(3)))
        assert server.authorizations == [f"Bearer {SECRET}"] * 3
    assert all(r.error is None for r in results)
    assert SECRET not in (tmp_path / "cache.jsonl").read_text()
    assert SECRET not in repr(results) + repr(client.stats) + repr(client)


def test_a_wrong_key_stops_at_once_with_a_clear_error_without_the_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAI(echo_number, api_key="sk-the-right-one") as server:
        client = make_client(server, api_key_env=KEY_ENV, max_concurrency=1)
        with pytest.raises(EndpointRejectedError, match="HTTP 401") as caught:
            list(client.run(requests_for(20)))
        assert server.n_requests == 1  # neither retried nor repeated for the 19 other requests
    assert "api_key_env" in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "advice"),
    [
        (Fault.http_error(404), "model name"),
        (Fault.quota_exceeded(), "insufficient_quota"),
        (Fault.http_error(403), "api_key_env"),
    ],
)
def test_errors_that_will_not_heal_stop_at_once_instead_of_retrying(tmp_path, fault, advice):
    with FakeOpenAI(echo_number) as server:
        server.inject(Fault.reply('{"n": 0}'), fault)
        client = make_client(server, tmp_path, max_concurrency=1, max_retries=6)
        seen = []
        with pytest.raises(EndpointRejectedError, match=advice):
            for result in client.run(requests_for(10)):
                seen.append(result)
        assert server.n_requests == 2  # one good answer, then one refused request: no retries, no more requests
    assert [r.key for r in seen] == ["r0"]
    assert client.stats["retries"] == 0
    assert len(list(read_jsonl(tmp_path / "cache.jsonl"))) == 1  # what was paid for is kept


def test_a_plain_rate_limit_is_still_retried():
    with FakeOpenAI(echo_number) as server:
        server.inject(Fault.rate_limit(retry_after=0), Fault.rate_limit(retry_after=0))
        [result] = make_client(server).run(requests_for(1))
        assert server.n_requests == 3
    assert result.error is None


def test_an_invalid_answer_is_re_asked_with_a_repair_message_not_resent_identically():
    def answer(body):  # a deterministic server: the same request always gets the same (invalid) answer
        return echo_number(body) if "rejected" in body["messages"][-1]["content"] else "Sure! Here it is."

    with FakeOpenAI(answer) as server:
        [result] = make_client(server, max_invalid_retries=2).run(requests_for(1))
        first, second = server.requests
    assert result.error is None and json.loads(result.content) == {"n": 0}
    assert first["messages"] != second["messages"]
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assert second["messages"][-2] == {"role": "assistant", "content": "Sure! Here it is."}
    assert "JSONDecodeError" in second["messages"][-1]["content"]


def test_repairs_are_bounded():
    with FakeOpenAI(lambda body: "never json") as server:
        [result] = make_client(server, max_invalid_retries=2).run(requests_for(1))
        assert server.n_requests == 3
    assert result.error.startswith("invalid answer: JSONDecodeError")


def test_a_truncated_answer_is_re_asked_when_asked_to_reject_truncation(tmp_path):
    with FakeOpenAI(echo_number) as server:
        server.inject(Fault.truncated('{"n": 0'))
        client = make_client(server, tmp_path, validate=None, reject_truncated=True)
        [result] = client.run(requests_for(1))
        assert server.n_requests == 2
        assert "finish_reason=length" in server.requests[1]["messages"][-1]["content"]
    assert result.finish_reason == "stop" and json.loads(result.content) == {"n": 0}
    [entry] = read_jsonl(tmp_path / "cache.jsonl")
    assert entry["finish_reason"] == "stop"


def test_concurrency_is_bounded():
    with FakeOpenAI(echo_number, delay_s=0.1) as server:
        results = list(make_client(server, max_concurrency=3).run(requests_for(12)))
    assert len(results) == 12
    assert 1 < server.max_in_flight <= 3


def test_a_refused_connection_is_not_retried_and_gives_a_clear_error():
    url = unused_base_url()
    client = make_client(url, max_retries=2)
    results = list(client.run(requests_for(3)))
    assert all("gave up" not in r.error and "Connection" in r.error for r in results)
    assert client.stats["requests_sent"] == 3 and client.stats["retries"] == 0
    assert client.unreachable
    with pytest.raises(EndpointUnreachableError, match=url):
        client.raise_if_unreachable()


def test_a_dead_endpoint_named_in_a_config_stops_within_a_second_naming_the_key():
    """The labeler's defaults (6 retries, 8 in flight) against a closed port: no minute of backoff."""
    client = client_from_config({"base_url": unused_base_url(), "model": "m", "api_key_env": None, "max_retries": 6,
                                 "max_concurrency": 8}, section="labeler", cache_path=None)
    start = time.monotonic()
    with pytest.raises(EndpointUnreachableError, match=r"^labeler\.base_url: no answer from http://127\.0\.0\.1"):
        list(client.run(requests_for(100)))
    assert time.monotonic() - start < 1.0
    assert client.stats["requests_sent"] < 20


def test_a_dead_endpoint_trips_the_breaker_after_one_window_not_every_request():
    url = unused_base_url()
    client = make_client(url, max_retries=1, max_concurrency=2)
    seen = []
    with pytest.raises(EndpointUnreachableError, match=url):
        for result in client.run(requests_for(40)):
            seen.append(result)
    assert 1 <= len(seen) < 40  # stopped once a window of requests failed to connect (refusals come at once)
    assert client.stats["requests_sent"] < 40 * 2


def test_a_server_that_answers_with_errors_is_not_unreachable():
    with FakeOpenAI(lambda body: Fault.server_error()) as server:
        client = make_client(server, max_retries=1)
        results = list(client.run(requests_for(2)))
    assert all(r.error for r in results)
    assert not client.unreachable
    client.raise_if_unreachable()


@pytest.mark.parametrize(
    ("json_mode", "expected"),
    [
        ("object", {"type": "json_object"}),
        ("none", None),
        ("schema", {"type": "json_schema", "json_schema": {"name": "label", "schema": {"type": "object"}, "strict": True}}),
    ],
)
def test_json_mode_sets_response_format(json_mode, expected):
    with FakeOpenAI(echo_number) as server:
        client = make_client(server, json_mode=json_mode, response_schema={"type": "object"}, schema_name="label")
        list(client.run(requests_for(1)))
    body = server.requests[0]
    assert body.get("response_format") == expected
    assert body["temperature"] == 0.0 and body["max_tokens"] == 256 and body["model"] == "fake-model"


def test_the_cache_key_depends_on_generation_settings_but_not_on_the_api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    messages = [{"role": "user", "content": "hi"}]
    base = make_client("http://localhost:1/v1").request_hash(messages)
    assert make_client("http://localhost:1/v1", api_key_env=KEY_ENV).request_hash(messages) == base
    assert make_client("http://localhost:1/v1", max_tokens=10).request_hash(messages) != base
    assert make_client("http://localhost:1/v1", model="other").request_hash(messages) != base


def test_strict_json_schema_requires_every_property_and_forbids_others():
    strict = strict_json_schema(json_schema())
    date = strict["$defs"]["Date"]
    assert strict["required"] == ["nationality", "date_of_birth", "date_of_death", "sportsperson", "politician"]
    assert date["required"] == ["day", "month", "year"]
    assert strict["additionalProperties"] is False and date["additionalProperties"] is False
    assert "default" not in json.dumps(strict)


def test_client_from_config_names_the_bad_key():
    with pytest.raises(InputError, match=r"model\.base_url"):
        client_from_config({"model": "m"}, section="model", cache_path=None)
    with pytest.raises(InputError, match=r"labeler\.json_mode"):
        client_from_config({"base_url": "http://x/v1", "model": "m", "json_mode": "yaml"}, section="labeler", cache_path=None)
    with pytest.raises(InputError, match=r"model\.max_concurrency"):
        client_from_config({"base_url": "http://x/v1", "model": "m", "max_concurrency": "many"}, section="model", cache_path=None)
    client = client_from_config(
        {"base_url": "http://x/v1/", "model": "m", "api_key_env": None, "max_concurrency": 2, "temperature": 0},
        section="model",
        cache_path=None,
    )
    assert (client.base_url, client.max_concurrency, client.json_mode) == ("http://x/v1", 2, "object")


def test_stop_strings_are_sent_and_part_of_the_cache_key():
    with FakeOpenAI(echo_number) as server:
        list(make_client(server, stop=["</s>", "Question:"]).run(requests_for(1)))
        assert server.requests[0]["stop"] == ["</s>", "Question:"]
    plain, stopped = make_client("http://127.0.0.1:1/v1"), make_client("http://127.0.0.1:1/v1", stop=["</s>"])
    messages = requests_for(1)[0][1]
    assert plain.request_hash(messages) != stopped.request_hash(messages)


def test_with_cache_invalid_an_answer_that_stays_invalid_is_not_paid_for_again(tmp_path):
    with FakeOpenAI(lambda body: "never json") as server:
        first = list(make_client(server, tmp_path, max_invalid_retries=1, cache_invalid=True).run(requests_for(2)))
        assert server.n_requests == 4
        again = list(make_client(server, tmp_path, max_invalid_retries=1, cache_invalid=True).run(requests_for(2)))
        assert server.n_requests == 4
        list(make_client(server, tmp_path, max_invalid_retries=1).run(requests_for(2)))
        assert server.n_requests == 8  # without the option, invalid answers are asked again
    assert all(r.error.startswith("invalid answer: JSONDecodeError") for r in first + again)
    assert all(r.cached for r in again)
