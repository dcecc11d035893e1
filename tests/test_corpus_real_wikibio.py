"""Real wiki_bio records (tests/fixtures/wikibio_real_sample.jsonl, see its README): no name token survives the
corpus step, and a name the anonymizer misses is dropped, counted and listed instead of stopping the run."""
import json
import re
import unicodedata
from pathlib import Path

import pytest

from needlework.corpus import anonymize as anon
from needlework.corpus import build
from needlework.io import InputError
from workflow_helpers import snakemake

FIXTURE = Path(__file__).parent / "fixtures" / "wikibio_real_sample.jsonl"
CFG = {"source": "wiki_bio", "path": str(FIXTURE), "hub_id": "wiki_bio", "split": "train", "limit": None,
       "anonymize": True, "max_bad_share": 0.0}
# Words of the fixture's name fields that are no name: particles, titles, ranks, and protected words.
NOT_NAMES = {"van", "der", "von", "de", "del", "dos", "al", "the", "sir", "emperor", "hy", "zh", "hans", "cn",
             "production", "team", "stylized", "as", "guys", "selena", "los", "dinos", "of", "stargate"}


def plain_words(text):
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("ı", "i").replace("ð", "d")
    return re.findall(r"[^\W\d_]+", text)


def name_words(record):
    """Every word (3+ letters) of the record's name fields, minus a parenthesised disambiguation."""
    fields = [record["name"]] + [record["infobox"].get(k, "") for k in ("name", "article_title", "fullname",
                                                                          "birth_name")]
    return {w for f in fields for w in plain_words(re.sub(r"\([^)]*\)", " ", f)) if len(w) >= 3} - NOT_NAMES


@pytest.fixture(scope="module")
def corpus():
    originals, _, _, _ = build.build_corpus({**CFG, "anonymize": False}, seed=0)
    records, names, dropped, stats = build.build_corpus(CFG, seed=0)
    return {r["id"]: r for r in originals}, records, names, dropped, stats


def test_no_name_token_survives_in_real_records(corpus):
    originals, records, names, dropped, stats = corpus
    assert stats["read"] == 40 and dropped == []
    assert stats["dropped"]["non_person"] == 1 and stats["dropped"]["name_not_in_text"] == 1  # a band, a stub
    assert len(records) == len(names) == stats["kept"] == 38
    for record in records:
        original = originals[record["id"]]
        values = [record["name"], record["text"], *record["infobox"].values()]
        left = name_words(original) & set(plain_words(" ".join(values)))
        assert not left, f"{record['id']} ({original['name']}): {left} survive"
        files = [v for v in record["infobox"].values() if v.endswith("jpg")]
        glued = {w for w in name_words(original) for f in files for part in plain_words(f) if w in part}
        assert not glued, f"{record['id']}: {glued} survive glued in {files}"


def test_names_glued_to_digits_in_file_names_are_replaced(corpus):
    _, records, _, _, _ = corpus
    by_name = {r["id"]: r for r in records}
    herrera = by_name["wiki_bio-train-5"]  # fixture line 6 = wikibio_dev.jsonl line 14
    first, last = herrera["name"].split()
    assert herrera["infobox"]["image"] == f"{first} {last}2010.jpg"
    tony = by_name["wiki_bio-train-36"]  # wikibio_dev.jsonl line 368
    assert tony["infobox"]["image"] == f"{tony['name'].split()[0]}2.jpg"


def test_a_name_the_anonymizer_misses_is_dropped_and_listed(monkeypatch):
    real = anon.anonymize

    def leaky(records, seed):  # as if the anonymizer had missed the real name "tony" in one record
        out, names = real(records, seed)
        out = [dict(r, text=r["text"] + " tony") if r["id"] == "wiki_bio-train-36" else r for r in out]
        return out, names

    monkeypatch.setattr(anon, "anonymize", leaky)
    records, names, dropped, stats = build.build_corpus({**CFG, "max_bad_share": 0.05}, seed=0)
    assert dropped == [{"id": "wiki_bio-train-36", "where": f"{FIXTURE}:37", "reason": "name_leak",
                        "tokens": ["tony"]}]
    assert stats["dropped"]["name_leak"] == 1 and stats["kept"] == 37
    assert "wiki_bio-train-36" not in {r["id"] for r in records} | {n["id"] for n in names}
    with pytest.raises(InputError, match=rf"{FIXTURE}: 1 of 40 records are bad .*data\.max_bad_share=0\.0"):
        build.build_corpus(CFG, seed=0)


def test_snakemake_corpus_on_real_records(tmp_path):
    result = snakemake(tmp_path, "corpus", overrides=f"data=wiki_bio data.path={FIXTURE}")
    assert result.returncode == 0, result.stderr[-3000:]
    [corpus_dir] = (tmp_path / "results" / "corpus").iterdir()
    stats = json.loads((corpus_dir / "stats.json").read_text())
    assert stats["read"] == 40 and stats["kept"] == 38
    assert (corpus_dir / "audit" / "dropped.jsonl").read_text() == ""
    names = [json.loads(line) for line in (corpus_dir / "audit" / "names.jsonl").read_text().splitlines()]
    assert len(names) == 38 and {"sergio herrera", "tony ashton"} <= {n["original"] for n in names}
    assert not {n["original"] for n in names} & {n["new"] for n in names}
