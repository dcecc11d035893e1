"""build_corpus: dispatch on the source, filter with counts, anonymize with a leak check, clear errors."""
import json

import pytest

from needlework.corpus import build
from needlework.corpus.anonymize import check_leaks
from needlework.io import InputError


def test_synthetic_corpus_is_filtered_anonymized_and_deterministic():
    cfg = {"source": "synthetic", "n": 200, "non_person_rate": 0.1, "anonymize": True, "max_bad_share": 0.0}
    records, audit, dropped, stats = build.build_corpus(cfg, seed=5)
    assert build.build_corpus(cfg, seed=5) == (records, audit, dropped, stats)
    assert dropped == []
    assert stats["source"] == "synthetic" and stats["read"] == 200 and stats["anonymized"] is True
    assert stats["kept"] == len(records) == len(audit) == 200 - stats["dropped"]["non_person"]
    assert set(stats["dropped"]) == {"empty_text", "no_name", "non_person", "name_not_in_text", "invalid_label",
                                     "name_leak", "label_changed", "duplicate"}
    assert stats["dropped"]["non_person"] > 5
    assert all(r["infobox"].get("background") != "group_or_band" for r in records)
    originals, _, _, _ = build.build_corpus({**cfg, "anonymize": False}, seed=5)
    assert [a["original"] for a in audit] == [r["name"] for r in originals]
    assert [a["new"] for a in audit] == [r["name"] for r in records]
    assert not {r["name"] for r in originals} & {r["name"] for r in records}
    check_leaks(originals, records)


def test_jsonl_source_keeps_labels_and_counts_drops(tmp_path):
    label = {"nationality": "swedish", "date_of_birth": {"day": 2, "month": 3, "year": 1995},
             "date_of_death": {"day": 0, "month": 0, "year": 0}, "sportsperson": True, "politician": False}
    rows = [{"name": "anna berg", "bio": "anna berg ( born 2 march 1995 ) is a swedish ice hockey player . "
                                          "berg 's team won .", "json": json.dumps(label)},
            {"name": "carl lund", "bio": "a biography that never names its subject .", "json": json.dumps(label)}]
    path = tmp_path / "needles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = {"source": "jsonl", "path": str(path), "name_field": "name", "text_field": "bio", "label_field": "json",
           "limit": None, "anonymize": True, "max_bad_share": 0.05}
    records, audit, _, stats = build.build_corpus(cfg, seed=0)
    assert stats["read"] == 2 and stats["kept"] == 1 and stats["dropped"]["name_not_in_text"] == 1
    [record] = records
    assert record["id"] == "needles-0" and record["label"] == label
    first, last = audit[0]["new"].split()
    assert record["text"] == (f"{first} {last} ( born 2 march 1995 ) is a swedish ice hockey player . "
                              f"{last} 's team won .")


def test_wiki_bio_source_from_a_local_file(tmp_path):
    def row(headers, contents, target):
        return {"input_text": {"table": {"column_header": headers, "row_number": [1] * len(headers),
                                         "content": contents}, "context": "x\n"}, "target_text": target}
    rows = [row(["name", "birth_date"], ["walter extra", "14 june 1950"],
                "walter extra -lrb- born 14 june 1950 -rrb- is a german pilot .\n"),
            row(["name", "background", "genre"], ["the foxes", "group_or_band", "rock"],
                "the foxes are a rock band .\n"),
            row(["name"], ["empty one"], "\n")]
    path = tmp_path / "wiki_bio.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = {"source": "wiki_bio", "path": str(path), "hub_id": "wiki_bio", "split": "test", "limit": None,
           "anonymize": False, "max_bad_share": 0.05}
    records, audit, _, stats = build.build_corpus(cfg, seed=0)
    assert [r["id"] for r in records] == ["wiki_bio-test-0"] and audit == []
    assert records[0]["text"] == "walter extra ( born 14 june 1950 ) is a german pilot ."
    assert stats["dropped"] == {"empty_text": 1, "no_name": 0, "non_person": 1, "name_not_in_text": 0,
                                "invalid_label": 0, "name_leak": 0, "label_changed": 0, "duplicate": 0}
    assert build.build_corpus({**cfg, "limit": 1}, seed=0)[3]["read"] == 1


@pytest.mark.parametrize("cfg, message", [
    ({"source": "csv"}, r"data\.source: unknown source 'csv'"),
    ({"source": "jsonl", "name_field": "name", "text_field": "bio"}, r"data\.path: required"),
    ({"source": "synthetic"}, r"data\.n: required"),
    ({"source": "synthetic", "n": "ten"}, r"data\.n: expected int"),
    ({"source": "synthetic", "n": 10, "anonymize": "yes"}, r"data\.anonymize: expected bool"),
    ({"source": "synthetic", "n": 10, "max_bad_share": 2}, r"data\.max_bad_share: must be in \[0, 1\]"),
    ({"source": "wiki_bio", "path": "x.jsonl", "limit": -1}, r"data\.limit"),
    ({"source": "synthetic", "n": 0}, r"no record left"),
    ({"source": "synthetic", "n": 20, "non_person_rate": 1.0}, r"no record left .*'non_person': 20"),
])
def test_config_errors_name_the_key(cfg, message):
    with pytest.raises(InputError, match=message):
        build.build_corpus({"anonymize": True, "max_bad_share": 0.05, **cfg}, seed=0)
