# The experiment's own model when it is built here (offline default): tokenizer trained on the
# training corpus (evaluation needles held out) and a small randomly initialised Llama.


rule build_model:
    output:
        directory(P.model_dir),
    input:
        corpus=CORPUS,
        needles=NEEDLES,
    conda:
        ENV
    log:
        LOGS / f"model-{P.k_model}.log",
    benchmark:
        BENCH / f"model-{P.k_model}.tsv"
    script:
        "../scripts/build_model.py"
