# RAFT track (`snakemake raft`): evaluation questions -> documents without their paragraphs -> chunks -> questions +
# checked CoT answers -> examples with oracle and distractors -> fine-tune the experiment's model (RAFT; and DSF on
# the same examples without documents) -> HotpotQA EM/F1 of each raft.eval.models -> RAFT report.


include: "raft_common.smk"


wildcard_constraints:
    raft_eval_key="|".join(re.escape(key) for key in RP.eval_keys),
    raft_train="|".join(re.escape(name) for name in RAFT_TRAIN_DATA),


rule raft_eval_data:
    output:
        questions=RAFT_QUESTIONS,
        ids=RP.eval_data_dir / "ids.txt",
        paragraphs=RAFT_EVAL_PARAGRAPHS,
    input:
        raft_source_file(RAFT["eval"]["path"] or fixture_path("eval")),
    conda:
        ENV
    log:
        LOGS / f"raft-eval-data-{RP.k_eval_data}.log",
    benchmark:
        BENCH / f"raft-eval-data-{RP.k_eval_data}.tsv"
    script:
        "../scripts/raft_eval_data.py"


rule raft_documents:
    output:
        docs=RAFT_DOCS,
        audit=RAFT_DOCS_AUDIT,
    input:
        source=raft_source_file(RAFT["documents"]["path"] or fixture_path("train")),
        eval_paragraphs=RAFT_EVAL_PARAGRAPHS,  # drawn first: kept out of every training document
    conda:
        ENV
    log:
        LOGS / f"raft-documents-{RP.k_docs}.log",
    benchmark:
        BENCH / f"raft-documents-{RP.k_docs}.tsv"
    script:
        "../scripts/raft_documents.py"


if RP.builds_model:  # the tiny Llama built on the documents (a GGUF model is converted by models.smk)

    rule raft_build_model:
        output:
            directory(RP.model_dir),
        input:
            docs=RAFT_DOCS,
        threads: all_cores("train")  # --cores locally; resources.train.cpus on a cluster
        conda:
            ENV
        log:
            LOGS / f"raft-model-{RP.k_model}.log",
        benchmark:
            BENCH / f"raft-model-{RP.k_model}.tsv"
        script:
            "../scripts/raft_build_model.py"


rule raft_chunks:
    output:
        RAFT_CHUNKS,
    input:
        docs=RAFT_DOCS,
        model=RAFT_MODEL if RAFT["documents"]["source"] != "hotpotqa" else [],
        identity=identity_input("base", "tokenizer") if RAFT["documents"]["source"] != "hotpotqa" else [],
    conda:
        ENV
    log:
        LOGS / f"raft-chunks-{RP.k_chunks}.log",
    benchmark:
        BENCH / f"raft-chunks-{RP.k_chunks}.tsv"
    script:
        "../scripts/raft_chunks.py"


rule raft_generate:
    output:
        generated=RAFT_GENERATED,
        stats=RAFT_GEN_STATS,
    input:
        chunks=RAFT_CHUNKS,
    params:
        # teacher answers so far, shared by every key: a rerun after a crash pays for nothing twice
        cache=P.llm_cache("raft", RP.teacher()) if RAFT["generator"]["kind"] == "openai" else None,
        max_concurrency=RAFT["generator"]["max_concurrency"],
    conda:
        ENV
    log:
        LOGS / f"raft-generate-{RP.k_gen}.log",
    benchmark:
        BENCH / f"raft-generate-{RP.k_gen}.tsv"
    script:
        "../scripts/raft_generate.py"


rule raft_assemble:
    output:
        examples=RP.examples_dir / "raft.jsonl",
        chat=RAFT_CHAT,
        completion=RP.examples_dir / "completion.jsonl",
        closed_book=RAFT_CLOSED_CHAT,
        dataset=directory(RP.examples_dir / "dataset"),
    input:
        chunks=RAFT_CHUNKS,
        generated=RAFT_GENERATED,
    params:
        workers=RAFT["assembly"].get("workers", 1),
    conda:
        ENV
    log:
        LOGS / f"raft-assemble-{RP.k_examples}.log",
    benchmark:
        BENCH / f"raft-assemble-{RP.k_examples}.tsv"
    script:
        "../scripts/raft_assemble.py"


rule raft_finetune:  # RAFT (RP.train_dir) or DSF (RP.dsf_train_dir): the same step, config and model
    output:
        adapter=directory(RP.root / "train" / "{raft_train}" / "adapter"),
        metrics=RP.root / "train" / "{raft_train}" / "metrics.json",
    input:
        train=lambda wc: RAFT_TRAIN_DATA[wc.raft_train],
        model=RAFT_MODEL,
        identity=identity_input("base"),
    params:
        checkpoints=lambda wc: RP.root / "train" / wc.raft_train / "checkpoints",
        gpu_hour_usd=CFG["train"].get("gpu_hour_usd", 0.0),
    threads: all_cores("train")  # --cores locally; resources.train.cpus on a cluster
    resources:
        **step_resources("train", gpu=training_gpus()),
    conda:
        GPU_ENV if CFG["lora"]["method"] == "qlora" else ENV
    log:
        LOGS / "raft-train-{raft_train}.log",
    benchmark:
        BENCH / "raft-train-{raft_train}.tsv"
    script:
        "../scripts/raft_train.py"


rule raft_evaluate:
    output:
        predictions=RP.root / "evaluate" / "{raft_eval_key}" / "predictions.jsonl",
        scores=RP.root / "evaluate" / "{raft_eval_key}" / "scores.csv",
    input:
        unpack(raft_eval_inputs),
    params:
        model=lambda wc: RP.eval_keys[wc.raft_eval_key],
        batch_size=RAFT["eval"].get("batch_size", 8),
        bootstrap=RAFT["eval"].get("bootstrap", 2000),  # resamples of the F1 interval
    threads: raft_eval_threads  # local models: all cores (resources.evaluate.cpus on a cluster); API models: 1
    resources:
        **step_resources("evaluate", gpu=raft_eval_gpus),
    conda:
        ENV
    log:
        LOGS / "raft-evaluate-{raft_eval_key}.log",
    benchmark:
        BENCH / "raft-evaluate-{raft_eval_key}.tsv"
    script:
        "../scripts/raft_evaluate.py"


rule raft_report:
    output:
        scores=RP.report_dir / "scores.csv",
        html=RAFT_REPORT,
    input:
        scores=RAFT_SCORES,
        predictions=RAFT_PREDICTIONS,
        gen_stats=RAFT_GEN_STATS,
        docs_audit=RAFT_DOCS_AUDIT,
        train=[RP.train_dir / "metrics.json"] if RAFT_TRAINS else [],
    conda:
        ENV
    log:
        LOGS / f"raft-report-{RP.report_dir.name}.log",
    benchmark:
        BENCH / f"raft-report-{RP.report_dir.name}.tsv"
    script:
        "../scripts/raft_report.py"
