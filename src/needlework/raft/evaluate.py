"""RAFT evaluation on HotpotQA: each question with its paragraphs as the documents, in the training instruction
format; the prediction is the text after the last ``<ANSWER>:``; EM/F1 as the official script computes them.
The closed-book rows of the RAFT paper's table (``CLOSED_BOOK``) are asked the question alone, without documents.

``scores.csv`` (one row per model): ``model, n, em, f1, f1_ci_low, f1_ci_high, missing_answer_tag, truncated,
em_ci_low, em_ci_high`` (95% bootstrap intervals over questions), fractions in [0, 1]; the per-question predictions file holds the generated text, the extracted prediction, the
gold answer, EM, F1, and the quoted evidence.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from needlework.raft.checker import quotes
from needlework.raft.documents import read_hotpotqa
from needlework.raft.generate import seeded_rng
from needlework.raft.metric import exact_match, extract_prediction, f1_score, bootstrap_ci
from needlework.raft.prompts import CLOSED_BOOK, instruction

SCORE_COLUMNS = ["model", "n", "em", "f1", "f1_ci_low", "f1_ci_high", "missing_answer_tag", "truncated", "em_ci_low",
                 "em_ci_high"]


def eval_records(path: str, limit: int | None, seed: int) -> list[dict[str, Any]]:
    """The HotpotQA records evaluated: all of them, or with ``limit`` a seeded sample of that many. Drawn before the
    training documents are read, which exclude these records' paragraphs."""
    records = read_hotpotqa(path)
    if limit is not None and limit < len(records):
        records = seeded_rng(seed, "raft-eval").sample(records, limit)
    return records


def eval_questions(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{"id", "question", "answer", "messages"}`` per HotpotQA record (all paragraphs as documents, in file
    order), sorted by id."""
    out = []
    for record in records:
        docs = ["".join(sentences).strip() for _, sentences in record["context"]]
        out.append({"id": record["_id"], "question": record["question"], "answer": record["answer"],
                    "messages": [{"role": "user", "content": instruction(docs, record["question"])}]})
    return sorted(out, key=lambda q: q["id"])


def as_asked(question: dict[str, Any], model_name: str) -> dict[str, Any]:
    """The question as ``model_name`` is asked it: with its documents, or for a closed-book row the question alone
    (the training instruction with no documents)."""
    if model_name not in CLOSED_BOOK:
        return question
    return dict(question, messages=[{"role": "user", "content": instruction([], question["question"])}])


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cuts = [text.index(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def prediction_row(question: dict[str, Any], generated: str, truncated: bool) -> dict[str, Any]:
    """Scores of one answer: EM, F1, the extracted prediction, whether the tag was missing, the quoted evidence."""
    prediction, tagged = extract_prediction(generated)
    f1, precision, recall = f1_score(prediction, question["answer"])
    return {"id": question["id"], "question": question["question"], "gold": question["answer"],
            "prediction": prediction, "generated": generated, "em": exact_match(prediction, question["answer"]),
            "f1": f1, "precision": precision, "recall": recall, "missing_answer_tag": not tagged,
            "truncated": truncated, "quotes": quotes(generated)}


def score_table(model: str, rows: list[dict[str, Any]], n_questions: int, seed: int,
                n_boot: int = 2000) -> pd.DataFrame:
    """One ``scores.csv`` row. A question without a row scores 0 (the official script's rule)."""
    f1s = [r["f1"] for r in rows] + [0.0] * (n_questions - len(rows))
    ems = [r["em"] for r in rows] + [0.0] * (n_questions - len(rows))
    low, high = bootstrap_ci(f1s, seed=seed, n_boot=n_boot)
    em_low, em_high = bootstrap_ci(ems, seed=seed, n_boot=n_boot)
    n = max(n_questions, 1)
    return pd.DataFrame([{
        "model": model, "n": n_questions, "em": sum(r["em"] for r in rows) / n, "f1": sum(f1s) / n,
        "f1_ci_low": low, "f1_ci_high": high,
        "missing_answer_tag": sum(r["missing_answer_tag"] for r in rows) / n,
        "truncated": sum(r["truncated"] for r in rows) / n, "em_ci_low": em_low, "em_ci_high": em_high,
    }], columns=SCORE_COLUMNS)
