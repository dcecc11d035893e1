# Helpers of the RAFT track (no rules): its result paths, targets and input functions.
from needlework.raft.documents import fixture_path
from needlework.raft.paths import RaftPaths

try:
    RP = RaftPaths(CFG)
except ConfigError as exc:
    sys.exit(f"needlework: {exc}")
RAFT = CFG["raft"]
RAFT_DOCS = RP.documents_dir / "documents.jsonl"
RAFT_DOCS_AUDIT = RP.documents_dir / "audit.json"
RAFT_CHUNKS = RP.chunks_dir / "chunks.jsonl"
RAFT_GENERATED = RP.generated_dir / "generated.jsonl"
RAFT_GEN_STATS = RP.generated_dir / "stats.json"
RAFT_CHAT = RP.examples_dir / "chat.jsonl"
RAFT_CLOSED_CHAT = RP.examples_dir / "closed_book.jsonl"  # the same examples without documents (DSF)
RAFT_ADAPTER = RP.train_dir / "adapter"
RAFT_DSF_ADAPTER = RP.dsf_train_dir / "adapter"
# What each fine-tune trains on, by its training directory's name: RAFT (with documents) and DSF (without)
RAFT_TRAIN_DATA = {RP.train_dir.name: RAFT_CHAT, RP.dsf_train_dir.name: RAFT_CLOSED_CHAT}
RAFT_QUESTIONS = RP.eval_data_dir / "questions.jsonl"
RAFT_EVAL_PARAGRAPHS = RP.eval_data_dir / "paragraphs.jsonl"
RAFT_SCORES = [RP.eval_dir(key) / "scores.csv" for key in RP.eval_keys]
RAFT_PREDICTIONS = [RP.eval_dir(key) / "predictions.jsonl" for key in RP.eval_keys]
RAFT_REPORT = RP.report_dir / "index.html"
RAFT_MODEL = [RP.model_dir] if CFG["model"]["path"] is None else []  # built here (tiny) or converted (GGUF)
RAFT_TRAINS = "finetuned" in RAFT["eval"]["models"]


def raft_source_file(path):
    """A configured input file (or the packaged fixture) as a rule input, so editing it reruns what follows."""
    source = Path(path) if path else None
    return [source] if source is not None and source.is_file() else []


def raft_eval_inputs(wildcards):
    name = RP.eval_keys[wildcards.raft_eval_key]
    inputs = {"questions": RAFT_QUESTIONS}
    if name in ("base", "finetuned", "base_closed", "dsf") and RAFT_MODEL:
        inputs["model"] = RAFT_MODEL
    elif model_config(CFG, name).get("gguf"):  # another packaged GGUF model
        inputs["model"] = converted_dir(R, model_config(CFG, name)["gguf"])
    if name in ("finetuned", "dsf"):
        inputs["adapter"] = RAFT_ADAPTER if name == "finetuned" else RAFT_DSF_ADAPTER
    inputs["identity"] = identity_input(name)
    return inputs


def raft_eval_threads(wildcards):
    return evaluation_threads(RP.eval_keys[wildcards.raft_eval_key])


def raft_eval_gpus(wildcards):
    return evaluation_gpus(RP.eval_keys[wildcards.raft_eval_key], RP.builds_model)
