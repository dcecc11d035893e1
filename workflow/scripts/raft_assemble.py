"""Snakemake glue: RAFT examples (oracle + distractors) and their chat, completion and datasets exports."""
from needlework.stages import raft_data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    raft_data.assemble(sm.config["cfg"], sm.input.chunks, sm.input.generated, dict(sm.output.items()))
