# Two entry points from a fresh clone: `make run` (set up and open the app) and `make test`.
PYTHON ?= $(shell scripts/pick-python)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all lint bench setup screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/mailroom

# Installs the Debian packages the real-server tests need (Dovecot, isync) when missing, then runs
# every test except the long crash rounds (`make test-all` runs those too).
test: $(STAMP)
	scripts/install-test-deps
	$(BIN)/python -m pytest -m "not slow" -q

test-all: $(STAMP)
	scripts/install-test-deps
	$(BIN)/python -m pytest -q

# Lint and formatting as CI checks them (ruff's version is pinned in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check store screens tui tests benchmarks scripts

bench: $(STAMP)
	scripts/install-test-deps
	$(BIN)/python benchmarks/sync_bench.py

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots
