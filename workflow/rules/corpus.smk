# Raw source -> anonymized corpus -> needles.


rule build_corpus:
    output:
        corpus=CORPUS,
        audit=P.corpus_dir / "audit" / "names.jsonl",
        dropped=P.corpus_dir / "audit" / "dropped.jsonl",
        stats=P.corpus_dir / "stats.json",
    input:
        [CFG["data"]["path"]] if CFG["data"].get("path") else [],
    conda:
        ENV
    log:
        LOGS / f"corpus-{P.k_corpus}.log",
    benchmark:
        BENCH / f"corpus-{P.k_corpus}.tsv"
    script:
        "../scripts/corpus.py"


rule select_needles:
    output:
        needles=NEEDLES,
        stats=P.needles_dir / "stats.json",
    input:
        corpus=CORPUS,
    conda:
        ENV
    log:
        LOGS / f"needles-{P.k_needles}.log",
    benchmark:
        BENCH / f"needles-{P.k_needles}.tsv"
    script:
        "../scripts/needles.py"
