"""Snakemake glue: corpus -> training and evaluation needles."""
from needlework.stages import data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    data.needles(snakemake.config["cfg"], snakemake.input.corpus, snakemake.output.needles,  # noqa: F821
                 snakemake.output.stats)  # noqa: F821
