"""LLM labeling of needle biographies against a real local server that plays the labeling model."""
from __future__ import annotations

import json
import re

import pytest
from fake_openai import FakeOpenAI, Fault, unused_base_url

from needlework.io import InputError, dumps
from needlework.labels.llm_labeler import build_messages, label_with_llm, parse_label
from needlework.llm import EndpointUnreachableError, MissingApiKeyError

KEY_ENV = "NEEDLEWORK_TEST_LABELER_KEY"
SECRET = "sk-labeler-secret-987654321"

TRUTH = {
    "anna berg": {
        "nationality": "swedish",
        "date_of_birth": {"day": 2, "month": 3, "year": 1995},
        "date_of_death": {"day": 0, "month": 0, "year": 0},
        "sportsperson": True,
        "politician": False,
    },
    "pedro alves": {
        "nationality": "brazilian",
        "date_of_birth": {"day": 0, "month": 0, "year": 1890},
        "date_of_death": {"day": 14, "month": 6, "year": 1950},
        "sportsperson": False,
        "politician": True,
    },
    "mary jones": {
        "nationality": "unknown",
        "date_of_birth": {"day": 0, "month": 5, "year": 1971},
        "date_of_death": {"day": 0, "month": 0, "year": 0},
        "sportsperson": False,
        "politician": False,
    },
}
NEEDLES = [
    {"id": "synthetic-2", "name": "mary jones", "text": "mary jones ( born may 1971 ) is a painter ."},
    {"id": "synthetic-0", "name": "anna berg", "text": "anna berg ( born march 2 , 1995 ) is a swedish ice hockey player ."},
    {"id": "synthetic-1", "name": "pedro alves", "text": "pedro alves ( 1890 -- 14 june 1950 ) was a brazilian politician ."},
]
EXPECTED = {"synthetic-0": "anna berg", "synthetic-1": "pedro alves", "synthetic-2": "mary jones"}


def labeling_model(body: dict) -> str:
    """The label of the person the prompt asks about; one answer wrapped in a code fence, as models do."""
    name = re.search(r"Biography of (.+):\n", next(m["content"] for m in body["messages"] if m["role"] == "user")).group(1)
    answer = json.dumps({**TRUTH[name], "nationality": TRUTH[name]["nationality"].upper()})
    return f"```json\n{answer}\n```" if name == "pedro alves" else answer


def config(base_url: str, **overrides) -> dict:
    cfg = {
        "base_url": base_url,
        "model": "mistralai/Mistral-7B-Instruct-v0.1",
        "api_key_env": None,
        "json_mode": "object",
        "max_concurrency": 2,
        "price_input_per_1m": 0.15,
        "price_output_per_1m": 0.15,
        "temperature": 0,
        "max_tokens": 256,
        "max_retries": 3,
        "timeout_s": 0.5,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.05,
    }
    cfg.update(overrides)
    return cfg


def test_labels_are_complete_and_correct_under_injected_faults(tmp_path):
    with FakeOpenAI(labeling_model) as server:
        server.inject(Fault.rate_limit(retry_after=0), Fault.server_error(), Fault.stall(2.0), Fault.reply("{'nationality"))
        rows, stats = label_with_llm(NEEDLES, config(server.base_url), tmp_path / "cache.jsonl")
    assert [row["id"] for row in rows] == ["synthetic-0", "synthetic-1", "synthetic-2"]
    assert all(row["error"] is None for row in rows)
    assert {row["id"]: row["label"] for row in rows} == {i: TRUTH[name] for i, name in EXPECTED.items()}
    assert all(row["input_tokens"] > 0 and row["output_tokens"] > 0 for row in rows)
    assert stats["requests_sent"] == server.n_requests == 3 + 4
    assert stats["failures"] == 0 and stats["invalid"] == 1
    assert stats["cost_usd"] > 0


def test_a_rerun_sends_zero_requests_and_gives_identical_rows(tmp_path):
    with FakeOpenAI(labeling_model) as server:
        first, _ = label_with_llm(NEEDLES, config(server.base_url), tmp_path / "cache.jsonl")
        second, stats = label_with_llm(list(reversed(NEEDLES)), config(server.base_url), tmp_path / "cache.jsonl")
        assert server.n_requests == 3
    assert [dumps(row) for row in second] == [dumps(row) for row in first]
    assert stats["requests_sent"] == 0 and stats["cache_hits"] == 3 and stats["cost_usd_new"] == 0


def test_an_answer_that_stays_invalid_becomes_an_error_row(tmp_path):
    def model(body):
        if "mary jones" in next(m["content"] for m in body["messages"] if m["role"] == "user"):
            return '{"nationality": "unknown", "sportsperson": false}'  # lacks fields, every time
        return labeling_model(body)

    with FakeOpenAI(model) as server:
        rows, stats = label_with_llm(NEEDLES, config(server.base_url), tmp_path / "cache.jsonl")
        assert server.n_requests == 2 + 3  # the default 2 re-requests for the invalid one
    row = {row["id"]: row for row in rows}["synthetic-2"]
    assert row["label"] is None
    assert row["error"].startswith("invalid answer:") and "date_of_birth" in row["error"]
    assert stats["failures"] == 1


