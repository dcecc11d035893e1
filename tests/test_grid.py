"""run_predictions: resumable grid evaluation with an append-only cache and an atomic Predictions file."""
import json

import pytest

from needlework.evaluate.grid import run_predictions
from needlework.io import InputError, read_jsonl

PREDICTION_KEYS = {
    "id", "needle_id", "context_length", "depth", "actual_depth", "label",
    "answer", "error", "input_tokens", "output_tokens",
}


def haystack(i):
    return {
        "id": f"h-{i:02d}",
        "needle_id": f"n-{i % 3}",
        "context_length": 100 * (1 + i % 2),
        "depth": 25 * (i % 5),
        "actual_depth": 25 * (i % 5) + 0.5,
        "n_tokens": 90,
        "messages": [
            {"role": "system", "content": "extract information about a person in JSON"},
            {"role": "user", "content": f"haystack {i}\n\nGiven this information, extract information about p{i}."},
            {"role": "assistant", "content": f'{{"nationality": "label-{i}"}}'},
        ],
    }


RECORDS = [haystack(i) for i in (7, 3, 9, 1, 5, 0, 8, 2, 6, 4)]  # unsorted on purpose


class FakeBackend:
    """Answers each request with its user message; raises after ``fail_after`` results if set."""

    def __init__(self, fail_after=None, error_ids=()):
        self.fail_after = fail_after
        self.error_ids = set(error_ids)
        self.requested = []

    def generate(self, requests):
        for n, request in enumerate(requests):
            if n == self.fail_after:
                raise ConnectionError("backend went away")
            assert [m["role"] for m in request["messages"]] == ["system", "user"]
            self.requested.append(request["id"])
            failed = request["id"] in self.error_ids
            yield {
                "id": request["id"],
                "answer": None if failed else request["messages"][-1]["content"],
                "error": "rate limited" if failed else None,
                "input_tokens": 11,
                "output_tokens": 0 if failed else 5,
            }


def test_predictions_file_follows_the_contract(tmp_path):
    pred_path = tmp_path / "out" / "predictions.jsonl"
    returned = run_predictions(FakeBackend(), RECORDS, pred_path, tmp_path / "cache.jsonl")
    written = list(read_jsonl(pred_path))
    assert written == returned
    assert [p["id"] for p in written] == sorted(r["id"] for r in RECORDS)
    first = written[0]
    assert set(first) == PREDICTION_KEYS
    assert first == {
        "id": "h-00", "needle_id": "n-0", "context_length": 100, "depth": 0, "actual_depth": 0.5,
        "label": '{"nationality": "label-0"}',
        "answer": "haystack 0\n\nGiven this information, extract information about p0.",
        "error": None, "input_tokens": 11, "output_tokens": 5,
    }


def test_rerun_after_a_crash_requests_only_what_is_missing(tmp_path):
    pred_path, cache_path = tmp_path / "predictions.jsonl", tmp_path / "cache.jsonl"
    crashing = FakeBackend(fail_after=4)
    with pytest.raises(ConnectionError):
        run_predictions(crashing, RECORDS, pred_path, cache_path)
    assert not pred_path.exists()
    assert [json.loads(line)["id"] for line in cache_path.read_text().splitlines()] == crashing.requested
    assert len(crashing.requested) == 4

    resumed = FakeBackend()
    predictions = run_predictions(resumed, RECORDS, pred_path, cache_path)
    assert sorted(resumed.requested + crashing.requested) == sorted(r["id"] for r in RECORDS)
    assert set(resumed.requested).isdisjoint(crashing.requested)
    assert predictions == run_predictions(FakeBackend(), RECORDS, tmp_path / "fresh.jsonl", tmp_path / "c2.jsonl")

    before = pred_path.read_bytes()
    idle = FakeBackend()
    run_predictions(idle, RECORDS, pred_path, cache_path)
    assert idle.requested == []
    assert pred_path.read_bytes() == before


