"""Snakemake glue: fine-tune the experiment's model on the RAFT examples with the shared training step."""
from needlework.stages import modeling
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    base_dir = sm.input.model[0] if sm.input.model else None
    modeling.finetune(sm.config["cfg"], sm.input.train, base_dir, sm.params.checkpoints, sm.output.adapter,
                      sm.output.metrics, threads=sm.threads)
