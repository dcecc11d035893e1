"""Reading any JSONL/Parquet biography file, e.g. the published benchmark's {name, bio, json} rows."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from needlework.corpus import jsonl_source
from needlework.io import InputError
from needlework.labels.schema import Label

LABEL = {"nationality": "swedish", "date_of_birth": {"day": 2, "month": 3, "year": 1995},
         "date_of_death": {"day": 0, "month": 0, "year": 0}, "sportsperson": True, "politician": False}
ROWS = [
    {"name": "anna berg", "bio": "anna berg ( born 2 march 1995 ) is a swedish ice hockey player .",
     "json": json.dumps(LABEL)},
    {"name": "carl lund", "bio": "carl lund was a politician .", "json": Label(politician=True).to_json()},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_published_benchmark_format_with_json_string_labels(tmp_path):
    path = _write(tmp_path / "needles_v1.jsonl", ROWS)
    records = list(jsonl_source.load(path, name_field="name", text_field="bio", label_field="json"))
    assert records[0] == {"id": "needles_v1-0", "name": "anna berg", "text": ROWS[0]["bio"], "label": LABEL}
    assert records[1]["id"] == "needles_v1-1"
    assert records[1]["label"] == Label(politician=True).model_dump()
    without_labels = list(jsonl_source.load(path, name_field="name", text_field="bio", limit=1))
    assert without_labels == [{"id": "needles_v1-0", "name": "anna berg", "text": ROWS[0]["bio"]}]


def test_labels_as_objects_and_parquet_files(tmp_path):
    rows = [dict(r, json=json.loads(r["json"])) for r in ROWS]
    path = tmp_path / "bios.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    records = list(jsonl_source.load(str(path), "name", "bio", label_field="json"))
    assert [r["id"] for r in records] == ["bios-0", "bios-1"]
    assert records[0]["label"] == LABEL


@pytest.mark.parametrize("row, message", [
    ({"bio": "x ."}, r"missing field 'name'"),
    ({"name": "anna berg"}, r"missing field 'bio'"),
    ({"name": "anna berg", "bio": "   "}, r"field 'bio' is empty"),
    ({"name": "", "bio": "x ."}, r"field 'name' is empty"),
    ({"name": 7, "bio": "x ."}, r"field 'name' must be a string"),
    ({"name": "anna berg", "bio": "x ."}, r"missing field 'json'"),
    ({"name": "anna berg", "bio": "x .", "json": "{not json"}, r"field 'json' is not valid JSON"),
    ({"name": "anna berg", "bio": "x .", "json": "[1, 2]"}, r"field 'json' must be a JSON object"),
    ({"name": "anna berg", "bio": "x .", "json": json.dumps({**LABEL, "sportsperson": "maybe"})},
     r"field 'json' is not a valid label \(sportsperson: "),
    ({"name": "anna berg", "bio": "x .", "json": json.dumps({**LABEL, "date_of_birth": {"day": 40}})},
     r"field 'json' is not a valid label \(date_of_birth\.day: "),
    ({"name": "anna berg", "bio": "x .", "json": json.dumps({**LABEL, "age": 3})},
     r"field 'json' is not a valid label \(age: "),
])
def test_bad_rows_name_file_line_and_field(tmp_path, row, message):
    path = _write(tmp_path / "bios.jsonl", [ROWS[0], row])
    with pytest.raises(InputError, match=rf"bios\.jsonl:2: {message}"):
        list(jsonl_source.load(path, "name", "bio", label_field="json"))


def test_malformed_and_non_utf8_lines_name_file_line(tmp_path):
    path = tmp_path / "bios.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + '{"name": "x", "bio": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bios\.jsonl:3: malformed JSON"):
        list(jsonl_source.load(str(path), "name", "bio"))
    path.write_bytes(b'{"name": "b\xf6rje", "bio": "x ."}\n')
    with pytest.raises(InputError, match=r"bios\.jsonl:1: not valid UTF-8"):
        list(jsonl_source.load(str(path), "name", "bio"))
