"""Anonymization never changes a fact: the labels read from a record before and after anonymization are equal, on
real wiki_bio records (as they are, and renamed after the words their labels are read from) and on one constructed
case per concept (a month, "born", "aged", a politician word, a one-word place, an office word as a name); a
record whose label would change is dropped, counted and listed."""
import json
import re
from pathlib import Path

import pytest

from needlework.corpus import anonymize as anon
from needlework.corpus import build, facts
from needlework.corpus.names import FIELD_PROTECTED, NAME_KEYS, PROTECTED_WORDS, STOPWORDS, keys
from needlework.labels.infobox import label_from_infobox
from needlework.labels.vocabulary import MONTHS, OCCUPATIONS, OFFICE_TERMS, PLACE_TERMS, squash_key

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


def _read_words(record):
    """The words a label parser reads in this record that are entries of its tables (3+ letters): in the first
    sentence and the date, nationality and occupation values, and the places and office words where they are read
    (birth place, office). Longest first."""
    infobox = record["infobox"]
    anywhere = [record["text"].split(" . ")[0]] + [infobox.get(k, "") for k in (
        "birth_date", "death_date", "nationality", "citizenship", "country", "occupation", "profession")]
    words = {w for value in anywhere for w in keys(value) if w in PROTECTED_WORDS and w not in STOPWORDS}
    for key, value in infobox.items():
        field = FIELD_PROTECTED.get(squash_key(key), frozenset())
        words.update(w for w in keys(str(value)) if (w,) in field)
    return sorted((w for w in words if w.isalpha() and len(w) >= 3), key=lambda w: (-len(w), w))


def _named_after_read_words(record, most=3):
    """Copies of the record with its last name replaced by one of the (``most``) longest words a label is read from
    in it: "sergio herrera" born in "madrid , spain" becomes "sergio madrid", "sergio spanish" ..."""
    last = record["name"].split()[-1]
    if len(record["name"].split()) < 2:
        return []
    copies = []
    for word in _read_words(record)[:most]:
        rename = lambda value: re.sub(rf"(?<!\w){re.escape(last)}(?!\w)", word, value)  # noqa: B023, E731
        infobox = {k: rename(v) if k in NAME_KEYS else v for k, v in record["infobox"].items()}
        copies.append(dict(record, id=f"{record['id']}-{word}", name=rename(record["name"]),
                           text=rename(record["text"]), infobox=infobox))
    return copies


@pytest.mark.parametrize("path", [FIXTURE, SHARED_DEV], ids=["fixture", "shared-dev"])
def test_real_records_named_after_the_words_their_labels_are_read_from_keep_their_labels(path):
    """Every real record, its last name replaced by a word one of its labels is read from (a month, a demonym,
    an occupation or date word, its birth place, its office): anonymization renames the person, never the fact."""
    if not path.exists():
        pytest.skip(f"needs {path}")
    records = [copy for record in _real_records(path) for copy in _named_after_read_words(record)]
    assert len(records) > 90
    anonymized, _ = anon.anonymize(records, seed=0)
    for before, after in zip(records, anonymized):
        assert after["name"].split()[-1] != before["name"].split()[-1], before["name"]
        assert labels(after) == labels(before), (before["id"], before["name"])
    assert facts.find_changed(records, anonymized) == {}


def _wiki_bio_row(infobox, text):
    return {"input_text": {"table": {"column_header": list(infobox), "content": list(infobox.values())},
                           "context": infobox["name"] + "\n"}, "target_text": text}


def test_a_record_whose_label_anonymization_would_change_is_dropped_and_listed(tmp_path, monkeypatch):
    # every word a label is read from is protected, so the audit is shown with an anonymizer that renames one
    path = tmp_path / "wiki_bio.jsonl"
    rows = [_wiki_bio_row({"name": "carlos lima", "birth_place": "lima"},
                          "carlos lima -lrb- born 3 may 1950 -rrb- was a footballer ."),
            _wiki_bio_row({"name": "ana berg", "birth_place": "oslo , norway"},
                          "ana berg -lrb- born 4 june 1960 -rrb- is a norwegian writer .")]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    cfg = {**CFG, "path": str(path), "anonymize": True, "max_bad_share": 0.5}
    records, names, dropped, stats = build.build_corpus(cfg, seed=0)
    assert dropped == [] and stats["dropped"]["label_changed"] == 0 and stats["kept"] == 2
    real = anon.anonymize

    def renames_lima(records, seed):  # as if "lima" were not protected in a birth place
        out, names = real(records, seed)
        return [dict(r, infobox={**r["infobox"], "birth_place": "santos"}) if "lima" in r["infobox"].get(
            "birth_place", "") else r for r in out], names

    monkeypatch.setattr(anon, "anonymize", renames_lima)
    records, names, dropped, stats = build.build_corpus(cfg, seed=0)
    assert dropped == [{"id": "wiki_bio-train-0", "where": f"{path}:1", "reason": "label_changed",
                        "detail": "anonymization changed label field nationality",
                        "fields": {"nationality": {"before": "peruvian", "after": "unknown"}}}]
    assert stats["dropped"]["label_changed"] == 1 and stats["kept"] == 1
    assert [r["id"] for r in records] == [n["id"] for n in names] == ["wiki_bio-train-1"]


