"""Snakemake glue: heatmaps, accuracy vs length, cost table and failures -> index.html."""
from needlework.stages import reporting
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    reporting.report(sm.config["cfg"], sm.params.models, sm.input.cells, sm.input.predictions,
                     sm.input.baseline, sm.input.grid, sm.input.train_metrics, sm.output.html,
                     sm.output.heatmaps)