def test_a_torn_last_cache_line_is_dropped_and_requested_again(tmp_path):
    pred_path, cache_path = tmp_path / "predictions.jsonl", tmp_path / "cache.jsonl"
    with pytest.raises(ConnectionError):
        run_predictions(FakeBackend(fail_after=3), RECORDS, pred_path, cache_path)
    lines = cache_path.read_text().splitlines(keepends=True)
    cache_path.write_text("".join(lines[:2]) + lines[2][:15])  # killed while writing the third line
    resumed = FakeBackend()
    run_predictions(resumed, RECORDS, pred_path, cache_path)
    assert len(resumed.requested) == len(RECORDS) - 2
    assert json.loads(lines[2])["id"] in resumed.requested
    assert len(list(read_jsonl(cache_path))) == len(RECORDS)


def test_errored_results_are_kept_then_retried_on_rerun(tmp_path):
    pred_path, cache_path = tmp_path / "predictions.jsonl", tmp_path / "cache.jsonl"
    first = run_predictions(FakeBackend(error_ids={"h-03"}), RECORDS, pred_path, cache_path)
    assert [(p["id"], p["answer"], p["error"]) for p in first if p["error"]] == [("h-03", None, "rate limited")]
    retry = FakeBackend()
    second = run_predictions(retry, RECORDS, pred_path, cache_path)
    assert retry.requested == ["h-03"]
    assert all(p["error"] is None for p in second)


def test_duplicate_eval_ids_are_rejected(tmp_path):
    with pytest.raises(InputError, match="h-07"):
        run_predictions(FakeBackend(), RECORDS + [haystack(7)], tmp_path / "p.jsonl", tmp_path / "c.jsonl")


def test_corrupt_cache_line_names_file_and_line(tmp_path):
    cache_path = tmp_path / "cache.jsonl"
    cache_path.write_text('{"id": "h-00", "answer": "x", "error": null}\nnot json\n')
    with pytest.raises(InputError, match="cache.jsonl:2"):
        run_predictions(FakeBackend(), RECORDS, tmp_path / "p.jsonl", cache_path)


class ShortBackend(FakeBackend):
    def generate(self, requests):
        yield from super().generate(requests[:-1])


class StrayBackend(FakeBackend):
    def generate(self, requests):
        yield {"id": "nobody", "answer": "{}", "error": None, "input_tokens": 1, "output_tokens": 1}


@pytest.mark.parametrize("backend", [ShortBackend(), StrayBackend()], ids=["missing", "unknown-id"])
def test_a_backend_that_loses_or_invents_results_fails_loudly(tmp_path, backend):
    with pytest.raises(RuntimeError):
        run_predictions(backend, RECORDS, tmp_path / "p.jsonl", tmp_path / "c.jsonl")
    assert not (tmp_path / "p.jsonl").exists()


def test_cached_answers_are_reused_only_for_the_same_prompt_and_model(tmp_path):
    cache, pred = tmp_path / "cache.jsonl", tmp_path / "pred.jsonl"
    run_predictions(FakeBackend(), RECORDS, pred, cache, model_id="adapter-v1")
    # the grid was rebuilt: same ids, one prompt changed -> only that one is asked again
    changed = [dict(r, messages=[r["messages"][0], {"role": "user", "content": "new haystack"}, r["messages"][2]])
               if r["id"] == "h-03" else r for r in RECORDS]
    backend = FakeBackend()
    out = run_predictions(backend, changed, pred, cache, model_id="adapter-v1")
    assert backend.requested == ["h-03"]
    assert next(p for p in out if p["id"] == "h-03")["answer"] == "new haystack"
    # the adapter was retrained: every answer is asked again
    backend = FakeBackend()
    run_predictions(backend, changed, pred, cache, model_id="adapter-v2")
    assert sorted(backend.requested) == sorted(r["id"] for r in RECORDS)


def test_two_records_asking_the_same_prompt_are_rejected(tmp_path):
    twin = dict(haystack(3), id="h-33")
    with pytest.raises(InputError, match="'h-03' and 'h-33' ask the same prompt"):
        run_predictions(FakeBackend(), RECORDS + [twin], tmp_path / "p.jsonl", tmp_path / "c.jsonl")
