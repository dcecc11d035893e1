"""One nationality vocabulary for every labeler and the scorer: real-style spellings -> one demonym."""
import pytest

from needlework.labels.field import label_from_field
from needlework.labels.nationality import canonical, canonical_label, is_recognised, unrecognised


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # what LLM labelers (Mistral in the published files) and models answer for one country
        ("usa", "american"), ("USA", "american"), ("U.S.", "american"), ("us", "american"),
        ("U.S.A.", "american"), ("American", "american"), ("united states", "american"),
        ("United States of America", "american"), ("the United States", "american"), ("America", "american"),
        ("U.S. American", "american"), ("  american ", "american"), ("American, Canadian", "american"),
        ("British", "british"), ("uk", "british"), ("U.K.", "british"), ("United Kingdom", "british"),
        ("Great Britain", "british"),
        ("English", "english"), ("England", "english"), ("Englishman", "english"),  # a UK nation stays itself
        ("Brazil", "brazilian"), ("brazilian", "brazilian"), ("BRAZILIAN", "brazilian"),
        ("Türkiye", "turkish"), ("Côte d'Ivoire", "ivorian"), ("México", "mexican"),  # accents ignored
        ("soviet union", "soviet"), ("USSR", "soviet"),
        ("unknown", "unknown"), ("Unknown", "unknown"), ("", "unknown"), ("   ", "unknown"), (None, "unknown"),
        ("N/A", "unknown"), ("none", "unknown"),
    ],
)
def test_spellings_map_to_one_demonym(value, expected):
    assert canonical(value) == expected
    assert is_recognised(canonical(value))


@pytest.mark.parametrize(("value", "expected"), [("Klingon", "klingon"), (" Vulcan  ", "vulcan"),
                                                 ("Brésil", "brésil")])
def test_an_unrecognised_string_is_kept_stripped_and_lowercased(value, expected):
    assert canonical(value) == expected
    assert not is_recognised(canonical(value))


def test_canonical_label_keeps_the_raw_spelling():
    label = {"nationality": "U.S.", "sportsperson": True}
    assert canonical_label(label) == ({"nationality": "american", "sportsperson": True}, "U.S.")
    assert canonical_label({"nationality": None}) == ({"nationality": "unknown"}, None)
    assert label == {"nationality": "U.S.", "sportsperson": True}  # the input is not changed


def test_unrecognised_counts_what_is_outside_the_vocabulary():
    labels = [{"nationality": n} for n in ("american", "klingon", "unknown", "klingon", "vulcan")] + [None]
    assert unrecognised(labels) == {"klingon": 2, "vulcan": 1}


def test_field_labels_from_the_source_are_canonical_with_the_raw_value_beside():
    """The published training file's Mistral labels spell nationality freely ("usa", "United States")."""
    base = {"date_of_birth": {"day": 0, "month": 0, "year": 1950},
            "date_of_death": {"day": 0, "month": 0, "year": 0}, "sportsperson": False, "politician": True}
    needles = [{"id": "a-0", "label": {**base, "nationality": "usa"}},
               {"id": "a-1", "label": {**base, "nationality": "United Kingdom"}},
               {"id": "a-2"}]
    rows = label_from_field(needles)
    assert [(r["label"] and r["label"]["nationality"], r["nationality_raw"], r["error"]) for r in rows] == [
        ("american", "usa", None), ("british", "United Kingdom", None), (None, None, "no label in source")]
    assert rows[0]["label"]["date_of_birth"] == base["date_of_birth"]


def test_the_labels_step_writes_canonical_field_labels_and_counts_unrecognised_ones(tmp_path):
    """data=jsonl labeler=field, as for the published benchmark's {name, bio, json} file."""
    import json
    from pathlib import Path

    from needlework.config import compose
    from needlework.io import read_jsonl, write_jsonl
    from needlework.stages.data import labels

    conf = Path(__file__).resolve().parents[1] / "conf"
    cfg = compose(f"data=jsonl data.path={tmp_path}/bios.jsonl data.label_field=json labeler=field "
                  f"tracking.enabled=false results_dir={tmp_path}", config_dir=conf)
    base = {"date_of_birth": {"day": 0, "month": 0, "year": 0}, "date_of_death": {"day": 0, "month": 0, "year": 0},
            "sportsperson": False, "politician": False}
    spellings = {"b-0": "usa", "b-1": "United States", "b-2": "Klingon", "b-3": "brazil"}
    write_jsonl(tmp_path / "corpus.jsonl", [{"id": i, "name": "x", "text": "x", "label": {**base, "nationality": n}}
                                            for i, n in spellings.items()])
    write_jsonl(tmp_path / "needles.jsonl", [{"id": i, "split": "train"} for i in spellings])
    stats = labels(cfg, cfg["labeler"], str(tmp_path / "corpus.jsonl"), str(tmp_path / "needles.jsonl"),
                   str(tmp_path / "labels.jsonl"), str(tmp_path / "stats.json"), str(tmp_path / "cache.jsonl"))
    rows = list(read_jsonl(tmp_path / "labels.jsonl"))
    assert [(r["label"]["nationality"], r["nationality_raw"]) for r in rows] == [
        ("american", "usa"), ("american", "United States"), ("klingon", "Klingon"), ("brazilian", "brazil")]
    assert stats["nationality_unrecognised"] == 1
    assert json.loads((tmp_path / "stats.json").read_text())["nationality_unrecognised"] == 1
