# Labeled needles + distractor biographies -> token-exact haystacks for the experiment model's tokenizer.
# A record that cannot be fitted is dropped and listed in audit/dropped.jsonl (context.max_drop_share).


rule haystacks_train:
    output:
        records=TRAIN_HAYSTACKS,
        dataset=directory(P.train_hay_dir / "dataset"),
        stats=P.train_hay_dir / "stats.json",
        dropped=P.train_hay_dir / "audit" / "dropped.jsonl",  # records no distractor draw could fit, with the reason
        plot=report(P.train_hay_dir / "stats.png", caption="../report/haystacks.rst", category="Data"),
    input:
        corpus=CORPUS,
        needles=NEEDLES,
        labels=LABELS,
        tokenizer=tokenizer_input(),
        identity=identity_input("base", "tokenizer"),  # the tokenizer's content identity: a new one reruns this
    params:
        split="train",
    conda:
        ENV
    log:
        LOGS / f"haystacks-train-{P.k_train_hay}.log",
    benchmark:
        BENCH / f"haystacks-train-{P.k_train_hay}.tsv"
    script:
        "../scripts/haystacks.py"


rule haystacks_eval:
    output:
        records=EVAL_HAYSTACKS,
        dataset=directory(P.eval_hay_dir / "dataset"),
        stats=P.eval_hay_dir / "stats.json",
        dropped=P.eval_hay_dir / "audit" / "dropped.jsonl",  # records no distractor draw could fit, with the reason
        plot=report(P.eval_hay_dir / "stats.png", caption="../report/haystacks.rst", category="Data"),
    input:
        corpus=CORPUS,
        needles=NEEDLES,
        labels=LABELS,
        tokenizer=tokenizer_input(),
        identity=identity_input("base", "tokenizer"),  # the tokenizer's content identity: a new one reruns this
    params:
        split="eval",
    conda:
        ENV
    log:
        LOGS / f"haystacks-eval-{P.k_eval_hay}.log",
    benchmark:
        BENCH / f"haystacks-eval-{P.k_eval_hay}.tsv"
    script:
        "../scripts/haystacks.py"
