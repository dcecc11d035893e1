"""Judge-free scoring: per-leaf comparison (strict and published), Wilson intervals, the cells table and its CSV."""
import json
import random

import pandas as pd
import pytest

from needlework.evaluate.intervals import wilson
from needlework.evaluate.scoring import CELL_COLUMNS, cells, score, score_prediction, write_cells
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
    table = cells(PREDICTIONS, "tiny", "leaves")
    assert list(table.columns) == list(CELL_COLUMNS)
    assert table[["context_length", "depth", "n", "parse_failures", "n_needles"]].values.tolist() == [
        [500, 100, 1, 0, 1],
        [1000, 0, 2, 0, 2],
        [1000, 50, 2, 2, 2],
    ]
    assert table["needle_ids"].tolist() == ['["n-5"]', '["n-1", "n-2"]', '["n-3", "n-4"]']
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
    write_cells(cells(PREDICTIONS, "tiny", "leaves"), tmp_path / "a" / "cells.csv")
    shuffled = PREDICTIONS[:]
    random.Random(3).shuffle(shuffled)
    write_cells(cells(shuffled, "tiny", "leaves"), tmp_path / "b" / "cells.csv")
    text = (tmp_path / "a" / "cells.csv").read_text()
    assert text == (tmp_path / "b" / "cells.csv").read_text()
    assert text.splitlines() == [
        ",".join(CELL_COLUMNS),
        'tiny,500,100,1,0.888889,0.163694,0.996951,0,0.000000,1.000000,1.000000,1.000000,1.000000,1,"[""n-5""]"',
        'tiny,1000,0,2,0.888889,0.272096,0.994193,0,1.000000,0.833333,1.000000,1.000000,0.500000,2,'
        '"[""n-1"", ""n-2""]"',
        'tiny,1000,50,2,0.000000,0.000000,0.657628,2,0.000000,0.000000,0.000000,0.000000,0.000000,2,'
        '"[""n-3"", ""n-4""]"',
    ]
    assert pd.read_csv(tmp_path / "a" / "cells.csv")["n"].tolist() == [1, 2, 2]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["cells.csv"]  # no temporary left behind


def test_a_cell_asking_one_needle_twice_has_the_interval_of_one_draw():
    """Two prompts about one needle are one draw of a biography: the cell's interval is that of n = 1."""
    twice = [{**PREDICTIONS[0], "id": "h-a"}, {**PREDICTIONS[0], "id": "h-b"}]
    row = cells(twice, "tiny", "leaves").iloc[0]
    assert (row["n"], row["n_needles"], row["accuracy"]) == (2, 1, 1.0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(1, 1))  # [0.21, 1.0], not wilson(2, 2)
    assert row["ci_low"] < wilson(2, 2)[0]


def test_cells_of_no_predictions_is_an_empty_table_with_the_contract_columns():
    assert list(cells([], "tiny", "leaves").columns) == list(CELL_COLUMNS)


def test_prediction_with_a_broken_label_names_its_id():
    from needlework.io import InputError

    with pytest.raises(InputError, match="h-1"):
        cells([{**PREDICTIONS[0], "label": "{not json"}], "tiny", "leaves")


AMERICAN = {**LABEL, "nationality": "american"}


@pytest.mark.parametrize("answer", ["usa", "USA", "U.S.", "us", "United States", "united states of america",
                                    "America", "American", " american ", "U.S. American"])
def test_nationality_variants_of_one_country_score_as_equal(answer):
    result = score(AMERICAN, {**AMERICAN, "nationality": answer})
    assert result["correct"]["nationality"] is True
    assert result["score"] == 1.0


@pytest.mark.parametrize(("label", "answer"), [("usa", "American"), ("uk", "British"), ("Brazil", "brazilian"),
                                               ("u.k.", "united kingdom")])
def test_a_raw_label_and_a_demonym_answer_score_as_equal(label, answer):
    assert score({**LABEL, "nationality": label}, {**LABEL, "nationality": answer})["correct"]["nationality"] is True


@pytest.mark.parametrize(("label", "answer"), [("american", "british"), ("british", "english"),
                                               ("american", "canadian"), ("unknown", "american"),
                                               ("klingon", "vulcan")])
def test_different_nationalities_stay_different(label, answer):
    assert score({**LABEL, "nationality": label}, {**LABEL, "nationality": answer})["correct"]["nationality"] is False


