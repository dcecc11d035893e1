"""The infobox labeler on wiki_bio-style infobox values: dates, nationality, sportsperson and politician."""
import json

import pytest

from needlework.io import InputError
from needlework.labels.dates import parse_date
from needlework.labels.infobox import is_political_office, label_from_infobox, label_needles, lead
from needlework.labels.nationality import from_nationality, from_place
from needlework.labels.schema import Date, Label


@pytest.mark.parametrize(
    "value, expected",
    [
        ("14 june 1995", (14, 6, 1995)),
        ("june 14 , 1995", (14, 6, 1995)),
        ("march 2 , 1995", (2, 3, 1995)),
        ("june 1995", (0, 6, 1995)),
        ("1995", (0, 0, 1995)),
        ("c. 1890", (0, 0, 1890)),
        ("circa 1890", (0, 0, 1890)),
        ("ca. 1890", (0, 0, 1890)),
        ("c.1890", (0, 0, 1890)),
        ("1890s", (0, 0, 0)),
        ("early 1890s", (0, 0, 0)),
        ("18th century", (0, 0, 0)),
        ("( 1950-06-14 )", (14, 6, 1950)),
        ("1950-06-14", (14, 6, 1950)),
        ("-lrb- 1950-06-14 -rrb-", (14, 6, 1950)),
        ("1950-06", (0, 6, 1950)),
        ("birth date and age 1950 6 14", (14, 6, 1950)),
        ("1950 06 14", (14, 6, 1950)),
        ("{{birth date|1950|6|14|df=y}}", (14, 6, 1950)),
        ("death date and age 1971 10 1 1891 5 20", (1, 10, 1971)),
        ("( 1950-06-14 ) 14 june 1950 ( age 65 )", (14, 6, 1950)),
        ("-lrb- 1950-06-14 -rrb- june 14 , 1950 -lrb- age 65 -rrb-", (14, 6, 1950)),
        ("14 june 1995 ( aged 80 )", (14, 6, 1995)),
        ("1 october 1971 ( aged 80 )", (1, 10, 1971)),
        ("1 october 1971 -lrb- aged 80 -rrb-", (1, 10, 1971)),
        ("1971 ( aged 80 )", (0, 0, 1971)),
        ("1890 -- 1891", (0, 0, 1890)),
        ("1890/1891", (0, 0, 1890)),
        ("1890 or 1891", (0, 0, 1890)),
        ("1890\u20131891", (0, 0, 1890)),
        ("14 -- 15 june 1890", (14, 6, 1890)),
        ("june 14 or 15 , 1890", (14, 6, 1890)),
        ("44 bc", (0, 0, 0)),
        ("15 march 44 bc", (15, 3, 0)),
        ("15 march 44 b.c.", (15, 3, 0)),
        ("ad 79", (0, 0, 79)),
        ("1066 ad", (0, 0, 1066)),
        ("baptised 3 may 1701", (3, 5, 1701)),
        ("bapt. 3 may 1701", (3, 5, 1701)),
        ("unknown", (0, 0, 0)),
        ("?", (0, 0, 0)),
        ("", (0, 0, 0)),
        ("fl. 1890", (0, 0, 0)),
        ("3rd june 1901", (3, 6, 1901)),
        ("june 3rd , 1901", (3, 6, 1901)),
        ("the 3rd of june 1901", (3, 6, 1901)),
        ("sept. 1900", (0, 9, 1900)),
        ("jan. 5 , 1900", (5, 1, 1900)),
        ("5 dec 1900", (5, 12, 1900)),
        ("14 june 1995 stockholm , sweden", (14, 6, 1995)),
        ("may 12 , 1820 new york city , new york , u.s.", (12, 5, 1820)),
        ("14 june 1995 vancouver , bc", (14, 6, 1995)),
        ("31 february 1900", (0, 2, 1900)),
        ("29 february 1900", (0, 2, 1900)),
        ("29 february 1904", (29, 2, 1904)),
        ("31 april 1950", (0, 4, 1950)),
        ("32 june 1995", (0, 6, 1995)),
        ("1950 13 14", (0, 0, 1950)),
        ("14/06/1950", (14, 6, 1950)),
        ("14.06.1950", (14, 6, 1950)),
        ("06/14/1950", (14, 6, 1950)),
        ("july 4", (4, 7, 0)),
        ("2150", (0, 0, 0)),
        ("born 1950 in oslo", (0, 0, 1950)),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == Date(day=expected[0], month=expected[1], year=expected[2])


@pytest.mark.parametrize(
    "value, expected",
    [
        ("swedish", "swedish"),
        ("sweden", "swedish"),
        ("Swedish", "swedish"),
        ("american , canadian", "american"),
        ("[[sweden|swedish]]", "swedish"),
        ("-lsb- -lsb- sweden |swedish -rsb- -rsb-", "swedish"),
        ("united states", "american"),
        ("u.s.", "american"),
        ("usa", "american"),
        ("united states of america", "american"),
        ("uk", "british"),
        ("british", "british"),
        ("england", "english"),
        ("scotland", "scottish"),
        ("wales", "welsh"),
        ("ussr", "soviet"),
        ("soviet union", "soviet"),
        ("new zealand", "new zealander"),
        ("the netherlands", "dutch"),
        ("holland", "dutch"),
        ("german ( until 1934 ) , american ( from 1940 )", "german"),
        ("swedish-american", "american"),
        ("république française", None),
        ("côte d'ivoire", "ivorian"),
        ("people 's republic of china", "chinese"),
        ("republic of ireland", "irish"),
        ("russian empire", "russian"),
        ("trinidad and tobago", "trinidadian"),
        ("yoruba", None),
    ],
)
def test_nationality_value(value, expected):
    assert from_nationality(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("stockholm , sweden", "swedish"),
        ("oslo , norway", "norwegian"),
        ("new york city , new york , u.s.", "american"),
        ("brooklyn , new york", "american"),
        ("london , england", "english"),
        ("london , england , uk", "british"),
        ("glasgow , scotland", "scottish"),
        ("oslo", "norwegian"),
        ("atlanta , georgia", "american"),
        ("tbilisi , georgia", "georgian"),
        ("toronto , ontario", "canadian"),
        ("são paulo , brazil", "brazilian"),
        ("kiev , ukrainian ssr , soviet union", "soviet"),
        ("breslau , germany ( now wrocław , poland )", "german"),
        ("a village near uppsala in sweden", "swedish"),
        ("-lsb- -lsb- melbourne -rsb- -rsb- , -lsb- -lsb- victoria -lrb- australia -rrb- |victoria -rsb- -rsb-",
         "australian"),
        ("springfield", None),
    ],
)
def test_nationality_from_birth_place(value, expected):
    assert from_place(value) == expected


def test_nationality_precedence():
    """nationality key > citizenship > first sentence > country key > birth place > unknown."""
    text = "john smith ( born 1950 ) is a jamaican-born british sprinter ."
    place = {"birth_place": "kingston , jamaica"}
    assert label_from_infobox({**place, "nationality": "canadian"}, text).nationality == "canadian"
    assert label_from_infobox({**place, "citizenship": "france"}, text).nationality == "french"
    assert label_from_infobox({**place, "country": "ireland"}, text).nationality == "british"
    assert label_from_infobox({**place, "country": "ireland"}).nationality == "irish"
    assert label_from_infobox(place).nationality == "jamaican"
    assert label_from_infobox({**place, "nationality": "citizen of the world"}).nationality == "jamaican"
    assert label_from_infobox({"name": "john smith"}).nationality == "unknown"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("john smith ( born march 2 , 1995 ) is a swedish ice hockey player .", "swedish"),
        ("john smith is a former new zealand rugby union player .", "new zealander"),
        ("john smith ( 1890 -- 1971 ) was a norwegian-born american chemist .", "american"),
        ("john smith is an african-american singer .", "american"),
        ("john smith is a u.s. politician .", "american"),
        ("john smith is a pole vaulter from poland .", "unknown"),
        ("john smith is an actor who works in french films .", "unknown"),
    ],
)
def test_nationality_from_first_sentence(text, expected):
    assert label_from_infobox({"name": "john smith"}, text).nationality == expected


