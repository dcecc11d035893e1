"""Evaluation: model backends (HF, OpenAI-compatible), answer parsing, scoring and the grid."""