def test_an_unrecognised_nationality_still_matches_itself_without_case():
    assert score({**LABEL, "nationality": "klingon"}, {**LABEL, "nationality": " Klingon "})["score"] == 1.0


def without(leaf):
    pred = json.loads(json.dumps(LABEL))
    *parents, name = leaf.split(".")
    target = pred
    for part in parents:
        target = target[part]
    del target[name]
    return pred


# Hand-computed with the published formula: (|A| - |A ^ L| / 2) / |A|, L has 9 pairs.
@pytest.mark.parametrize(
    ("pred", "published", "leaves"),
    [
        (LABEL, 9 / 9, 1.0),  # all equal: |A| = 9, |A ^ L| = 0
        (without("politician"), (8 - 1 / 2) / 8, 8 / 9),  # a missing leaf: |A| = 8, |A ^ L| = 1
        ({k: v for k, v in LABEL.items() if k != "date_of_death"}, (6 - 3 / 2) / 6, 6 / 9),  # a missing object
        ({**LABEL, "name": "anna berg"}, (10 - 1 / 2) / 10, 1.0),  # an extra leaf: |A| = 10, |A ^ L| = 1
        (with_changes(politician=True), (9 - 2 / 2) / 9, 8 / 9),  # one wrong leaf: |A ^ L| = 2
        (with_changes(**{"nationality": "french", "date_of_birth.day": 1, "date_of_birth.month": 1,
                         "date_of_birth.year": 1, "date_of_death.day": 1, "date_of_death.month": 1,
                         "date_of_death.year": 1, "sportsperson": False, "politician": True}), 0.0, 0.0),  # all wrong
        ({"nationality": "french"}, (1 - 10 / 2) / 1, 0.0),  # one wrong leaf only: |A ^ L| = 10, below 0
        (with_changes(**{"date_of_birth.year": "1995"}), (9 - 2 / 2) / 9, 1.0),  # "1995" is not 1995 there
        (with_changes(nationality="Sweden"), (9 - 2 / 2) / 9, 1.0),  # exact there, canonical in leaves
        ({}, 0.0, 0.0),  # no leaves at all
    ],
)
def test_published_scoring_matches_hand_computed_values(pred, published, leaves):
    assert score(LABEL, pred, "published")["score"] == pytest.approx(published)
    assert score(LABEL, pred, "leaves")["score"] == pytest.approx(leaves)
    assert score(LABEL, pred, "published")["parse_failure"] is False


def test_published_scoring_of_an_unparseable_answer_is_zero_and_a_parse_failure():
    result = score(LABEL, None, "published")
    assert result["score"] == 0.0
    assert result["parse_failure"] is True


def test_an_unknown_scoring_names_the_config_key():
    with pytest.raises(ValueError, match="eval.scoring"):
        score(LABEL, LABEL, "per-field")


def test_published_scoring_sets_the_cells_accuracy_and_its_per_leaf_field_columns(tmp_path):
    predictions = [
        prediction(1, 500, 0, str(without("politician"))),  # published 0.9375, leaves 8/9
        prediction(2, 1000, 0, str({**LABEL, "name": "anna berg"})),  # published 0.95, leaves 1
        prediction(3, 1000, 0, "no json here"),  # 0 in both, a parse failure
        prediction(4, 1000, 0, json.dumps(LABEL)),  # JSON true/false: not Python, 0 in published, 1 in leaves
    ]
    published = cells(predictions, "tiny", "published")
    leaves = cells(predictions, "tiny", "leaves")
    assert published["accuracy"].tolist() == pytest.approx([0.9375, 0.95 / 3])
    assert leaves["accuracy"].tolist() == pytest.approx([8 / 9, 2 / 3])
    assert published["parse_failures"].tolist() == [0, 2] and leaves["parse_failures"].tolist() == [0, 1]
    assert published["acc_politician"].tolist() == [0.0, pytest.approx(1 / 3)]  # the field follows the mode
    assert leaves["acc_politician"].tolist() == [0.0, pytest.approx(2 / 3)]
    write_cells(published, tmp_path / "cells.csv")
    assert pd.read_csv(tmp_path / "cells.csv")["accuracy"].tolist() == pytest.approx([0.9375, 0.316667])


