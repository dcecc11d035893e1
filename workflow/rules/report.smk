# Heatmaps, accuracy vs context length, cost per 1,000 queries, failures: one HTML page per configuration, keyed
# by everything it reads (results/report/<experiment>-<key>/); results/report/<experiment> links to the latest.


rule make_report:
    output:
        html=report(REPORT_HTML, caption="../report/index.rst", category="Report"),
        heatmaps=report(
            directory(P.report_dir / "figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Report",
        ),
    input:
        cells=CELLS,
        predictions=[Path(c).with_name("predictions.jsonl") for c in CELLS],
        baseline=BASELINE,
        grid=EVAL_HAYSTACKS,
        train_metrics=[TRAIN_METRICS] if NEEDS_TRAINING else [],
        tokenizer=tokenizer_input(),  # counts tokens for the cost table of models without their own
    params:
        models=list(EVAL_MODELS.values()),
        prices=REPORT_PRICES,  # also in the key: a price change rebuilds the report, nothing upstream
    conda:
        ENV
    log:
        LOGS / f"report-{P.report_dir.name}.log",
    benchmark:
        BENCH / f"report-{P.report_dir.name}.tsv"
    script:
        "../scripts/report.py"
