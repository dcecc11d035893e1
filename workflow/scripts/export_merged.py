"""Snakemake glue: fold the fine-tuned adapter into the base model for serving (train.export_merged)."""
from pathlib import Path

from needlework.serving import export_merged
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    model = sm.config["cfg"]["model"]
    base = sm.input.model[0] if sm.input.model else None
    export_merged(dict(model, path=str(Path(base).resolve()) if base else model["path"]), sm.input.adapter,
                  sm.output.merged)
