"""Snakemake glue: build the offline tiny base model (tokenizer + pretraining) on the RAFT documents."""
import torch

from needlework.stages import raft_data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    torch.set_num_threads(max(1, sm.threads))
    raft_data.build_model(sm.config["cfg"], sm.input.docs, sm.output[0])
