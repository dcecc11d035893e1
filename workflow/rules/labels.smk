# Needles -> labels (one labeler per key) and the agreement of two labelers.


rule label_needles:
    output:
        labels=R / "labels" / "{labels_key}" / "labels.jsonl",
        stats=R / "labels" / "{labels_key}" / "stats.json",
    input:
        corpus=CORPUS,
        needles=NEEDLES,
    params:
        labeler=lambda wc: LABELERS[wc.labels_key],
        cache=lambda wc: P.llm_cache("llm", LABELERS[wc.labels_key])  # LLM answers: never paid for twice
        if LABELERS[wc.labels_key]["kind"] == "openai"
        else None,
    conda:
        ENV
    log:
        LOGS / "labels-{labels_key}.log",
    benchmark:
        BENCH / "labels-{labels_key}.tsv"
    script:
        "../scripts/labels.py"


rule labeler_agreement:
    output:
        table=P.labels_dir / "agreement-{other}.csv",
        examples=P.labels_dir / "disagreements-{other}.csv",
    input:
        a=LABELS,
        b=lambda wc: P.labels_dir_for(OTHER_LABELER) / "labels.jsonl",
    params:
        name_a=CFG["labeler"]["kind"],
    conda:
        ENV
    log:
        LOGS / f"agreement-{P.k_labels}-{{other}}.log",
    benchmark:
        BENCH / f"agreement-{P.k_labels}-{{other}}.tsv"
    script:
        "../scripts/agreement.py"
