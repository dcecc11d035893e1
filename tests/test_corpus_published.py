"""The published benchmark's needle files ({name, bio, bio_token_len, json}): invalid labels are dropped, counted and
listed, duplicates merged, and the run goes on (tests/fixtures/published_style_needles.jsonl, see its README)."""
import json
import shutil
from pathlib import Path

import pytest

from needlework.corpus import build
from needlework.io import InputError
from workflow_helpers import snakemake

FIXTURE = Path(__file__).parent / "fixtures" / "published_style_needles.jsonl"
CFG = {"source": "jsonl", "path": str(FIXTURE), "name_field": "name", "text_field": "bio", "label_field": "json",
       "limit": None, "anonymize": False, "max_bad_share": 0.05}
STEM = FIXTURE.stem
# The README's overrides for the published training file, pointed at the fixture.
README_OVERRIDES = ("data=jsonl data.path={path} data.text_field=bio data.label_field=json data.anonymize=false "
                    "labeler=field")
SMALL = ("experiment=tiny_base needles.n_train=40 needles.n_eval=3 needles.max_words=80 context.lengths=[256,384] "
         "context.depths=[0,100] context.needles_per_cell=1 context.train_lengths=[512] context.train_examples=8")


def test_invalid_labels_are_dropped_and_listed_duplicates_merged():
    records, names, dropped, stats = build.build_corpus(CFG, seed=0)
    invalid = [row for row in dropped if row["reason"] == "invalid_label"]
    assert [(row["id"], row["where"]) for row in invalid] == [
        (f"{STEM}-13", f"{FIXTURE}:14"), (f"{STEM}-39", f"{FIXTURE}:40"), (f"{STEM}-76", f"{FIXTURE}:77")]
    assert invalid[0]["problems"].startswith("date_of_death.day: Input should be less than or equal to 31")
    assert invalid[1]["problems"].startswith("date_of_birth.month: Input should be less than or equal to 12")
    assert invalid[2]["problems"].startswith("politician: Input should be a valid boolean")
    duplicates = [(row["id"], row["where"], row["of"]) for row in dropped if row["reason"] == "duplicate"]
    assert duplicates == [(f"{STEM}-{150 + i}", f"{FIXTURE}:{151 + i}", f"{STEM}-{j}")
                          for i, j in enumerate([19, 20, 54, 89])]
    assert stats["read"] == 154 and stats["dropped"]["invalid_label"] == 3 and stats["dropped"]["duplicate"] == 4
    assert stats["kept"] == len(records) == 147 - sum(stats["dropped"][r] for r in ("empty_text", "no_name",
                                                                                   "non_person", "name_not_in_text"))
    assert names == [] and len({r["text"] for r in records}) == len(records)
    assert all(r["label"]["date_of_death"]["day"] <= 31 for r in records)


def test_too_many_invalid_labels_stop_naming_file_and_key():
    with pytest.raises(InputError, match=rf"{FIXTURE}: 3 of 154 records are bad \(1\.9%, above "
                                         rf"data\.max_bad_share=0\.01\): {FIXTURE}:14: invalid_label"):
        build.build_corpus({**CFG, "max_bad_share": 0.01}, seed=0)


@pytest.mark.parametrize("line, message", [
    ('{"name": "ann lee", "bio": "ann lee is a poet .", "json": {"nationality": "un', r":155: malformed JSON"),
    ('{"name": "ann lee", "json": {}}', r":155: missing field 'bio'"),
    ('{"name": "ann lee", "bio": "ann lee is a poet ."}', r":155: missing field 'json'"),
    ('{"name": "ann lee", "bio": "ann lee is a poet .", "json": "[1, 2]"}', r":155: field 'json' must be a JSON obj"),
])
def test_malformed_input_stops_at_once_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "train_needles.jsonl"
    path.write_text(FIXTURE.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"{path}{message}"):
        build.build_corpus({**CFG, "path": str(path), "max_bad_share": 1.0}, seed=0)


def test_snakemake_haystacks_on_the_published_format(tmp_path):
    path = tmp_path / "train_needles.jsonl"
    shutil.copy(FIXTURE, path)
    result = snakemake(tmp_path, "haystacks", overrides=f"{README_OVERRIDES.format(path=path)} {SMALL}")
    assert result.returncode == 0, result.stderr[-3000:]
    [corpus_dir] = (tmp_path / "results" / "corpus").iterdir()
    stats = json.loads((corpus_dir / "stats.json").read_text())
    assert stats["dropped"]["invalid_label"] == 3 and stats["dropped"]["duplicate"] == 4
    dropped = [json.loads(line) for line in (corpus_dir / "audit" / "dropped.jsonl").read_text().splitlines()]
    assert [row["where"] for row in dropped if row["reason"] == "invalid_label"] == [
        f"{path}:14", f"{path}:40", f"{path}:77"]
    texts = {}
    for line in (corpus_dir / "corpus.jsonl").read_text().splitlines():
        record = json.loads(line)
        texts[record["id"]] = record["text"]
    haystacks = [json.loads(line) for split in ("train", "eval")
                 for line in next((tmp_path / "results" / "haystacks").glob(f"{split}-*/{split}.jsonl"))
                 .read_text().splitlines()]
    assert haystacks
    for record in haystacks:  # a needle appears once: its duplicate never became its distractor
        assert record["messages"][1]["content"].count(texts[record["needle_id"]]) == 1
