# needlework: long-context fine-tuning and a refined needle-in-a-haystack benchmark (conf/ composed by Hydra):
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
include: "workflow/rules/raft.smk"  # RAFT track: documents -> generation -> assembly -> fine-tune -> EM/F1
include: "workflow/rules/targets.smk"  # stage targets: snakemake corpus | labels | ... | report


report: "workflow/report/workflow.rst"


onstart:
    preflight()


onsuccess:  # the configuration's MLflow run FINISHED (again, after a failed run), or FAILED with what failed
    tracking.end_parent(CFG, ok=True)


onerror:
    tracking.end_parent(CFG, ok=False, log=log)


rule all:
    default_target: True
    input:
        ALL_TARGETS,
