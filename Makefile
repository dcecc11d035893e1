# Two commands on a fresh clone:  `make run` (set up, run the offline default)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned: on CPU machines the CPU wheel, or pip resolves a multi-GB CUDA build.
TORCH ?= torch==2.13.0
CORES ?= all
OVERRIDES ?=

.PHONY: setup run test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores $(CORES) --config overrides="$(OVERRIDES)"

test: setup
	PATH="$(abspath $(BIN)):$$PATH" pytest

lint: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --lint

clean:
	rm -rf results .snakemake
