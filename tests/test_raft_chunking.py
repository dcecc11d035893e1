"""RAFT documents and chunking: token budget in the model's tokens, overlap, sentence boundaries, offsets."""
from __future__ import annotations

import json

import pytest

from needlework.io import InputError
from needlework.raft.chunking import chunk_documents, chunk_text, sentence_spans
from needlework.raft.documents import fixture_path, hotpot_documents, load_documents, read_hotpotqa
from needlework.tokenizer import train_tokenizer

TEXT = (
    "Alan Turing was born in Maida Vale, London. He studied mathematics at King's College, Cambridge! "
    "During the war he worked at Bletchley Park. Was the Enigma broken there? It was, in part by his bombe. "
    "After the war he designed the ACE. He later worked at the University of Manchester.\n\n"
    "Turing died in 1954. His work is the basis of computer science."
)


@pytest.fixture(scope="module")
def count():
    tokenizer = train_tokenizer([TEXT] * 20, vocab_size=300)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_sentences_are_split_at_their_ends_and_blank_lines():
    sentences = [TEXT[a:b] for a, b in sentence_spans(TEXT)]
    assert sentences[0] == "Alan Turing was born in Maida Vale, London."
    assert sentences[3] == "Was the Enigma broken there?"
    assert "He later worked at the University of Manchester." in sentences
    assert sentences[-1] == "His work is the basis of computer science."


@pytest.mark.parametrize(("budget", "overlap"), [(40, 0), (40, 25), (80, 30)])
def test_chunks_fit_the_token_budget_hold_whole_sentences_and_keep_offsets(count, budget, overlap):
    chunks = chunk_text(TEXT, tokens=budget, overlap=overlap, count=count)
    assert len(chunks) > 1
    boundaries = {a for a, _ in sentence_spans(TEXT)}, {b for _, b in sentence_spans(TEXT)}
    for chunk in chunks:
        assert TEXT[chunk["start"]:chunk["end"]] == chunk["text"]
        assert chunk["n_tokens"] == count(chunk["text"]) <= budget
        assert chunk["start"] in boundaries[0] and chunk["end"] in boundaries[1]
    covered = set()
    for chunk in chunks:
        covered |= set(range(chunk["start"], chunk["end"]))
    assert all(i in covered for a, b in sentence_spans(TEXT) for i in range(a, b))  # nothing is lost
    for previous, current in zip(chunks, chunks[1:]):
        assert current["start"] > previous["start"]
        shared = previous["end"] - current["start"]
        if overlap == 0:
            assert shared < 0
        elif shared > 0:
            assert count(TEXT[current["start"]:previous["end"]]) <= overlap
    if overlap:
        assert any(c["start"] < p["end"] for p, c in zip(chunks, chunks[1:]))


def test_a_sentence_longer_than_the_budget_is_cut_between_words(count):
    long = " ".join(["word"] * 200) + "."
    chunks = chunk_text(long, tokens=20, overlap=0, count=count)
    assert len(chunks) > 1 and all(c["n_tokens"] <= 20 for c in chunks)
    assert all(long[c["start"]:c["end"]] == c["text"] and not c["text"][0].isspace() for c in chunks)


def test_bad_budget_names_the_config_keys(count):
    with pytest.raises(InputError, match="raft.chunking"):
        chunk_text(TEXT, tokens=10, overlap=10, count=count)


def test_hotpotqa_gives_one_document_per_distinct_paragraph_with_its_facts():
    records = read_hotpotqa(fixture_path("train"))
    docs = hotpot_documents(records)
    paragraphs = {(title, "".join(s).strip()) for r in records for title, s in r["context"]}
    assert len(docs) == len(paragraphs)
    first = records[0]
    supporting_titles = {t for t, _ in first["supporting_facts"]}
    holders = [d for d in docs if any(f["question_id"] == first["_id"] for f in d["facts"])]
    assert {d["title"] for d in holders} == supporting_titles
    chunks = chunk_documents(docs, tokens=512, overlap=0, count=None)
    assert [c["text"] for c in chunks] == [d["text"] for d in docs]


def test_a_hotpotqa_record_with_a_missing_field_names_file_and_record(tmp_path):
    records = read_hotpotqa(fixture_path("train"))[:3]
    del records[1]["supporting_facts"]
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps(records))
    with pytest.raises(InputError, match=rf"{path}: record 1 \({records[1]['_id']}\): missing field.*supporting_facts"):
        read_hotpotqa(path)


def test_folder_and_jsonl_sources_and_a_broken_pdf_is_skipped_and_counted(tmp_path):
    (tmp_path / "a.md").write_text("# Notes\n\nFirst sentence. Second one.")
    (tmp_path / "b.txt").write_text("Plain text file.")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf at all")
    docs, audit = load_documents({"source": "folder", "path": str(tmp_path), "on_error": "skip"})
    assert [d["id"] for d in docs] == ["a.md", "b.txt"]
    pdfs, audit = load_documents({"source": "pdf", "path": str(tmp_path), "on_error": "skip"})
    assert pdfs == [] and audit["skipped"][0]["file"].endswith("bad.pdf")
    with pytest.raises(InputError, match="bad.pdf"):
        load_documents({"source": "pdf", "path": str(tmp_path), "on_error": "stop"})
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text('{"id": 1, "text": "One."}\n{"id": "2"}\n')
    with pytest.raises(InputError, match=r"docs.jsonl:2"):
        load_documents({"source": "jsonl", "path": str(jsonl), "on_error": "skip"})


def test_a_real_pdf_is_read(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with open(tmp_path / "blank.pdf", "wb") as fh:
        writer.write(fh)
    docs, audit = load_documents({"source": "pdf", "path": str(tmp_path), "on_error": "stop"})
    assert docs == [] and audit["skipped"] == [{"file": str(tmp_path / "blank.pdf"), "reason": "no text"}]


def test_the_hugging_face_schema_is_read_as_the_original(tmp_path):
    original = read_hotpotqa(fixture_path("eval"))[:2]
    hf_rows = [{"id": r["_id"], "question": r["question"], "answer": r["answer"], "type": r["type"],
                "level": r["level"],
                "supporting_facts": {"title": [t for t, _ in r["supporting_facts"]],
                                     "sent_id": [i for _, i in r["supporting_facts"]]},
                "context": {"title": [t for t, _ in r["context"]], "sentences": [s for _, s in r["context"]]}}
               for r in original]
    path = tmp_path / "hf.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in hf_rows))
    assert read_hotpotqa(path) == [dict(r) for r in original]


def test_a_bad_hub_spec_names_the_config_keys():
    with pytest.raises(InputError, match="hub:<dataset>:<config>:<split>"):
        read_hotpotqa("hub:nosplit")
