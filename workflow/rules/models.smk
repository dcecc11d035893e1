# The experiment's own model when it is built here (offline default): a BPE tokenizer and a small Llama
# pretrained on the training data (evaluation needles held out) at its native context.


rule build_model:
    output:
        directory(P.model_dir),
    input:
        corpus=CORPUS,
        needles=NEEDLES,
        labels=LABELS,
    conda:
        ENV
    log:
        LOGS / f"model-{P.k_model}.log",
    benchmark:
        BENCH / f"model-{P.k_model}.tsv"
    script:
        "../scripts/build_model.py"
