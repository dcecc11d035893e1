"""Snakemake glue: convert a packaged GGUF model once into a plain HF model directory."""
from needlework.stages import modeling
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    modeling.convert_gguf(sm.config["cfg"], dict(sm.params.gguf), sm.output[0])
