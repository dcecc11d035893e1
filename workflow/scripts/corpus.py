"""Snakemake glue: raw source -> anonymized corpus (+ audit files: name replacements, dropped records)."""
from needlework.stages import data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    out = snakemake.output  # noqa: F821
    data.corpus(snakemake.config["cfg"], out.corpus, out.audit, out.dropped, out.stats)  # noqa: F821