# The published scorer on raw answers: the label is LABEL (swedish, born 14.6.1995, alive, sportsperson).
@pytest.mark.parametrize(
    ("answer", "published", "leaves"),
    [
        (str(LABEL), 1.0, 1.0),  # a plain Python dict: right in both
        ("  " + str(LABEL) + "\n", 1.0, 1.0),  # surrounding blanks: Python reads them too
        (json.dumps(LABEL), 0.0, 1.0),  # JSON: `true`/`false` are not Python names
        (json.dumps({k: v for k, v in LABEL.items() if k not in ("sportsperson", "politician")}),
         (7 - 2 / 2) / 7, 7 / 9),  # JSON without booleans is a Python literal: 7 right, 2 missing
        ("```python\n" + str(LABEL) + "\n```", 0.0, 1.0),  # fenced
        ("Here is the information: " + str(LABEL), 0.0, 1.0),  # chatty
        (str({**LABEL, "name": "anna berg", "age": 30}), (11 - 2 / 2) / 11, 1.0),  # extra keys cost a little
        (str(without("date_of_death")), (6 - 3 / 2) / 6, 6 / 9),  # missing keys
        (str({**LABEL, "sportsperson": 1, "politician": 0}), 1.0, 7 / 9),  # Python: True == 1 and False == 0
        (str(with_changes(**{"date_of_birth.year": "1995"})), (9 - 2 / 2) / 9, 1.0),  # "1995" != 1995
        (str(with_changes(**{"date_of_birth.year": 1995.0})), 1.0, 1.0),  # 1995.0 == 1995
        (str(with_changes(nationality="Swedish")), (9 - 2 / 2) / 9, 1.0),  # case-sensitive
        (str(with_changes(nationality="Sweden")), (9 - 2 / 2) / 9, 1.0),  # no canonical demonyms
        (str(with_changes(nationality=["swedish"])), 0.0, 8 / 9),  # a list: the published code cannot score it
        ("{}", 0.0, 0.0),  # no leaves: the published code would divide by zero
        ("[1, 2]", 0.0, 0.0),  # not a dict
        ("{'nationality': __import__('os').getcwd()}", 0.0, 0.0),  # never run
        ("", 0.0, 0.0),
    ],
    ids=["dict", "blanks", "json", "json-no-bools", "fenced", "chatty", "extra-keys", "missing-keys", "bool-int",
         "str-year", "float-year", "case", "country", "list", "empty-dict", "list-answer", "code", "empty"],
)
def test_published_scoring_reproduces_the_published_scorer_on_raw_answers(answer, published, leaves):
    record = prediction(1, 500, 0, answer)
    assert score_prediction(record, "published")["score"] == pytest.approx(published)
    assert score_prediction(record, "leaves")["score"] == pytest.approx(leaves)
    assert score_prediction(record, "published")["parse_failure"] is (published == 0.0)


@pytest.mark.parametrize("answer", ["Not American", "not american", "Non-American", "American, Canadian",
                                    "American/Canadian", "American or Canadian", "American and Canadian",
                                    "Canadian American", "probably American", "American (born in Canada)",
                                    "unknown or American"])
def test_strict_nationality_gives_hedges_nothing(answer):
    result = score(AMERICAN, {**AMERICAN, "nationality": answer})
    assert result["correct"]["nationality"] is False
    assert result["score"] == pytest.approx(8 / 9)


@pytest.mark.parametrize(("label", "answer"), [("american", "the United States"), ("american", "U.S.A."),
                                               ("unknown", "Unknown"), ("unknown", "N/A"), ("unknown", "")])
def test_strict_nationality_still_reads_one_country_however_written(label, answer):
    assert score({**LABEL, "nationality": label}, {**LABEL, "nationality": answer})["correct"]["nationality"] is True


def test_eval_scoring_is_in_the_evaluate_key_but_not_in_the_answer_cache_key():
    """Changing eval.scoring rescores (a new results/evaluate/<key>) from the same cached answers."""
    from pathlib import Path

    from needlework.config import compose
    from needlework.longctx.paths import Paths

    conf = Path(__file__).resolve().parents[1] / "conf"
    leaves, published = (Paths(compose(f"eval.scoring={s}", config_dir=conf)) for s in ("leaves", "published"))
    assert Paths(compose(config_dir=conf)).eval_key("base") == leaves.eval_key("base")  # leaves is the default
    for model in ("base", "finetuned"):
        assert leaves.eval_key(model) != published.eval_key(model)
        assert leaves.prediction_key(model) == published.prediction_key(model)
    assert leaves.baseline_dir != published.baseline_dir
