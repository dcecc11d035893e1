"""Anonymization: consistent, unique new names everywhere, and a leak check that catches leftovers."""
import re

import pytest

from needlework.corpus import anonymize as anon
from needlework.corpus import synthetic
from needlework.corpus.filters import drop_reason

SMITH = {
    "id": "bio-0",
    "name": "john smith",
    "text": "john michael smith ( born 2 may 1950 ) is an english footballer . smith 's father , also john "
            "smith , played too . Smith's goals made John Smith famous ; smith-jones was his club . he will stay .",
    "infobox": {"name": "john smith", "birth_name": "john michael smith", "article_title": "john smith ( footballer )",
                "image": "john_smith_1980.jpg", "caption": "smith in 1980", "birth_date": "2 may 1950",
                "nationality": "english"},
}


def _words(text):
    return set(re.findall(r"[^\W_]+", text.lower()))


def test_one_person_gets_one_new_name_everywhere():
    [out], [audit] = anon.anonymize([SMITH], seed=0)
    assert audit == {"id": "bio-0", "original": "john smith", "new": out["name"]}
    first, last = out["name"].split()
    middle = out["infobox"]["birth_name"].split()[1]
    assert out["infobox"]["birth_name"] == f"{first} {middle} {last}"
    assert len({first, middle, last}) == 3 and not {first, middle, last} & {"john", "michael", "smith"}
    assert out["text"] == (
        f"{first} {middle} {last} ( born 2 may 1950 ) is an english footballer . {last} 's father , also {first} "
        f"{last} , played too . {last.title()}'s goals made {first.title()} {last.title()} famous ; "
        f"{last}-jones was his club . he will stay .")
    assert out["infobox"] == {
        "name": f"{first} {last}", "birth_name": f"{first} {middle} {last}",
        "article_title": f"{first} {last} ( footballer )", "image": f"{first}_{last}_1980.jpg",
        "caption": f"{last} in 1980", "birth_date": "2 may 1950", "nationality": "english"}
    anon.check_leaks([SMITH], [out])


def test_protected_words_survive_outside_the_name():
    june = {"id": "j", "name": "june carter",
            "text": "june carter ( born june 23 , 1929 ) was an american singer . carter will sing in may .",
            "infobox": {"birth_date": "june 23 , 1929", "nationality": "american"}}
    english = {"id": "e", "name": "will english", "text": "will english is an english writer who will write .",
               "infobox": {"nationality": "english"}}
    out, audit = anon.anonymize([june, english], seed=1)
    june_first, june_last = out[0]["name"].split()
    assert out[0]["text"] == (f"{june_first} {june_last} ( born june 23 , 1929 ) was an american singer . "
                              f"{june_last} will sing in may .")
    assert out[0]["infobox"] == june["infobox"]
    assert out[1]["text"] == f"{out[1]['name']} is an english writer who will write ."
    anon.check_leaks([june, english], out)  # "june", "will", "english" in ordinary use are no leak


def test_particles_titles_initials_and_structure():
    records = [
        {"id": "a", "name": "ludwig van beethoven",
         "text": "ludwig van beethoven was a composer . beethoven 's works ."},
        {"id": "b", "name": "sir alex ferguson", "text": "sir alex ferguson is a manager ."},
        {"id": "c", "name": "j. r. r. tolkien", "text": "j. r. r. tolkien was a writer ."},
        {"id": "d", "name": "jean-pierre o'brien", "text": "jean-pierre o'brien is a chef . pierre cooks ."},
        {"id": "e", "name": "li na", "text": "li na is a tennis player ."},
    ]
    out, _ = anon.anonymize(records, seed=2)
    names = [r["name"].split() for r in out]
    assert names[0][1] == "van" and len(names[0]) == 3 and "beethoven" not in out[0]["text"]
    assert names[1][0] == "sir" and len(names[1]) == 3
    assert names[2][:3] == ["j.", "r.", "r."] and names[2][3] != "tolkien"
    assert re.fullmatch(r"[^\W_]+-[^\W_]+ o'[^\W_]+", out[3]["name"]) and "pierre" not in out[3]["text"]
    assert len(names[4]) == 2 and out[4]["text"] == f"{out[4]['name']} is a tennis player ."
    anon.check_leaks(records, out)


def test_synthetic_corpus_names_unique_consistent_and_deterministic():
    records = [r for r in synthetic.generate(400, seed=4) if drop_reason(r) is None]
    out, audit = anon.anonymize(records, seed=9)
    assert out == anon.anonymize(records, seed=9)[0]
    assert [a["new"] for a in audit] != [a["new"] for a in anon.anonymize(records, seed=10)[1]]
    new_names = [a["new"] for a in audit]
    assert len(set(new_names)) == len(new_names)  # unique across the corpus
    # a new name part is never an original one (particles and suffixes such as "van" or "ii" are kept)
    original_parts = set().union(*(_words(" ".join(t)) for r in records for t in anon.name_sources(r)))
    assert not original_parts & set().union(*(anon.identifying_parts(n) for n in new_names))
    for before, after, row in zip(records, out, audit):
        assert row == {"id": before["id"], "original": before["name"], "new": after["name"]}
        assert len(after["name"].split()) == len(before["name"].split())
        assert after["text"].startswith(after["name"].split()[0])
        assert after["infobox"].keys() == before["infobox"].keys()
        last_before, last_after = before["name"].split()[-1], after["name"].split()[-1]
        if last_before not in anon.PROTECTED_WORDS:  # "english" is only replaced inside the full name
            assert before["text"].count(f" {last_before} 's ") == after["text"].count(f" {last_after} 's ")
        assert drop_reason(after) is None
        for key in ("name", "article_title", "caption", "image"):
            if key in before["infobox"]:
                assert before["infobox"][key].replace(before["name"], after["name"]).replace(
                    last_before, last_after) == after["infobox"][key]
    anon.check_leaks(records, out)


def test_leak_check_catches_planted_leaks():
    [out], _ = anon.anonymize([SMITH], seed=0)
    anon.check_leaks([SMITH], [out])
    plants = [
        dict(out, text=out["text"] + " smith scored ."),
        dict(out, text=out["text"] + " SMITH's goal ."),
        dict(out, infobox={**out["infobox"], "caption": "michael in 1980"}),
        dict(out, name="john " + out["name"].split()[1]),
    ]
    for planted, token in zip(plants, ["smith", "smith", "michael", "john"]):
        with pytest.raises(anon.LeakError, match=rf"bio-0: \[.*'{token}'"):
            anon.check_leaks([SMITH], [planted])
    assert issubclass(anon.LeakError, ValueError)
    with pytest.raises(ValueError, match="differ"):
        anon.check_leaks([SMITH], [])


def test_leak_check_catches_a_short_name_kept_whole():
    li = {"id": "li", "name": "li na", "text": "li na is a tennis player ."}
    [out], _ = anon.anonymize([li], seed=3)
    anon.check_leaks([li], [out])
    with pytest.raises(anon.LeakError, match=r"li: \['li na'\]"):
        anon.check_leaks([li], [dict(out, text="li na won .")])


def test_a_name_without_identifying_part_is_refused():
    with pytest.raises(ValueError, match="no identifying part"):
        anon.anonymize([{"id": "x", "name": "sir j.", "text": "sir j. was a knight ."}], seed=0)
