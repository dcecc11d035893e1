"""Snakemake glue: train the tokenizer and build + pretrain the tiny Llama on the training data."""
from needlework.stages import modeling
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    modeling.build_model(sm.config["cfg"], sm.input.corpus, sm.input.needles, sm.input.labels,
                         sm.output[0])
