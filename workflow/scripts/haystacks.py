"""Snakemake glue: labeled needles + distractors -> token-exact haystacks (train set or eval grid)."""
from pathlib import Path

from needlework.stages import data
from needlework.stages.runtime import step_log

with step_log(snakemake.log[0]):  # noqa: F821 - injected by Snakemake
    sm = snakemake  # noqa: F821
    tokenizer_dir = sm.input.tokenizer[0] if sm.input.tokenizer else None
    data.haystacks(sm.config["cfg"], sm.params.split, sm.input.corpus, sm.input.needles, sm.input.labels,
                   tokenizer_dir, str(Path(sm.output.records).parent))
