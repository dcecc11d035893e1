"""Anonymization never changes a fact: the labels read from a record before and after anonymization are equal,
on real wiki_bio records; a record whose label would change is dropped, counted and listed."""
import json
from pathlib import Path

import pytest

from needlework.corpus import anonymize as anon
from needlework.corpus import build, facts
from needlework.labels.infobox import label_from_infobox
from needlework.labels.vocabulary import MONTHS

FIXTURE = Path(__file__).parent / "fixtures" / "wikibio_real_sample.jsonl"
SHARED_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikibio_dev.jsonl"
CFG = {"source": "wiki_bio", "hub_id": "wiki_bio", "split": "train", "limit": None, "max_bad_share": 0.0}


def person(name, text, **infobox):
    return {"id": name, "name": name, "text": text, "infobox": {"name": name, **infobox}}


def labels(record):
    return label_from_infobox(record["infobox"], record["text"])


def test_a_first_name_that_is_a_month_abbreviation_keeps_the_birth_month():
    record = person("jan kowalski", "jan kowalski ( born 12 jan 1950 ) is a polish footballer .",
                    birth_date="12 jan 1950")
    [out], _ = anon.anonymize([record], seed=0)
    assert "jan" not in out["name"].split() and "kowalski" not in out["text"]
    assert out["text"].endswith("( born 12 jan 1950 ) is a polish footballer .")
    assert out["infobox"]["birth_date"] == "12 jan 1950"
    assert labels(out) == labels(record) and labels(out).date_of_birth.month == 1


@pytest.mark.parametrize("month", sorted(MONTHS))
def test_every_month_word_the_date_parser_reads_survives_as_a_name(month):
    record = person(f"{month} novak", f"{month} novak ( born 3 {month} 1950 ) is a czech archer .",
                    birth_date=f"3 {month} 1950")
    [out], _ = anon.anonymize([record], seed=1)
    assert out["name"] != record["name"] and labels(out) == labels(record)


def test_a_name_inside_a_place_is_kept_there_and_replaced_elsewhere():
    record = person("louis player", "louis player ( born 1950 ) is a golfer from st louis , missouri . player "
                    "won twice .", birth_place="st louis , missouri")
    [out], _ = anon.anonymize([record], seed=0)
    assert out["infobox"]["birth_place"] == "st louis , missouri"
    assert "louis" not in out["name"] and "st louis , missouri" in out["text"]
    assert anon.find_leaks([record], [out]) == {} and labels(out) == labels(record)


def _real_records(path):
    records, _, _, _ = build.build_corpus({**CFG, "path": str(path), "anonymize": False, "max_bad_share": 1.0}, 0)
    return records


@pytest.mark.parametrize("path", [FIXTURE, SHARED_DEV], ids=["fixture", "shared-dev"])
def test_real_records_keep_their_labels_through_anonymization(path):
    if not path.exists():
        pytest.skip(f"needs {path}")
    originals = _real_records(path)
    anonymized, _ = anon.anonymize(originals, seed=0)
    assert len(originals) > 30
    for before, after in zip(originals, anonymized):
        assert after["name"] != before["name"]
        assert labels(after) == labels(before), before["id"]
    assert facts.find_changed(originals, anonymized) == {}


def _wiki_bio_row(infobox, text):
    return {"input_text": {"table": {"column_header": list(infobox), "content": list(infobox.values())},
                           "context": infobox["name"] + "\n"}, "target_text": text}


def test_a_record_whose_label_anonymization_would_change_is_dropped_and_listed(tmp_path):
    # "lima" is a surname and, alone, a birth place read as peruvian: renaming it loses the nationality
    path = tmp_path / "wiki_bio.jsonl"
    rows = [_wiki_bio_row({"name": "carlos lima", "birth_place": "lima"},
                          "carlos lima -lrb- born 3 may 1950 -rrb- was a footballer ."),
            _wiki_bio_row({"name": "ana berg", "birth_place": "oslo , norway"},
                          "ana berg -lrb- born 4 june 1960 -rrb- is a norwegian writer .")]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    records, names, dropped, stats = build.build_corpus({**CFG, "path": str(path), "anonymize": True,
                                                         "max_bad_share": 0.5}, seed=0)
    assert dropped == [{"id": "wiki_bio-train-0", "where": f"{path}:1", "reason": "label_changed",
                        "detail": "anonymization changed label field nationality",
                        "fields": {"nationality": {"before": "peruvian", "after": "unknown"}}}]
    assert stats["dropped"]["label_changed"] == 1 and stats["kept"] == 1
    assert [r["id"] for r in records] == [n["id"] for n in names] == ["wiki_bio-train-1"]
