# Fine-tune the experiment's model on the training haystacks (LoRA / QLoRA / full, RoPE scaling beyond
# the native context). Checkpoints live outside the declared outputs, so a killed run resumes.


rule finetune:
    output:
        adapter=directory(ADAPTER),
        metrics=TRAIN_METRICS,
    input:
        train=TRAIN_HAYSTACKS,
        model=tokenizer_input(),
        identity=identity_input("base"),  # the base model's content identity: new weights retrain
    params:
        checkpoints=P.train_dir / "checkpoints",
    threads: all_cores("train")  # --cores locally; resources.train.cpus on a cluster
    resources:
        **step_resources("train", gpu=training_gpus()),
    conda:
        GPU_ENV if CFG["lora"]["method"] == "qlora" else ENV
    log:
        LOGS / f"train-{P.k_train}.log",
    benchmark:
        BENCH / f"train-{P.k_train}.tsv"
    script:
        "../scripts/train.py"


# train.export_merged: the adapter folded into the base, one model directory for OpenAI-compatible servers.
rule export_merged:
    output:
        merged=directory(MERGED),
    input:
        adapter=ADAPTER,
        model=tokenizer_input(),
        identity=identity_input("base"),
    conda:
        ENV
    log:
        LOGS / f"merge-{P.k_train}.log",
    benchmark:
        BENCH / f"merge-{P.k_train}.tsv"
    script:
        "../scripts/export_merged.py"