FOOTBALLER = {
    "name": "john smith", "image": "john smith.jpg", "fullname": "john smith", "birth_date": "14 june 1995",
    "birth_place": "oslo , norway", "height": "1.80 m", "position": "midfielder", "currentclub": "rosenborg",
    "clubnumber": "8", "youthclubs": "byåsen", "years": "2013 -- 2016", "clubs": "rosenborg", "caps": "45",
    "goals": "3", "nationalyears": "2015 --", "nationalteam": "norway u21",
}  # fmt: skip
CRICKETER = {
    "name": "john smith", "country": "england", "fullname": "john smith", "birth_date": "3 may 1901",
    "death_date": "12 july 1960", "batting": "right-handed", "bowling": "right-arm off break",
    "role": "batsman", "club": "yorkshire", "year": "1920 -- 1930",
}  # fmt: skip
MP = {
    "name": "john smith", "office": "member of parliament for leeds north", "term_start": "1 may 1997",
    "term_end": "6 may 2010", "predecessor": "a", "successor": "b", "party": "labour",
    "birth_date": "( 1950-05-01 ) 1 may 1950 ( age 65 )", "nationality": "british",
}  # fmt: skip
GOVERNOR = {
    "name": "john smith", "order": "45th", "office": "governor of texas", "term_start": "january 17 , 1995",
    "lieutenant": "bob bullock", "predecessor": "ann richards", "successor": "rick perry",
    "birth_date": "july 6 , 1946", "birth_place": "new haven , connecticut , u.s.",
}  # fmt: skip
MUSICIAN = {
    "name": "john smith", "background": "solo_singer", "birth_date": "1970", "origin": "stockholm , sweden",
    "genre": "pop", "instrument": "vocals , guitar", "years_active": "1990 -- present", "label": "emi",
    "associated_acts": "abba", "occupation": "singer , songwriter",
}  # fmt: skip
WRITER = {
    "name": "john smith", "birth_date": "12 march 1920", "birth_place": "dublin , ireland",
    "death_date": "4 april 1990 ( aged 70 )", "death_place": "paris , france", "occupation": "novelist , poet",
    "nationality": "irish", "genre": "fiction", "notableworks": "a book",
}  # fmt: skip
KING = {
    "name": "john", "title": "king of sweden", "reign": "8 december 1907 -- 29 october 1950",
    "coronation": "none", "predecessor": "oscar ii", "successor": "gustaf vi adolf", "house": "bernadotte",
    "father": "oscar ii", "mother": "sophia of nassau", "birth_date": "16 june 1858",
    "birth_place": "drottningholm palace , sweden", "death_date": "29 october 1950",
}  # fmt: skip
BISHOP = {
    "name": "john smith", "title": "bishop of ely", "church": "church of england", "see": "ely",
    "term": "1950 -- 1960", "office": "bishop of ely", "predecessor": "a", "successor": "b",
}  # fmt: skip


