# Two commands do everything on a fresh machine: `make compare` and `make test` (`make port`
# carries every spec's weights between the frameworks).
# Each creates .venv and installs what is missing (torch==2.13.0 is the CPU build here).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SPECS := $(wildcard specs/*.yaml) $(wildcard specs/zoo/*.yaml)
# Specs whose whole models do not fit in memory (25 GB of weights per framework): compare
# measures them once per distinct layer; port and export need the whole model, so skip them.
TOO_BIG := specs/zoo/llama2_7b.yaml
WHOLE_SPECS := $(filter-out $(TOO_BIG),$(SPECS))
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: compare port export test test-fast lint bench install clean chromium
# apt-get needs root; elsewhere go through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

# Every spec's random weights carried from each framework into the other two; exit 1 when an
# output differs by more than 1e-5.
port: $(STAMP)
	for fw in keras torch onnx; do $(PY) -m translator port $(WHOLE_SPECS) --from $$fw || exit 1; done

# Every spec exported to build/export/<spec>/, each file reloaded and checked.
export: $(STAMP)
	mkdir -p build/export
	for spec in $(WHOLE_SPECS); do $(PY) -m translator export $$spec --out build/export/$$(basename $$spec .yaml) --force || exit 1; done

# The HTML report is checked in a real headless browser (Debian's chromium).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) chromium
	$(PY) -m ruff check translator backends tests
	$(PY) -m ruff format --check translator backends tests
	$(PY) -m mypy
	# The chromium target ran: the HTML-report test must find it, not skip.
	REQUIRE_CHROMIUM=1 $(PY) -m pytest

# The framework-free tier, in seconds: no test that imports a framework or takes more than about
# a second (those carry the `slow` marker; see tests/conftest.py).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

lint: $(STAMP)
	$(PY) -m ruff check --fix translator backends tests
	$(PY) -m ruff format translator backends tests

bench: $(STAMP)
	$(PY) -m translator.bench

clean:
	rm -rf $(VENV) build *.egg-info
