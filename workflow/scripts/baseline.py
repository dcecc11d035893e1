"""Snakemake glue: the majority-class baseline (answer the training-label priors) on the grid."""
from needlework.stages import evaluation
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    evaluation.baseline(sm.config["cfg"], sm.input.grid, sm.input.needles, sm.input.labels, sm.output.cells)
