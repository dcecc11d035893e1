"""Snakemake glue: record a model's identity (content hashes or resolved hub revision) in a small file."""
from needlework.stages import modeling
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    modeling.record_identity(sm.config["cfg"], sm.params.model, sm.output[0])
