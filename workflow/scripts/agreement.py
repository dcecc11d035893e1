"""Snakemake glue: per-field agreement between two labelers."""
from needlework.stages import data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    data.agreement(sm.config["cfg"], sm.input.a, sm.input.b, sm.params.name_a, sm.wildcards.other,
                   sm.output.table, sm.output.examples)
