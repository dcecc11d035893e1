"""Snakemake glue: train the shipped tiny base from scratch on the corpus, every needle held out."""
from needlework.stages.runtime import step_log
from needlework.training.tiny_base import build_from_files

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    cfg = sm.config["cfg"]
    build_from_files(sm.input.corpus, sm.input.needles, cfg["model"], cfg["seed"], sm.output[0], sm.params.work)
