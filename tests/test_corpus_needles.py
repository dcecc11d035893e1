"""Needle selection: persons in a word band, disjoint train / eval splits, clear errors when too few."""
import pytest

from needlework.corpus import synthetic
from needlework.corpus.needles import select_needles
from needlework.io import InputError

CORPUS = synthetic.generate(300, seed=1, non_person_rate=0.1)


def test_disjoint_splits_in_corpus_order_and_deterministic():
    needles, stats = select_needles(CORPUS, n_train=60, n_eval=20, min_words=40, max_words=250, seed=0)
    assert needles == select_needles(CORPUS, 60, 20, 40, 250, seed=0)[0]
    assert needles != select_needles(CORPUS, 60, 20, 40, 250, seed=1)[0]
    assert [n["split"] for n in needles].count("train") == 60 and len(needles) == 80
    ids = [n["id"] for n in needles]
    assert len(set(ids)) == 80
    order = {r["id"]: i for i, r in enumerate(CORPUS)}
    assert ids == sorted(ids, key=order.get)
    by_id = {r["id"]: r for r in CORPUS}
    for needle in needles:
        record = by_id[needle["id"]]
        assert 40 <= len(record["text"].split()) <= 250
        assert record["infobox"].get("background") != "group_or_band"
    assert stats["dropped_non_person"] > 10 and stats["dropped_length"] > 0
    assert stats["candidates"] == 300 - stats["dropped_non_person"] - stats["dropped_length"]
    assert (stats["train"], stats["eval"], stats["corpus"]) == (60, 20, 300)


def test_eval_needles_do_not_change_with_n_train():
    def eval_ids(n_train):
        needles, _ = select_needles(CORPUS, n_train, 25, 30, 300, seed=3)
        return [n["id"] for n in needles if n["split"] == "eval"]
    assert eval_ids(10) == eval_ids(100)


def test_too_few_candidates_names_the_config_keys():
    with pytest.raises(InputError, match=r"needles\.n_train=250 \+ needles\.n_eval=50 .* only \d+ candidates"):
        select_needles(CORPUS, 250, 50, 40, 250, seed=0)
    with pytest.raises(InputError, match=r"needles\.max_words"):
        select_needles(CORPUS, 1, 1, 100, 50, seed=0)
    with pytest.raises(InputError, match=r"needles\.n_eval"):
        select_needles(CORPUS, 1, -1, 10, 50, seed=0)
    with pytest.raises(InputError, match="duplicate id"):
        select_needles(CORPUS[:5] + CORPUS[:1], 1, 1, 10, 500, seed=0)
