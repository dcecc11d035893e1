"""Snakemake glue: one model answers the RAFT evaluation questions; EM/F1 as the official HotpotQA script."""
from needlework.stages import raft_eval
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    model_dir = sm.input.get("model")
    raft_eval.evaluate(sm.config["cfg"], sm.params.model, sm.input.questions,
                       model_dir[0] if isinstance(model_dir, list) else model_dir, sm.input.get("adapter"),
                       sm.output.predictions, sm.output.scores, threads=sm.threads)