# ---- one constructed case per concept: a person whose name is a word a label is read from ----------------------

def _anonymized(record, seed=0):
    [out], _ = anon.anonymize([record], seed=seed)
    assert anon.find_leaks([record], [out]) == {}
    return out


def test_a_politician_word_as_a_name_keeps_the_politician_flag():
    record = person("senator jones", "senator jones ( born 4 may 1950 ) is an american senator . jones won .",
                    birth_date="4 may 1950")
    out = _anonymized(record)
    assert "senator" not in out["name"] and "jones" not in out["text"]
    assert out["text"].endswith("is an american senator . " + out["name"].split()[1] + " won .")
    assert labels(out) == labels(record) and labels(out).politician


def test_born_and_aged_as_names_keep_the_dates():
    born = person("born novak", "born novak ( born 3 may 1950 ) is a czech archer .")
    # "( aged 105 )" is an age remark; renamed, "( <name> 105 ) 12 march 1990" would read as the year 105
    aged = person("aged karimi", "aged karimi was an iranian poet . karimi died aged 105 .",
                  death_date="( aged 105 ) 12 march 1990")
    out = anon.anonymize([born, aged], seed=0)[0]
    assert out[0]["text"].endswith("( born 3 may 1950 ) is a czech archer .")
    assert out[1]["infobox"]["death_date"] == "( aged 105 ) 12 march 1990" and "died aged 105" in out[1]["text"]
    assert [labels(r) for r in out] == [labels(born), labels(aged)]
    assert labels(out[0]).date_of_birth.year == 1950 and labels(out[1]).date_of_death.year == 1990


def test_a_one_word_place_as_a_name_is_kept_in_the_birth_place_only():
    record = person("carlos lima", "carlos lima ( born 3 may 1950 ) was a footballer . lima scored twice .",
                    birth_place="lima")
    out = _anonymized(record)
    new_last = out["name"].split()[1]
    assert out["infobox"]["birth_place"] == "lima" and labels(out).nationality == "peruvian"
    assert out["text"].endswith(f"was a footballer . {new_last} scored twice .")  # a name everywhere else
    assert labels(out) == labels(record)


def test_an_office_word_as_a_name_is_kept_in_the_office_only():
    record = person("paul speaker", "paul speaker ( born 1950 ) is an american lawyer . speaker retired in 2010 .",
                    office="speaker of the house")
    out = _anonymized(record)
    assert out["infobox"]["office"] == "speaker of the house" and "speaker" not in out["text"]
    assert labels(out) == labels(record) and labels(out).politician


def _one_words(terms):
    return sorted(t for t in terms if t.isalpha() and len(t) >= 3)


@pytest.mark.parametrize("word", _one_words(OCCUPATIONS["politician_words"]))
def test_every_politician_word_survives_as_a_name(word):
    record = person(f"{word} novak", f"{word} novak ( born 3 may 1950 ) is a czech {word} .")
    assert labels(_anonymized(record, seed=1)) == labels(record)


@pytest.mark.parametrize("word", _one_words(OFFICE_TERMS))
def test_every_office_word_survives_as_a_name_in_an_office(word):
    record = person(f"ana {word}", f"ana {word} ( born 1950 ) is a czech lawyer . {word} retired .",
                    office=f"{word} of the house")
    out = _anonymized(record, seed=1)
    assert out["infobox"]["office"] == record["infobox"]["office"] and labels(out) == labels(record)


@pytest.mark.parametrize("place", _one_words(PLACE_TERMS))
def test_every_one_word_place_survives_as_a_name_in_a_birth_place(place):
    record = person(f"ana {place}", f"ana {place} ( born 1950 ) is a writer .", birth_place=place)
    out = _anonymized(record, seed=1)
    assert out["infobox"]["birth_place"] == place and labels(out) == labels(record) != labels(
        dict(record, infobox={"name": "x"}))
