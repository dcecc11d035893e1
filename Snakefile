# needlework: long-context fine-tuning with a refined needle-in-a-haystack benchmark.
# The experiment is composed from conf/ by Hydra; override it with
#   snakemake --cores all --config overrides="experiment=blog_16k lora=r64"
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/haystacks.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


onstart:
    preflight()


rule all:
    default_target: True
    input:
        ALL_TARGETS,


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


rule evaluate:
    input:
        CELLS,


rule report:
    input:
        REPORT_HTML,
