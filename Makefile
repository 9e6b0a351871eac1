# Two commands do everything on a fresh machine: `make compare` and `make test`.
# Each creates .venv and installs what is missing (torch==2.13.0 is the CPU build here).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SPECS := $(wildcard specs/*.yaml)
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: compare test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned, so nothing resolves a CUDA build of it.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

compare: $(STAMP)
	$(PY) -m translator compare $(SPECS)

test: $(STAMP)
	$(PY) -m ruff check translator backends tests
	$(PY) -m ruff format --check translator backends tests
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check --fix translator backends tests
	$(PY) -m ruff format translator backends tests

bench: $(STAMP)
	$(PY) -m translator.bench $(SPECS)

clean:
	rm -rf $(VENV) build *.egg-info