@pytest.mark.parametrize(
    "infobox, text, expected",
    [
        (
            FOOTBALLER,
            "",
            Label(nationality="norwegian", date_of_birth=Date(day=14, month=6, year=1995), sportsperson=True),
        ),
        (
            CRICKETER,
            "",
            Label(
                nationality="english",
                date_of_birth=Date(day=3, month=5, year=1901),
                date_of_death=Date(day=12, month=7, year=1960),
                sportsperson=True,
            ),
        ),
        (MP, "", Label(nationality="british", date_of_birth=Date(day=1, month=5, year=1950), politician=True)),
        (GOVERNOR, "", Label(nationality="american", date_of_birth=Date(day=6, month=7, year=1946), politician=True)),
        (MUSICIAN, "", Label(date_of_birth=Date(year=1970))),
        (
            WRITER,
            "",
            Label(
                nationality="irish",
                date_of_birth=Date(day=12, month=3, year=1920),
                date_of_death=Date(day=4, month=4, year=1990),
            ),
        ),
        (
            KING,
            "",
            Label(
                nationality="swedish",
                date_of_birth=Date(day=16, month=6, year=1858),
                date_of_death=Date(day=29, month=10, year=1950),
            ),
        ),
        (BISHOP, "", Label()),
    ],
    ids=["footballer", "cricketer", "mp", "governor", "musician", "writer", "king", "bishop"],
)
def test_label_from_typical_infoboxes(infobox, text, expected):
    assert label_from_infobox(infobox, text) == expected


