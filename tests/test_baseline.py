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
    table = majority_cells(eval_records, TRAIN, "leaves")
    assert table["model"].tolist() == ["majority", "majority"]
    assert table[["context_length", "depth", "n", "parse_failures", "n_needles"]].values.tolist() == [
        [100, 0, 2, 0, 2],
        [200, 50, 1, 0, 1],
    ]
    assert table["accuracy"].tolist() == pytest.approx([13 / 18, 5 / 9])
    assert table["acc_date_of_birth"].tolist() == pytest.approx([0.5, 1.0])
    assert table["acc_politician"].tolist() == pytest.approx([1.0, 0.0])


def test_majority_counts_spellings_of_one_nationality_together():
    train = [label(n, (1, 5, 1990), (0, 0, 0), False, False) for n in ("usa", "United States", "american")]
    train += [label("swedish", (1, 5, 1990), (0, 0, 0), False, False)] * 2
    assert majority_label(train)["nationality"] == "american"  # 3 spellings of one country beat 2 "swedish"


def test_eval_scoring_published_reaches_the_baseline_cells_csv(tmp_path):
    """eval.scoring from the composed config decides the baseline's accuracy in cells.csv and its path."""
    from pathlib import Path

    import pandas as pd

    from needlework.config import compose
    from needlework.io import write_jsonl
    from needlework.longctx.paths import Paths
    from needlework.stages.evaluation import baseline

    conf = Path(__file__).resolve().parents[1] / "conf"
    truth = label("american", (1, 5, 1980), (0, 0, 0), False, False)
    del truth["politician"]  # the eval label lacks a leaf: |L| = 8, the majority answer has |A| = 9
    write_jsonl(tmp_path / "grid.jsonl", [haystack(1, 100, 0, truth)])
    write_jsonl(tmp_path / "needles.jsonl", [{"id": f"t-{i}", "split": "train"} for i in range(len(TRAIN))])
    write_jsonl(tmp_path / "labels.jsonl", [{"id": f"t-{i}", "label": lab, "error": None}
                                            for i, lab in enumerate(TRAIN)])
    accuracy, dirs = {}, {}
    for scoring in ("leaves", "published"):
        cfg = compose(f"eval.scoring={scoring} tracking.enabled=false results_dir={tmp_path}", config_dir=conf)
        dirs[scoring] = Paths(cfg).baseline_dir
        out = dirs[scoring] / "cells.csv"
        baseline(cfg, str(tmp_path / "grid.jsonl"), str(tmp_path / "needles.jsonl"), str(tmp_path / "labels.jsonl"),
                 str(out))
        accuracy[scoring] = pd.read_csv(out)["accuracy"].item()
    assert dirs["leaves"] != dirs["published"]
    assert accuracy["leaves"] == pytest.approx(8 / 9, abs=1e-6)  # politician missing from the label: wrong
    # |A ^ L| = 1: the baseline answers a Python dict, which the published scorer reads (JSON it would not)
    assert accuracy["published"] == pytest.approx((9 - 1 / 2) / 9, abs=1e-6)
