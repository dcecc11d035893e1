"""Snakemake glue: needles -> labels with one labeler."""
from needlework.stages import data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    data.labels(sm.config["cfg"], sm.params.labeler, sm.input.corpus, sm.input.needles, sm.output.labels,
                sm.output.stats, sm.params.cache)