@pytest.mark.parametrize(
    "infobox, sportsperson, politician",
    [
        ({"name": "x", "sport": "swimming", "event": "100 m freestyle", "medaltemplates": "x"}, True, False),
        ({"name": "x", "position": "point guard", "height_ft": "6", "weight_lb": "190", "college": "a"}, True, False),
        ({"name": "x", "bats": "right", "throws": "right", "debutyear": "1990", "position": "pitcher"}, True, False),
        ({"name": "x", "weight": "heavyweight", "reach": "80 in", "stance": "orthodox", "wins": "50"}, True, False),
        ({"name": "x", "occupation": "actor", "height": "1.85 m", "weight": "80 kg"}, False, False),
        ({"name": "x", "occupation": "footballer , politician"}, True, True),
        ({"name": "x", "occupation": "racing driver"}, True, False),
        ({"name": "x", "occupation": "chess player"}, False, False),
        ({"name": "x", "occupation": "vocal coach"}, False, False),
        ({"name": "x", "occupation": "lawyer and politician"}, False, True),
        ({"name": "x", "occupation": "baptist minister"}, False, False),
        ({"name": "x", "office": "prime minister of sweden", "monarch": "carl xvi gustaf"}, False, True),
        ({"name": "x", "office": "president of the united states", "order": "40th"}, False, True),
        ({"name": "x", "office": "mayor of oslo"}, False, True),
        ({"name": "x", "office": "member of the u.s. house of representatives from ohio 's 5th district"}, False, True),
        ({"name": "x", "jr/sr": "united states senator", "state": "ohio"}, False, True),
        ({"name": "x", "office": "president of yale university", "predecessor": "a", "successor": "b"}, False, False),
        ({"name": "x", "office": "associate justice of the supreme court", "predecessor": "a"}, False, False),
        ({"name": "x", "office": "united states ambassador to france", "president": "y"}, False, False),
        ({"name": "x", "office": "governor of the bank of england"}, False, False),
        ({"name": "x", "predecessor": "a", "successor": "b", "term_start": "1950"}, False, False),
        ({"name": "x", "rank": "general", "battles": "world war ii", "laterwork": "politician"}, False, True),
        ({"name": "x", "constituency": "leeds north"}, False, True),
    ],
)
def test_flags(infobox, sportsperson, politician):
    label = label_from_infobox(infobox)
    assert (label.sportsperson, label.politician) == (sportsperson, politician)


@pytest.mark.parametrize(
    "text, sportsperson, politician",
    [
        ("john smith ( born 1950 ) is a swedish former professional ice hockey player .", True, False),
        ("john smith ( born 1950 ) is an english footballer who plays as a striker .", True, False),
        ("john smith ( born 1950 ) is an american politician and former football player .", True, True),
        ("john smith ( born 1950 ) is a member of the swedish riksdag .", False, True),
        ("john smith ( born 1950 ) is an american sports journalist .", False, False),
        ("john smith ( born 1950 ) is a canadian actor . he played a senator .", False, False),
    ],
)
def test_flags_from_first_sentence(text, sportsperson, politician):
    label = label_from_infobox({"name": "john smith"}, text)
    assert (label.sportsperson, label.politician) == (sportsperson, politician)


@pytest.mark.parametrize(
    "office, political",
    [
        ("minister of justice", True),
        ("chancellor of the exchequer", True),
        ("chancellor of the university of oxford", False),
        ("speaker of the lok sabha", True),
        ("leader of the opposition", True),
        ("bishop of london", False),
        ("president of the royal society", False),
        ("chief of staff of the united states army", False),
    ],
)
def test_political_office(office, political):
    assert is_political_office(office) is political


