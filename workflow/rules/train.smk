# Fine-tune the experiment's model on the training haystacks (LoRA / QLoRA / full, RoPE scaling beyond
# the native context). Checkpoints live outside the declared outputs, so a killed run resumes.


rule finetune:
    output:
        adapter=directory(ADAPTER),
        metrics=TRAIN_METRICS,
    input:
        train=TRAIN_HAYSTACKS,
        model=tokenizer_input(),
    params:
        checkpoints=P.train_dir / "checkpoints",
    threads: 1024  # all cores: Snakemake caps a job's threads at --cores
    resources:
        gpus=CFG["train"].get("num_processes", 1) if CFG["model"]["path"] else 0,
    conda:
        GPU_ENV if CFG["lora"]["method"] == "qlora" else ENV
    log:
        LOGS / f"train-{P.k_train}.log",
    benchmark:
        BENCH / f"train-{P.k_train}.tsv"
    script:
        "../scripts/train.py"
