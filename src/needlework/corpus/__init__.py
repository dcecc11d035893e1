"""The corpus stage: biography sources (synthetic, wiki_bio, any JSONL), filters, anonymization, needles.

``build.build_corpus(data_cfg, seed)`` is the entry point; ``needles.select_needles`` picks the needles.
"""
