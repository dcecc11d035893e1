"""Snakemake glue: the HotpotQA evaluation questions (seeded sample when raft.eval.limit is set; ids saved) and
their paragraphs."""
from needlework.stages import raft_eval
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    raft_eval.eval_data(sm.config["cfg"], sm.output.questions, sm.output.ids, sm.output.paragraphs)
