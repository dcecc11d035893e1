"""The majority baseline: training-label priors answered to every eval needle."""
import json

import pytest

from needlework.evaluate.baseline import majority_cells, majority_label


def label(nationality, dob, dod, sportsperson, politician):
    d, m, y = dob
    dd, dm, dy = dod
    return {
        "nationality": nationality,
        "date_of_birth": {"day": d, "month": m, "year": y},
        "date_of_death": {"day": dd, "month": dm, "year": dy},
        "sportsperson": sportsperson,
        "politician": politician,
    }


TRAIN = [
    label("swedish", (1, 5, 1990), (0, 0, 0), True, False),
    label("swedish", (2, 5, 1980), (0, 0, 0), False, False),
    label("american", (1, 6, 1990), (3, 4, 2001), True, True),
    label("american", (3, 7, 1980), (0, 0, 0), False, False),
    label("unknown", (1, 5, 1970), (0, 0, 0), False, True),
]


def test_majority_takes_each_leaf_s_most_frequent_value_and_breaks_ties_by_smallest():
    assert majority_label(TRAIN) == label("american", (1, 5, 1980), (0, 0, 0), False, False)
    # nationality american/swedish tie -> "american"; year 1990/1980 tie -> 1980


def test_majority_does_not_depend_on_label_order():
    assert majority_label(TRAIN[::-1]) == majority_label(TRAIN)


def test_majority_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        majority_label([])


def haystack(i, context_length, depth, truth):
    return {
        "id": f"h-{i}",
        "needle_id": f"n-{i}",
        "context_length": context_length,
        "depth": depth,
        "actual_depth": depth,
        "n_tokens": context_length - 10,
        "messages": [
            {"role": "system", "content": "extract information about a person in JSON"},
            {"role": "user", "content": "haystack\n\nGiven this information, extract information about x."},
            {"role": "assistant", "content": json.dumps(truth)},
        ],
    }


def test_majority_cells_score_the_prior_against_eval_labels():
    eval_records = [
        haystack(1, 100, 0, label("american", (1, 5, 1980), (0, 0, 0), False, False)),  # 9/9
        haystack(2, 100, 0, label("swedish", (9, 9, 1999), (0, 0, 0), True, False)),  # 4/9
        haystack(3, 200, 50, label("american", (1, 5, 1980), (5, 5, 2005), False, True)),  # 5/9
    ]
    table = majority_cells(eval_records, TRAIN)
    assert table["model"].tolist() == ["majority", "majority"]
    assert table[["context_length", "depth", "n", "parse_failures"]].values.tolist() == [
        [100, 0, 2, 0],
        [200, 50, 1, 0],
    ]
    assert table["accuracy"].tolist() == pytest.approx([13 / 18, 5 / 9])
    assert table["acc_date_of_birth"].tolist() == pytest.approx([0.5, 1.0])
    assert table["acc_politician"].tolist() == pytest.approx([1.0, 0.0])