def test_the_prompt_carries_the_schema_name_and_biography():
    [message] = build_messages("anna berg", "anna berg ( born march 2 , 1995 ) is a swedish ice hockey player .")
    content = message["content"]
    assert message["role"] == "user"
    assert "anna berg ( born march 2 , 1995 )" in content and "Biography of anna berg:" in content
    for phrase in ('"nationality"', "lowercase demonym", '"unknown"', "0 for any part", '"sportsperson"', '"politician"', "JSON"):
        assert phrase in content


def test_schema_mode_sends_the_strict_label_schema(tmp_path):
    with FakeOpenAI(labeling_model) as server:
        label_with_llm(NEEDLES[:1], config(server.base_url, json_mode="schema"), None)
    response_format = server.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"][0] == "nationality"


def test_parse_label_tolerates_fences_and_extras_but_not_missing_fields():
    label = dict(TRUTH["anna berg"], nationality=" Swedish ")
    assert parse_label(f"Here you go:\n```json\n{json.dumps({**label, 'name': 'anna berg'})}\n```")["nationality"] == "swedish"
    assert parse_label(json.dumps({**label, "nationality": None}))["nationality"] == "unknown"
    with pytest.raises(ValueError, match="no JSON object"):
        parse_label("I cannot answer that.")
    with pytest.raises(ValueError, match="politician"):
        parse_label(json.dumps({k: v for k, v in label.items() if k != "politician"}))
    with pytest.raises(ValueError):
        parse_label(json.dumps({**label, "date_of_birth": {"day": 40, "month": 1, "year": 1990}}))


def test_missing_api_key_fails_before_any_request(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with FakeOpenAI(labeling_model) as server:
        with pytest.raises(MissingApiKeyError, match=KEY_ENV):
            label_with_llm(NEEDLES, config(server.base_url, api_key_env=KEY_ENV), tmp_path / "cache.jsonl")
        assert server.n_requests == 0


def test_the_api_key_never_reaches_rows_stats_or_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAI(labeling_model, api_key=SECRET) as server:
        rows, stats = label_with_llm(NEEDLES, config(server.base_url, api_key_env=KEY_ENV), tmp_path / "cache.jsonl")
    assert all(row["error"] is None for row in rows)
    assert SECRET not in json.dumps(rows) + json.dumps(stats) + (tmp_path / "cache.jsonl").read_text()


def test_an_unreachable_endpoint_raises_a_clear_error(tmp_path):
    url = unused_base_url()
    with pytest.raises(EndpointUnreachableError, match=re.escape(url)):
        label_with_llm(NEEDLES, config(url, max_retries=1), tmp_path / "cache.jsonl")


def test_bad_needles_are_input_errors():
    with pytest.raises(InputError, match="duplicate id 'synthetic-0'"):
        label_with_llm([NEEDLES[1], NEEDLES[1]], config("http://127.0.0.1:1/v1"), None)
    with pytest.raises(InputError, match="'text'"):
        label_with_llm([{"id": "x", "name": "y"}], config("http://127.0.0.1:1/v1"), None)


@pytest.mark.parametrize(
    ("answered", "canonical"),
    [("usa", "american"), ("U.S.", "american"), ("American", "american"), ("united states", "american"),
     ("British", "british"), ("uk", "british"), ("English", "english"), ("Brazil", "brazilian"),
     ("brazilian", "brazilian"), ("unknown", "unknown"), ("", "unknown"), (None, "unknown"),
     ("Klingon", "klingon")],
)
def test_parse_label_maps_the_models_nationality_to_one_demonym(answered, canonical):
    assert parse_label(json.dumps({**TRUTH["anna berg"], "nationality": answered}))["nationality"] == canonical


def test_label_rows_keep_the_models_own_spelling_of_the_nationality(tmp_path):
    spelled = {"anna berg": "Sweden", "pedro alves": "Brazil", "mary jones": None}

    def model(body):
        name = re.search(r"Biography of (.+):\n", body["messages"][-1]["content"]).group(1)
        return json.dumps({**TRUTH[name], "nationality": spelled[name]})

    with FakeOpenAI(model) as server:
        rows, _ = label_with_llm(NEEDLES, config(server.base_url), tmp_path / "cache.jsonl")
    assert {row["id"]: row["label"] for row in rows} == {i: TRUTH[name] for i, name in EXPECTED.items()}
    assert [row["nationality_raw"] for row in rows] == ["Sweden", "Brazil", None]
