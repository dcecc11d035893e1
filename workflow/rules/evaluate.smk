# Every model in eval.models answers the same grid; answers are scored judge-free per (length, depth) cell.


rule evaluate_model:
    output:
        predictions=R / "evaluate" / "{eval_key}" / "predictions.jsonl",
        cells=R / "evaluate" / "{eval_key}" / "cells.csv",
    input:
        unpack(eval_model_inputs),
    params:
        model=lambda wc: EVAL_MODELS[wc.eval_key],
        cache=lambda wc: CACHE / f"predictions-{wc.eval_key}.jsonl",  # answers so far: a rerun resumes
    threads: eval_threads  # local models: all cores (--cores; resources.evaluate.cpus on a cluster); API models: 1
    resources:
        **step_resources("evaluate", gpu=eval_gpus),
    conda:
        ENV
    log:
        LOGS / "evaluate-{eval_key}.log",
    benchmark:
        BENCH / "evaluate-{eval_key}.tsv"
    script:
        "../scripts/evaluate.py"


rule majority_baseline:
    output:
        cells=BASELINE,
    input:
        grid=EVAL_HAYSTACKS,
        needles=NEEDLES,
        labels=LABELS,
    conda:
        ENV
    log:
        LOGS / f"baseline-{P.k_eval_hay}.log",
    benchmark:
        BENCH / f"baseline-{P.k_eval_hay}.tsv"
    script:
        "../scripts/baseline.py"
