"""Snakemake glue: every model's RAFT scores in one table and a small HTML page."""
from needlework.stages import raft_eval
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    raft_eval.report(sm.config["cfg"], list(sm.input.scores), list(sm.input.predictions), sm.input.gen_stats,
                     sm.input.docs_audit, sm.input.train[0] if sm.input.train else None, sm.output.scores,
                     sm.output.html)
