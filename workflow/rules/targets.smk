# Stage targets: `snakemake <stage>` builds the composed experiment up to that stage.


rule corpus:
    input:
        CORPUS,


rule labels:
    input:
        LABELS,
        AGREEMENT,


rule models:
    input:
        MODEL_TARGETS,


rule haystacks:
    input:
        TRAIN_HAYSTACKS,
        EVAL_HAYSTACKS,


rule train:
    input:
        ADAPTER,
        [MERGED] if CFG["train"]["export_merged"] else [],


rule evaluate:
    input:
        CELLS,


rule report:
    input:
        REPORT_HTML,


rule raft:
    input:
        RAFT_REPORT,
