"""Snakemake glue: questions and checked chain-of-thought answers for the chosen fragments."""
from needlework.stages import raft_data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    raft_data.generate(sm.config["cfg"], sm.input.chunks, sm.output.generated, sm.output.stats,
                       str(sm.params.cache) if sm.params.cache else None)
