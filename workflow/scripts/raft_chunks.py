"""Snakemake glue: cut the RAFT documents into chunks of the configured size in model tokens."""
from needlework.stages import raft_data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    model_dir = sm.input.model[0] if sm.input.model else None
    raft_data.chunks(sm.config["cfg"], sm.input.docs, model_dir, sm.output[0])