def test_dates_fall_back_to_the_first_sentence():
    text = "john smith ( 14 june 1890 -- 1 october 1971 ) was a swedish painter ."
    label = label_from_infobox({"name": "john smith", "birth_date": "unknown"}, text)
    assert label.date_of_birth == Date(day=14, month=6, year=1890)
    assert label.date_of_death == Date(day=1, month=10, year=1971)
    born = label_from_infobox({"name": "x"}, "john smith ( born march 2 , 1995 ) is a swedish singer .")
    assert (born.date_of_birth, born.date_of_death) == (Date(day=2, month=3, year=1995), Date())
    # The infobox wins over the text where it gives a date.
    mixed = label_from_infobox({"birth_date": "1891"}, text)
    assert (mixed.date_of_birth, mixed.date_of_death) == (Date(year=1891), Date(day=1, month=10, year=1971))


@pytest.mark.parametrize(
    ("infobox", "nationality", "raw"),
    [
        ({"nationality": "united states"}, "american", "united states"),
        ({"nationality": "u.s."}, "american", "u.s."),
        ({"citizenship": "[[united kingdom|british]]"}, "british", "[[united kingdom|british]]"),
        ({"nationality": "englishman"}, "english", "englishman"),
        ({"birth_place": "são paulo , brazil"}, "brazilian", "são paulo , brazil"),
        ({"name": "x"}, "unknown", None),
    ],
)
def test_label_rows_keep_the_raw_nationality_beside_the_canonical_demonym(infobox, nationality, raw):
    row = label_needles([{"id": "n-1", "name": "x", "text": "", "infobox": infobox}])[0]
    assert (row["label"]["nationality"], row["nationality_raw"]) == (nationality, raw)


def test_lead_splits_the_first_sentence():
    paren, clause = lead("john smith -lrb- born march 2 , 1995 -rrb- is a swedish singer . he is tall .")
    assert paren == "born march 2 , 1995"
    assert clause == ["a", "swedish", "singer"]


def test_label_needles_rows_sorted_with_errors():
    needles = [
        {"id": "wiki_bio-train-2", "name": "b", "text": "b is a swedish footballer .", "infobox": {"clubs": "x"}},
        {"id": "wiki_bio-train-1", "name": "a", "text": "a is a band ."},
        {"id": "wiki_bio-train-10", "name": "c", "text": "", "infobox": {}},
    ]
    rows = label_needles(needles)
    assert [row["id"] for row in rows] == ["wiki_bio-train-1", "wiki_bio-train-10", "wiki_bio-train-2"]
    assert rows[0] == {"id": "wiki_bio-train-1", "label": None, "nationality_raw": None, "error": "no infobox"}
    assert rows[1]["error"] == "no infobox"
    assert rows[2]["error"] is None
    assert Label.model_validate(rows[2]["label"]) == Label(nationality="swedish", sportsperson=True)
    assert rows[2]["nationality_raw"] == "a swedish footballer"  # read from the first sentence
    assert json.dumps(rows, sort_keys=True) == json.dumps(label_needles(list(reversed(needles))), sort_keys=True)


@pytest.mark.parametrize(
    "needles, message",
    [
        ([{"name": "a", "infobox": {}}], "needle #0: missing"),
        ([{"id": "x", "infobox": {}}, {"id": "x", "infobox": {}}], "needle #1: duplicate id 'x'"),
        ([{"id": "x", "infobox": "birth_date: 1950"}], "'infobox' is str"),
    ],
)
def test_label_needles_rejects_bad_records(needles, message):
    with pytest.raises(InputError, match=message):
        label_needles(needles)


def test_a_word_table_entry_yaml_reads_as_no_word_is_refused_naming_file_and_table():
    from needlework.labels import vocabulary

    with pytest.raises(ValueError, match=r"labels/data/words\.yaml: demonym_stops: False is not a word \(quote it\)"):
        vocabulary._strings({"demonym_stops": ["in", False]}, "words.yaml")
    assert "on" in vocabulary.DEMONYM_STOPS  # quoted in the table: read as the word
