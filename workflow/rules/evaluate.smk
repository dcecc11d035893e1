# Every model in eval.models answers the same grid; answers are scored judge-free per (length, depth) cell.


rule evaluate_model:
    output:
        predictions=R / "evaluate" / "{eval_key}" / "predictions.jsonl",
        cells=R / "evaluate" / "{eval_key}" / "cells.csv",
    input:
        unpack(eval_model_inputs),
    params:
        model=lambda wc: EVAL_MODELS[wc.eval_key],
        # answers so far, shared by every eval.scoring: a rerun or a rescoring resumes from them
        cache=lambda wc: CACHE / f"predictions-{P.prediction_key(EVAL_MODELS[wc.eval_key])}.jsonl",
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
        LOGS / f"baseline-{P.baseline_dir.name}.log",
    benchmark:
        BENCH / f"baseline-{P.baseline_dir.name}.tsv"
    script:
        "../scripts/baseline.py"
