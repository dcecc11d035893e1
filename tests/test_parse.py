"""parse_answer: the JSON object a model answered, however it was wrapped."""
import pytest

from needlework.evaluate.parse import parse_answer

LABEL = {"nationality": "swedish", "date_of_birth": {"day": 14, "month": 6, "year": 1995}, "sportsperson": True}


@pytest.mark.parametrize(
    "text",
    [
        '{"nationality": "swedish", "date_of_birth": {"day": 14, "month": 6, "year": 1995}, "sportsperson": true}',
        '```json\n{"nationality": "swedish", "date_of_birth": {"day": 14, "month": 6, "year": 1995},'
        ' "sportsperson": true}\n```',
        'Sure! Here is the JSON:\n```\n{"nationality": "swedish", "date_of_birth": {"day": 14, "month": 6,'
        ' "year": 1995}, "sportsperson": true}\n```\nLet me know if you need more.',
        'The person is described below. {"nationality": "swedish", "date_of_birth": {"day": 14, "month": 6,'
        ' "year": 1995}, "sportsperson": true} I hope this helps!',
        "{'nationality': 'swedish', 'date_of_birth': {'day': 14, 'month': 6, 'year': 1995}, 'sportsperson': True}",
        "{'nationality': 'swedish', 'date_of_birth': {'day': 14, 'month': 6, 'year': 1995}, 'sportsperson': true}",
    ],
    ids=["plain", "fenced", "fenced-with-chatter", "chatter", "python-repr", "python-with-json-literals"],
)
def test_wrapped_answers_parse_to_the_same_object(text):
    assert parse_answer(text) == LABEL


def test_braces_and_quotes_inside_strings_do_not_end_the_object():
    assert parse_answer('x {"nationality": "o\'brien } {", "note": "say \\"}\\""} y') == {
        "nationality": "o'brien } {",
        "note": 'say "}"',
    }


def test_chatter_braces_before_the_answer_are_skipped():
    text = 'Here\'s the {format you\'d expect}: {"nationality": "french"} and {"nationality": "german"}'
    assert parse_answer(text) == {"nationality": "french"}


def test_fenced_answer_wins_over_an_example_in_chatter():
    text = 'For example {"nationality": "example"}.\n```json\n{"nationality": "danish"}\n```'
    assert parse_answer(text) == {"nationality": "danish"}


def test_nested_object_is_returned_whole():
    assert parse_answer('{"a": {"b": {"c": 1}}, "d": 2}') == {"a": {"b": {"c": 1}}, "d": 2}


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "I could not find this person.",
        '{"nationality": "swedish", "date_of_birth": {"day": 14',  # cut at max tokens
        "[1, 2, 3]",  # not an object
        "{nationality: swedish}",  # bare words
        "{1, 2}",  # a Python set
        "```json\n```",
        "{'a': __import__('os')}",  # literal_eval never runs code
    ],
    ids=["none", "empty", "prose", "truncated", "list", "bare-words", "set", "empty-fence", "code"],
)
def test_unparseable_answers_give_none(text):
    assert parse_answer(text) is None
