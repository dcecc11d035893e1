# The experiment's own model when the workflow makes it: a packaged GGUF (SmolLM2, the offline default) converted
# once into a plain HF directory, or the tiny test Llama (model=tiny) built from a BPE tokenizer and pretrained on the
# training data (evaluation needles held out) at its native context.


# Each local, hub or packaged model's identity (weights, config and tokenizer by content hash, a GGUF file's hash, a
# hub model's resolved revision) in a small file named by it: haystacks take the tokenizer's, training and evaluation
# the model's, so new weights, a new tokenizer or a moved hub revision is a new input, and a copy elsewhere is not.
if IDENTITY_FILES:

    rule model_identity:
        output:
            R / "identity" / "{identity}.json",
        params:
            model=lambda wc: IDENTITY_FILES[wc.identity],  # the model's name only (its path is not what it is)
        wildcard_constraints:
            identity="|".join(re.escape(name) for name in IDENTITY_FILES),
        localrule: True
        conda:
            ENV
        log:
            LOGS / "identity-{identity}.log",
        benchmark:
            BENCH / "identity-{identity}.tsv"
        script:
            "../scripts/identity.py"


if GGUF_DIRS:

    rule convert_gguf:
        output:
            directory(R / "models" / "{gguf_dir}"),
        params:
            gguf=lambda wc: GGUF_DIRS[wc.gguf_dir],
        wildcard_constraints:
            gguf_dir="|".join(re.escape(name) for name in GGUF_DIRS),
        conda:
            ENV
        log:
            LOGS / "convert-{gguf_dir}.log",
        benchmark:
            BENCH / "convert-{gguf_dir}.tsv"
        script:
            "../scripts/convert_gguf.py"


if P.builds_tiny:

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


# The shipped tiny base (models/tiny-base): trained from scratch on this corpus, every needle held out
# (`snakemake --cores all tiny_base`, two phases: the shipped first took 189 s on one H100 (about 90 min on 2 CPU
# cores), the second 83 min on 2 CPU cores; checkpoints and the finished first phase in <output>.work make a rerun
# resume).
# The experiment uses the committed copy; copy the output over models/tiny-base to ship a new one.
if "pretrain" in CFG["model"]:
    from needlework.config import fingerprint

    TINY_BASE = R / "tiny_base" / f"tiny_base-{fingerprint(CFG['model'], CFG['seed'], P.k_needles)}"

    rule tiny_base:
        output:
            directory(TINY_BASE),
        input:
            corpus=CORPUS,
            needles=NEEDLES,
        params:
            work=f"{TINY_BASE}.work",
        conda:
            ENV
        log:
            LOGS / f"{TINY_BASE.name}.log",
        benchmark:
            BENCH / f"{TINY_BASE.name}.tsv"
        script:
            "../scripts/tiny_base.py"
