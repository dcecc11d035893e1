"""Snakemake glue: one model answers the evaluation grid; answers are scored per cell."""
from needlework.stages import evaluation
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    evaluation.evaluate(sm.config["cfg"], sm.params.model, sm.input.grid, sm.input.get("model"),
                        sm.input.get("adapter"), sm.output.predictions, sm.output.cells, sm.params.cache,
                        threads=sm.threads, rope_from=sm.input.get("rope_from"))
