"""RAFT metric: EM/F1 exactly as the official hotpot_evaluate_v1.py, on its edge cases and on a real fixture."""
from __future__ import annotations

import pytest

from needlework.raft.documents import fixture_path, read_hotpotqa
from needlework.raft.evaluate import prediction_row, score_table
from needlework.raft.metric import bootstrap_ci, exact_match, extract_prediction, f1_score, normalize_answer


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Beatles", "beatles"),
        ("An apple a day", "apple day"),
        ("theater", "theater"),                 # articles only as whole words
        ("Anaheim, CA.", "anaheim ca"),
        ("U.S.A.", "usa"),                       # punctuation is removed, not replaced by a space
        ("don't  stop", "dont stop"),
        ("1968–1970", "1968–1970"),              # an en dash is not ASCII punctuation: kept
        ("  THE  ", ""),
        ("", ""),
    ],
)
def test_normalisation(text, normalized):
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [
        ("the Beatles!", "Beatles", 1.0, 1.0),
        ("Barack Obama", "Obama", 0.0, 2 * 0.5 * 1.0 / 1.5),
        ("cat cat", "cat", 0.0, 2 * 0.5 * 1.0 / 1.5),   # a bag of tokens: the repeat counts once against recall
        ("yes", "no", 0.0, 0.0),
        ("yes", "Yes.", 1.0, 1.0),
        ("yes", "yes indeed", 0.0, 0.0),               # yes/no/noanswer on one side and different: F1 0
        ("yes indeed", "yes", 0.0, 0.0),
        ("no answer", "noanswer", 0.0, 0.0),
        ("noanswer", "noanswer", 1.0, 1.0),
        ("", "", 1.0, 0.0),                            # empty vs empty: equal strings, but no common token
        ("", "Paris", 0.0, 0.0),
        ("Paris", "", 0.0, 0.0),
        ("the", "a", 1.0, 0.0),                        # both normalise to empty
        ("New York City", "new york", 0.0, 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)),
    ],
)
def test_em_and_f1_edge_cases_of_the_official_script(prediction, gold, em, f1):
    assert exact_match(prediction, gold) == em
    assert f1_score(prediction, gold)[0] == pytest.approx(f1, abs=1e-12)


def test_the_prediction_is_the_text_after_the_last_answer_tag():
    assert extract_prediction("reasoning <ANSWER>: first\nmore <ANSWER>:  Paris \n") == ("Paris", True)
    assert extract_prediction("just Paris") == ("just Paris", False)
    assert extract_prediction("<ANSWER>:") == ("", True)


def test_scores_over_a_real_fixture_count_missing_predictions_as_zero():
    records = read_hotpotqa(fixture_path("eval"))
    questions = [{"id": r["_id"], "question": r["question"], "answer": r["answer"]} for r in records]
    rows = [prediction_row(q, f"Because.\n<ANSWER>: {q['answer']}", truncated=False) for q in questions[1:]]
    rows[0] = prediction_row(questions[1], "no tag: " + questions[1]["answer"], truncated=True)
    table = score_table("m", rows, len(questions), seed=0).iloc[0]
    n = len(questions)
    expected_f1_q1 = f1_score("no tag: " + questions[1]["answer"], questions[1]["answer"])[0]
    assert table["n"] == n == 20
    assert table["em"] == pytest.approx((n - 2) / n)  # one question unanswered, one answered with extra words
    assert table["f1"] == pytest.approx((n - 2 + expected_f1_q1) / n)
    assert table["missing_answer_tag"] == pytest.approx(1 / n) and table["truncated"] == pytest.approx(1 / n)
    assert table["f1_ci_low"] <= table["f1"] <= table["f1_ci_high"] <= 1.0


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [0.0, 1.0] * 50
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    low, high = bootstrap_ci(values, seed=3)
    assert 0.35 < low < 0.5 < high < 0.65
    assert bootstrap_ci([1.0] * 10, seed=0) == (1.0, 1.0)
