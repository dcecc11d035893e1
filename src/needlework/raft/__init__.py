"""RAFT (retrieval-augmented fine-tuning) on documents: chunks -> questions -> checked CoT answers with oracle and
distractor documents -> fine-tuning -> HotpotQA EM/F1."""
