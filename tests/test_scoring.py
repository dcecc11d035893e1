"""Judge-free scoring: per-leaf comparison, Wilson intervals, the cells table and its CSV."""
import json
import random

import pandas as pd
import pytest

from needlework.evaluate.scoring import CELL_COLUMNS, cells, score, wilson, write_cells
from needlework.labels.schema import LEAF_FIELDS

LABEL = {
    "nationality": "swedish",
    "date_of_birth": {"day": 14, "month": 6, "year": 1995},
    "date_of_death": {"day": 0, "month": 0, "year": 0},
    "sportsperson": True,
    "politician": False,
}


def with_changes(**changes):
    """LABEL with some leaves replaced: with_changes(**{"date_of_birth.day": 3})."""
    pred = json.loads(json.dumps(LABEL))
    for leaf, value in changes.items():
        *parents, name = leaf.split(".")
        target = pred
        for part in parents:
            target = target[part]
        target[name] = value
    return pred


def test_exact_answer_scores_one():
    result = score(LABEL, LABEL)
    assert result["score"] == 1.0
    assert result["parse_failure"] is False
    assert result["differing"] == []
    assert result["correct"] == {leaf: True for leaf in LEAF_FIELDS}


def test_two_wrong_leaves_score_seven_ninths():
    result = score(LABEL, with_changes(**{"date_of_birth.day": 15, "politician": True}))
    assert result["score"] == pytest.approx(7 / 9)
    assert result["differing"] == ["date_of_birth.day", "politician"]
    assert result["correct"]["date_of_birth.month"] is True


def test_lenient_forms_count_as_equal():
    pred = with_changes(
        nationality=" Swedish ",
        **{"date_of_birth.year": "1995", "date_of_birth.month": 6.0, "sportsperson": "TRUE", "politician": "false"},
    )
    assert score(LABEL, pred)["score"] == 1.0


@pytest.mark.parametrize(
    ("leaf", "value"),
    [
        ("date_of_birth.year", "c. 1995"),
        ("date_of_birth.year", 1995.5),
        ("date_of_birth.month", "june"),
        ("date_of_death.day", False),  # a boolean is not the integer 0
        ("date_of_death.year", None),
        ("sportsperson", 1),
        ("sportsperson", "yes"),
        ("politician", 0),
        ("politician", None),
        ("nationality", ["swedish"]),
    ],
)
def test_wrong_types_make_that_leaf_wrong(leaf, value):
    result = score(LABEL, with_changes(**{leaf: value}))
    assert result["differing"] == [leaf]
    assert result["score"] == pytest.approx(8 / 9)


def test_missing_leaves_are_wrong_even_when_the_label_is_zero():
    result = score(LABEL, {"nationality": "swedish", "date_of_death": None})
    assert result["score"] == pytest.approx(1 / 9)
    assert result["parse_failure"] is False


def test_unparseable_scores_zero_and_counts_as_parse_failure():
    result = score(LABEL, None)
    assert result["score"] == 0.0
    assert result["parse_failure"] is True
    assert result["differing"] == list(LEAF_FIELDS)


def test_wilson_matches_known_values():
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)


@pytest.mark.parametrize(("successes", "n"), [(1, 0), (-1, 5), (6, 5)])
def test_wilson_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson(successes, n)


def prediction(i, context_length, depth, answer, error=None):
    return {
        "id": f"h-{i}",
        "needle_id": f"n-{i}",
        "context_length": context_length,
        "depth": depth,
        "actual_depth": depth,
        "label": json.dumps(LABEL),
        "answer": answer,
        "error": error,
        "input_tokens": 100,
        "output_tokens": 20,
    }


PREDICTIONS = [
    prediction(1, 1000, 0, "```json\n" + json.dumps(LABEL) + "\n```"),  # 9/9
    prediction(2, 1000, 0, json.dumps(with_changes(**{"date_of_birth.day": 1, "politician": True}))),  # 7/9
    prediction(3, 1000, 50, "I don't know."),  # parse failure
    prediction(4, 1000, 50, None, error="timeout"),  # backend error: no answer, parse failure
    prediction(5, 500, 100, str(with_changes(nationality="norwegian"))),  # python repr, 8/9
]


def test_cells_table_has_exact_values():
    table = cells(PREDICTIONS, "tiny")
    assert list(table.columns) == list(CELL_COLUMNS)
    assert table[["context_length", "depth", "n", "parse_failures"]].values.tolist() == [
        [500, 100, 1, 0],
        [1000, 0, 2, 0],
        [1000, 50, 2, 2],
    ]
    assert (table["model"] == "tiny").all()
    expected = {
        "accuracy": [8 / 9, 8 / 9, 0.0],
        "ci_low": [0.163694, 0.272096, 0.0],
        "ci_high": [0.996951, 0.994193, 0.657628],
        "acc_nationality": [0.0, 1.0, 0.0],
        "acc_date_of_birth": [1.0, 5 / 6, 0.0],
        "acc_date_of_death": [1.0, 1.0, 0.0],
        "acc_sportsperson": [1.0, 1.0, 0.0],
        "acc_politician": [1.0, 0.5, 0.0],
    }
    for column, values in expected.items():
        assert table[column].tolist() == pytest.approx(values, abs=1e-6), column


def test_cells_csv_is_exact_and_independent_of_input_order(tmp_path):
    write_cells(cells(PREDICTIONS, "tiny"), tmp_path / "a" / "cells.csv")
    shuffled = PREDICTIONS[:]
    random.Random(3).shuffle(shuffled)
    write_cells(cells(shuffled, "tiny"), tmp_path / "b" / "cells.csv")
    text = (tmp_path / "a" / "cells.csv").read_text()
    assert text == (tmp_path / "b" / "cells.csv").read_text()
    assert text.splitlines() == [
        ",".join(CELL_COLUMNS),
        "tiny,500,100,1,0.888889,0.163694,0.996951,0,0.000000,1.000000,1.000000,1.000000,1.000000",
        "tiny,1000,0,2,0.888889,0.272096,0.994193,0,1.000000,0.833333,1.000000,1.000000,0.500000",
        "tiny,1000,50,2,0.000000,0.000000,0.657628,2,0.000000,0.000000,0.000000,0.000000,0.000000",
    ]
    assert pd.read_csv(tmp_path / "a" / "cells.csv")["n"].tolist() == [1, 2, 2]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["cells.csv"]  # no temporary left behind


def test_cells_of_no_predictions_is_an_empty_table_with_the_contract_columns():
    assert list(cells([], "tiny").columns) == list(CELL_COLUMNS)


def test_prediction_with_a_broken_label_names_its_id():
    from needlework.io import InputError

    with pytest.raises(InputError, match="h-1"):
        cells([{**PREDICTIONS[0], "label": "{not json"}], "tiny")
