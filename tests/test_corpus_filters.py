"""Filters: which records may become needles, and why the others are dropped."""
import pytest

from needlework.corpus.filters import REASONS, drop_reason, is_non_person

PERSON = {"id": "p", "name": "anna berg", "text": "anna berg ( born 1990 ) is a swedish singer .",
          "infobox": {"birth_date": "1990"}}


@pytest.mark.parametrize("record, reason", [
    (dict(PERSON, text="   "), "empty_text"),
    ({"id": "x", "name": "anna berg"}, "empty_text"),
    (dict(PERSON, name=""), "no_name"),
    (dict(PERSON, name="sir j."), "no_name"),
    (dict(PERSON, name="carl lund"), "name_not_in_text"),
    (dict(PERSON, name="anna berg ( singer )"), None),  # the disambiguation is not part of the name
    (PERSON, None),
])
def test_drop_reasons(record, reason):
    assert drop_reason(record) == reason
    assert reason is None or reason in REASONS


def test_groups_are_not_persons():
    band = {"id": "b", "name": "the velvet foxes", "text": "the velvet foxes are a swedish indie rock band .",
            "infobox": {"genre": "indie rock", "years_active": "2003 -- present", "label": "sub pop"}}
    assert drop_reason(band) == "non_person"
    members = dict(band, text="the velvet foxes made records .", infobox={"current_members": "a b , c d"})
    assert is_non_person(members)
    background = dict(band, text="the velvet foxes made records .", infobox={"background": "group_or_band"})
    assert is_non_person(background)
    # text alone, with no infobox (a JSONL source): "were an american vocal group"
    assert is_non_person({"name": "the ink spots", "text": "the ink spots were an american vocal group ."})


def test_persons_that_look_a_bit_like_groups_are_kept():
    # a solo musician with group-style keys and no birth date: the background says solo
    singer = {"id": "s", "name": "anna berg", "text": "anna berg is a swedish pop singer .",
              "infobox": {"genre": "pop", "label": "sony", "years_active": "2001 -- present",
                          "background": "solo_singer"}}
    assert drop_reason(singer) is None
    # a member of a band, named in the lead, without dates: "member of the band" is no group lead
    member = {"name": "carl lund", "text": "carl lund is a guitarist in the band the velvet foxes ."}
    assert drop_reason(member) is None
    assert drop_reason({"name": "carl lund", "text": "carl lund is a member of the rock group the foxes ."}) is None
    # life dates in the text outweigh everything else
    dated = {"name": "carl lund", "text": "carl lund ( 1901 -- 1980 ) was a swedish band leader and his group ."}
    assert drop_reason(dated) is None
    dated_group_keys = dict(singer, infobox={"genre": "pop", "origin": "malmö", "birth_date": "1980"})
    assert drop_reason(dated_group_keys) is None
