"""Anonymizing real names from many languages: every spelling of a name part goes, particles and grammar stay.

The table holds real-style wiki_bio records (lowercased text as wiki_bio has it). Whether a name part survives is
judged here independently of needlework's own matcher: by a plain NFKD + casefold + accent-stripping of whole
letter runs, so a part glued to digits ("herrera2010") or written with another Unicode form still counts.
"""
import re
import unicodedata

import pytest

from needlework.corpus import anonymize as anon
from needlework.corpus.names import fold, identifying_parts, keys
from needlework.corpus.wiki_bio import parse_row


def plain(text):
    """Test-side folding: casefold, NFKD, no combining marks, ı -> i, ð -> d."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("ı", "i").replace("ð", "d")


def words(record):
    values = [record["name"], record["text"], *record.get("infobox", {}).values()]
    return set(re.findall(r"[^\W\d_]+", plain(" ".join(values))))


def wiki_bio(name, text, **infobox):
    """A record as the wiki_bio reader makes it from the HF schema (PTB -lrb- / -rrb- and `` '' undone)."""
    headers = ["name", *infobox]
    row = {"input_text": {"table": {"column_header": headers, "row_number": [1] * len(headers),
                                    "content": [name, *infobox.values()]}, "context": f"{name}\n"},
           "target_text": text}
    return parse_row(row, "table", f"wiki_bio-test-{abs(hash(name)) % 10_000}")


# (name, text, extra infobox fields, name parts that must go, words that must stay)
NAMES = [
    ("turkish dotted and dotless i", "İbrahim halil fırat",
     "İbrahim halil fırat ( born 1 may 1980 ) is a turkish footballer . i̇brahim fırat plays for sivasspor ; "
     "IBRAHIM FIRAT scored twice and ibrahim firat once .", {},
     {"ibrahim", "halil", "firat", "brahim"}, {"turkish"}),
    ("german sharp s and umlaut", "sven theißen",
     "sven theißen ( born 24 october 1988 ) is a german football player . theissen and jürgen müller played for "
     "aachen ; theißen 's coach was muller .", {"fullname": "sven theißen"},
     {"sven", "theissen"}, {"german", "muller"}),
    ("vietnamese diacritics, composed and decomposed", "nguyễn thị minh khai",
     unicodedata.normalize("NFD", "nguyễn thị minh khai ( 1910 -- 1941 ) was a vietnamese revolutionary . ")
     + "nguyen thi minh khai was born in vinh .", {},
     {"nguyen", "thi", "minh", "khai"}, {"vietnamese", "vinh"}),
    ("spanish compound surname with de la", "juan pablo de la cruz garcía",
     "juan pablo de la cruz garcía ( born 3 june 1970 ) is a spanish footballer . de la cruz played for "
     "sevilla ; cruz garcia retired in 2005 .", {},
     {"juan", "pablo", "cruz", "garcia"}, {"de", "la", "spanish", "june"}),
    ("dutch van der", "hendrik van der sar",
     "hendrik van der sar ( born 29 october 1970 ) is a dutch former goalkeeper . van der sar won the league .",
     {"image": "van der sar 2008.jpg"}, {"hendrik", "sar"}, {"van", "der", "dutch"}),
    ("irish o' and mc", "seán o'brien",
     "seán o'brien ( born 14 february 1987 ) is an irish rugby union player . o'brien and ryan mcdonagh won ; "
     "sean o ' brien scored .", {}, {"sean", "brien"}, {"irish", "mcdonagh"}),
    ("arabic al-", "mohammed al-ghabban",
     "mohammed salem al-ghabban ( born 14 november 1961 ) is an iraqi politician . al-ghabban was minister .",
     {}, {"mohammed", "salem", "ghabban"}, {"al", "iraqi"}),
    ("hyphenated french", "jean-pierre rampal",
     "jean-pierre rampal ( 7 january 1922 -- 20 may 2000 ) was a french flautist . rampal recorded bach .",
     {"image": "jean-pierre_rampal.jpg"}, {"jean", "pierre", "rampal"}, {"french", "may"}),
    ("icelandic patronymic", "hólmfríður magnúsdóttir",
     "hólmfríður `` frida '' magnúsdóttir ( born 20 september 1984 ) is an icelandic footballer . "
     "holmfridur magnusdottir plays in norway .", {},
     {"holmfridur", "frida", "magnusdottir"}, {"icelandic"}),
    ("chinese two-syllable name", "wang guosheng",
     "wang guosheng ( ; born may 1956 ) is a politician of the people 's republic of china . wang served in "
     "hebei .", {}, {"wang", "guosheng"}, {"china", "hebei"}),
    ("korean hyphenated given name", "park han-byul",
     "park han-byul ( born november 17 , 1984 ) is a south korean actress . han-byul debuted in 2003 .", {},
     {"park", "han", "byul"}, {"korean"}),
    ("a nickname in quotes", "jimmy conrad",
     "james `` jimmy '' conrad ( born february 12 , 1977 ) is an american retired soccer defender . conrad "
     "played for kansas city .", {"image": "jimmyconrad 2006 mls cup.jpg"},
     {"james", "jimmy", "conrad"}, {"american", "kansas"}),
    ("a name split by -lrb- -rrb-", "robert jones",
     "robert -lrb- bobby -rrb- tyre jones -lrb- march 17 , 1902 -- december 18 , 1971 -rrb- was an american "
     "golfer . bobby jones won .", {}, {"robert", "bobby", "tyre", "jones"}, {"american", "march"}),
    ("names that are common words", "lasse rise",
     "lasse rise ( born 9 june 1986 ) is a danish footballer . his rise to fame came at lyngby , where rise "
     "will stay .", {}, {"lasse", "rise"}, {"danish", "will", "june"}),
    ("a first name that is a function word", "will young",
     "will young ( born 20 january 1979 ) is an english singer who will tour . young won pop idol .", {},
     {"young"}, {"will", "english", "who"}),
    ("a surname glued to digits in a file name", "sergio herrera",
     "sergio darío herrera month ( born 15 march 1981 ) is a colombian footballer .",
     {"image": "sergio herrera2010.jpg", "fullname": "sergio darío herrera month"},
     {"sergio", "dario", "herrera", "month"}, {"colombian", "march"}),
    ("a first name glued to a digit in a file name", "tony ashton",
     "tony ashton ( march 1 , 1946 -- may 28 , 2001 ) was an english rock pianist .",
     {"image": "tony2.jpg", "birth_name": "edward anthony ashton"},
     {"tony", "edward", "anthony", "ashton"}, {"english", "rock"}),
]


@pytest.mark.parametrize("case, name, text, infobox, gone, kept", NAMES, ids=[row[0] for row in NAMES])
def test_every_spelling_of_a_real_name_goes(case, name, text, infobox, gone, kept):
    record = wiki_bio(name, text, **infobox)
    [out], [audit] = anon.anonymize([record], seed=1)
    assert anon.find_leaks([record], [out]) == {}
    left = words(out) & gone
    assert not left, f"{case}: {left} survive in {out}"
    assert kept <= words(out), f"{case}: lost {kept - words(out)}"
    assert audit["new"] == out["name"] and len(out["name"].split()) == len(record["name"].split())


def test_particles_are_kept_in_the_new_name():
    names = {n: anon.anonymize([wiki_bio(n, t, **i)], seed=3)[0][0]["name"] for _, n, t, i, _, _ in NAMES}
    assert re.fullmatch(r"\S+ \S+ de la \S+ \S+", names["juan pablo de la cruz garcía"])
    assert re.fullmatch(r"\S+ van der \S+", names["hendrik van der sar"])
    assert re.fullmatch(r"\S+ al-\S+", names["mohammed al-ghabban"])
    assert re.fullmatch(r"\S+ o'\S+", names["seán o'brien"])
    assert re.fullmatch(r"[^\W\d_]+-[^\W\d_]+ \S+", names["jean-pierre rampal"])


def test_folding_is_the_same_for_text_names_and_leak_check():
    assert fold("İbrahim") == fold("i̇brahim") == fold("IBRAHIM") == "ibrahim"
    assert fold("fırat") == "firat" and fold("theißen") == fold("THEISSEN") == "theissen"
    assert fold("laurenţiu") == fold("laurențiu") == "laurentiu"
    assert fold(unicodedata.normalize("NFD", "nguyễn")) == fold("nguyễn") == "nguyen"
    assert keys("sergio herrera2010.jpg") == ["sergio", "herrera", "2010", "jpg"]
    assert keys("o'brien-mcdonagh") == ["o", "brien", "mcdonagh"]
    assert identifying_parts("Sir John van der Dyke Jr.") == ["john", "dyke"]
    assert identifying_parts("İbrahim Halil Fırat") == ["ibrahim", "halil", "firat"]


def test_leak_check_sees_every_spelling():
    record = wiki_bio("İbrahim halil fırat", "İbrahim halil fırat ( born 1980 ) is a turkish footballer .",
                      image="ibrahim2.jpg")
    [out], _ = anon.anonymize([record], seed=0)
    for planted, token in [("i̇brahim", "ibrahim"), ("FIRAT", "firat"), ("Fırat's goal", "firat"),
                           ("halil1980.jpg", "halil")]:
        leaks = anon.find_leaks([record], [dict(out, text=f"{out['text']} {planted}")])
        assert leaks == {record["id"]: [token]}
    glued = anon.find_leaks([record], [dict(out, infobox={**out["infobox"], "image": "ibrahimfirat.jpg"})])
    assert glued == {record["id"]: ["firat", "ibrahim"]}
