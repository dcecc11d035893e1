"""Snakemake glue: read the RAFT documents (HotpotQA paragraphs, .txt/.md, JSONL or PDF) without the evaluation
questions' paragraphs."""
from needlework.stages import raft_data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    raft_data.documents(sm.config["cfg"], sm.input.eval_paragraphs, sm.output.docs, sm.output.audit)
