"""Reading wiki_bio in the Hugging Face schema from JSONL and Parquet, and its bad-input errors."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from needlework.corpus import wiki_bio
from needlework.io import InputError


def _row(headers, contents, target, context="walter extra\n"):
    return {"input_text": {"table": {"column_header": headers, "row_number": [1] * len(headers),
                                     "content": contents},
                           "context": context},
            "target_text": target}


ROWS = [
    _row(["name", "birth_date", "nationality", "image", "caption", "name", "article_title"],
         ["walter extra", "-lrb- 1950-06-14 -rrb- 14 june 1950", "german", "<none>", "", "ignored twice",
          "walter extra"],
         "walter extra -lrb- born 14 june 1950 -rrb- is a german aerobatic pilot , "
         "known for `` extra '' planes -lsb- 1 -rsb- .\n"),
    _row(["article_title", "birth_date"], ["anna berg -lrb- ice hockey -rrb-", "1990"],
         "anna berg -lrb- born 1990 -rrb- is an ice hockey player .\n", context="anna berg\n"),
    _row(["birth_date"], ["c. 1890"], "carl lund was a painter .\n", context="carl lund\n"),
    _row([], [], "", context=""),
]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_jsonl_rows_become_clean_records(tmp_path):
    records = list(wiki_bio.load(_write_jsonl(tmp_path / "wb.jsonl", ROWS), split="valid"))
    assert [r["id"] for r in records] == [f"wiki_bio-valid-{i}" for i in range(4)]
    first = records[0]
    assert first["name"] == "walter extra"
    assert first["text"] == ('walter extra ( born 14 june 1950 ) is a german aerobatic pilot , '
                             'known for " extra " planes [ 1 ] .')
    assert first["infobox"] == {"name": "walter extra", "birth_date": "( 1950-06-14 ) 14 june 1950",
                                "nationality": "german", "article_title": "walter extra"}
    assert records[1]["name"] == "anna berg ( ice hockey )"  # no name key: the article title
    assert records[2]["name"] == "carl lund"  # neither: the context's first line
    assert records[3] == {"id": "wiki_bio-valid-3", "name": "", "text": "", "infobox": {}}


def test_quote_marks_around_a_name_are_dropped():
    # wikibio_dev.jsonl line 99: the infobox name is "'' ` juan martín de pueyrredón '' '"
    row = _row(["name"], ["'' ` juan martín de pueyrredón '' '"], "juan martín de pueyrredón was a general .\n")
    record = wiki_bio.parse_row(row, "wb.jsonl:1", "wiki_bio-train-0")
    assert record["name"] == "juan martín de pueyrredón"
    assert record["infobox"]["name"] == "\" ` juan martín de pueyrredón \" '"


def test_parquet_in_the_hub_schema_reads_like_jsonl(tmp_path):
    path = tmp_path / "train-00000.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    from_parquet = list(wiki_bio.load(str(path)))
    from_jsonl = list(wiki_bio.load(_write_jsonl(tmp_path / "wb.jsonl", ROWS)))
    assert from_parquet == from_jsonl
    assert from_parquet[0]["id"] == "wiki_bio-train-0"


def test_limit_stops_before_reading_further_rows(tmp_path):
    path = tmp_path / "wb.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n{broken\n", encoding="utf-8")
    assert [r["id"] for r in wiki_bio.load(str(path), limit=2)] == ["wiki_bio-train-0", "wiki_bio-train-1"]
    with pytest.raises(InputError, match=r"wb\.jsonl:3: malformed JSON"):
        list(wiki_bio.load(str(path)))


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.pop("target_text"), "target_text"),
    (lambda r: r["input_text"].pop("table"), "input_text.table"),
    (lambda r: r["input_text"]["table"].update(content="abc"), "input_text.table.content"),
    (lambda r: r["input_text"]["table"].update(column_header=["name", 3]), "input_text.table.column_header"),
    (lambda r: r["input_text"].update(context=None), "input_text.context"),
    (lambda r: r.update(target_text=["x"]), "target_text"),
])
def test_missing_or_mistyped_field_names_file_line_and_field(tmp_path, mutate, field):
    bad = json.loads(json.dumps(ROWS[0]))
    mutate(bad)
    path = _write_jsonl(tmp_path / "wb.jsonl", [ROWS[1], bad])
    with pytest.raises(InputError, match=rf"wb\.jsonl:2: .*'{field}'"):
        list(wiki_bio.load(path))


def test_header_and_content_lengths_must_agree(tmp_path):
    path = _write_jsonl(tmp_path / "wb.jsonl", [_row(["name", "birth_date"], ["x"], "x .")])
    with pytest.raises(InputError, match=r"wb\.jsonl:1: .*column_header.*content"):
        list(wiki_bio.load(path))


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "wb.jsonl"
    path.write_bytes(json.dumps(ROWS[0]).encode() + b"\n" + b'{"target_text": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"wb\.jsonl:2: not valid UTF-8"):
        list(wiki_bio.load(str(path)))
    with pytest.raises(InputError, match="file not found"):
        list(wiki_bio.load(str(tmp_path / "missing.parquet")))


def test_hub_without_network_gives_a_clear_error():
    with pytest.raises(InputError, match=r"data\.hub_id='wiki_bio'.*data\.path"):
        list(wiki_bio.load(None, split="train", limit=5))
