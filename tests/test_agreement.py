"""Agreement between two labelers: exact counts on crafted label sets, examples, CSV output."""
import math

import pandas as pd
import pytest

from needlework.io import InputError
from needlework.labels.agreement import agreement_table, disagreements, write_agreement
from needlework.labels.schema import LEAF_FIELDS


def label(nationality="swedish", birth=(14, 6, 1995), death=(0, 0, 0), sportsperson=False, politician=False):
    return {
        "nationality": nationality,
        "date_of_birth": dict(zip(("day", "month", "year"), birth)),
        "date_of_death": dict(zip(("day", "month", "year"), death)),
        "sportsperson": sportsperson,
        "politician": politician,
    }


INFOBOX = [
    {"id": "n-0", "label": label(), "error": None},
    {"id": "n-1", "label": label(nationality="american", birth=(0, 0, 1890), death=(1, 10, 1971)), "error": None},
    {"id": "n-2", "label": label(sportsperson=True), "error": None},
    {"id": "n-3", "label": label(politician=True), "error": None},
    {"id": "n-4", "label": None, "error": "no infobox"},
    {"id": "n-5", "label": label(), "error": None},  # absent from the LLM's file
]
LLM = [
    {"id": "n-3", "label": label(nationality="American", politician=True), "error": None},  # nationality differs
    {"id": "n-0", "label": label(nationality=" Swedish "), "error": None},  # same: case and spaces ignored
    {"id": "n-1", "label": label(nationality="american", birth=(1, 1, 1890), death=(1, 10, 1971)), "error": None},
    {"id": "n-2", "label": label(sportsperson=False, birth=(14, 7, 1995)), "error": None},
    {"id": "n-4", "label": label(), "error": None},  # the infobox labeler failed on it: not counted
    {"id": "n-6", "label": None, "error": "timeout"},
]


def by_field(df):
    return {(row.level, row.field): (row.n, row.agree) for row in df.itertuples()}


def test_agreement_counts():
    df = agreement_table(INFOBOX, LLM, "infobox", "llm")
    assert list(df.columns) == ["level", "field", "labeler_a", "labeler_b", "n", "agree", "agreement"]
    assert set(df["labeler_a"]) == {"infobox"} and set(df["labeler_b"]) == {"llm"}
    assert [f for level, f in zip(df["level"], df["field"]) if level == "leaf"] == list(LEAF_FIELDS)
    assert by_field(df) == {
        ("leaf", "nationality"): (4, 3),
        ("leaf", "date_of_birth.day"): (4, 3),
        ("leaf", "date_of_birth.month"): (4, 2),
        ("leaf", "date_of_birth.year"): (4, 4),
        ("leaf", "date_of_death.day"): (4, 4),
        ("leaf", "date_of_death.month"): (4, 4),
        ("leaf", "date_of_death.year"): (4, 4),
        ("leaf", "sportsperson"): (4, 3),
        ("leaf", "politician"): (4, 4),
        ("field", "nationality"): (4, 3),
        ("field", "date_of_birth"): (4, 2),
        ("field", "date_of_death"): (4, 4),
        ("field", "sportsperson"): (4, 3),
        ("field", "politician"): (4, 4),
        ("label", "label"): (4, 1),
    }
    rates = dict(zip(df["field"] + "/" + df["level"], df["agreement"]))
    assert rates["date_of_birth.month/leaf"] == 0.5
    assert rates["nationality/field"] == 0.75
    assert rates["label/label"] == 0.25


def test_agreement_is_symmetric_in_counts():
    forward = agreement_table(INFOBOX, LLM, "infobox", "llm")
    backward = agreement_table(LLM, INFOBOX, "llm", "infobox")
    assert by_field(forward) == by_field(backward)


def test_no_needles_in_common_gives_nan():
    df = agreement_table(INFOBOX[:1], LLM[5:], "infobox", "llm")
    assert set(df["n"]) == {0} and set(df["agree"]) == {0}
    assert all(math.isnan(rate) for rate in df["agreement"])


def test_disagreement_examples():
    df = disagreements(INFOBOX, LLM, "infobox", "llm")
    assert list(df.columns) == ["field", "id", "labeler_a", "a", "labeler_b", "b"]
    assert df.drop(columns=["labeler_a", "labeler_b"]).values.tolist() == [
        ["nationality", "n-3", "swedish", "American"],
        ["date_of_birth", "n-1", "1890-00-00", "1890-01-01"],
        ["date_of_birth", "n-2", "1995-06-14", "1995-07-14"],
        ["sportsperson", "n-2", "true", "false"],
    ]
    assert len(disagreements(INFOBOX, LLM, "infobox", "llm", per_field=1)) == 3


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"label": label()}], "labels 'a', row #0: missing"),
        ([{"id": "n-0", "label": label()}, {"id": "n-0", "label": None}], "duplicate id 'n-0'"),
        ([{"id": "n-0", "label": {**label(), "sportsperson": "maybe"}}], "id 'n-0': invalid label"),
    ],
)
def test_bad_label_rows(rows, message):
    with pytest.raises(InputError, match=message):
        agreement_table(rows, LLM, "a", "b")


def test_write_agreement_csv(tmp_path):
    path = tmp_path / "agreement" / "infobox_vs_llm.csv"
    df = agreement_table(INFOBOX, LLM, "infobox", "llm")
    write_agreement(df, path)
    first = path.read_bytes()
    assert first.splitlines()[0] == b"level,field,labeler_a,labeler_b,n,agree,agreement"
    assert b"label,label,infobox,llm,4,1,0.25" in first.splitlines()
    assert pd.read_csv(path)["agree"].tolist() == df["agree"].tolist()
    write_agreement(agreement_table(INFOBOX, LLM, "infobox", "llm"), path)
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["infobox_vs_llm.csv"]


def test_spellings_of_one_nationality_agree_and_different_ones_do_not():
    spellings = [("usa", "American"), ("U.S.", "united states"), ("uk", "British"), ("Brazil", "brazilian"),
                 ("unknown", ""), ("english", "British")]
    a = [{"id": f"n-{i}", "label": label(nationality=x), "error": None} for i, (x, _) in enumerate(spellings)]
    b = [{"id": f"n-{i}", "label": label(nationality=y), "error": None} for i, (_, y) in enumerate(spellings)]
    table = agreement_table(a, b, "openai", "field").set_index(["level", "field"])
    assert table.loc[("leaf", "nationality"), ["n", "agree"]].tolist() == [6, 5]  # english is not british
    assert disagreements(a, b, "openai", "field")[["id", "a", "b"]].values.tolist() == [["n-5", "english", "British"]]
