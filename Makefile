# Two commands on a fresh machine with Python 3.11+, git and make:
#   make demo   -> sets everything up, then runs the daemon against built-in simulated providers
#   make test   -> sets everything up, then runs lint, types and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
DEV     := $(VENV)/.dev

.PHONY: demo test lint bench clean

# The daemon and what it needs to run, nothing else.
$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# The test runner, lint, types, the import contract and coverage on top (the `dev` extra).
$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV)

demo: $(RUNTIME)
	$(BIN)/alertd demo

lint: $(DEV)
	$(BIN)/ruff check alertd tests bench
	$(BIN)/ruff format --check alertd tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -m "" -q --cov=alertd --cov-report=term:skip-covered

bench: $(DEV)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/store_figures.py

clean:
	rm -rf $(VENV) build *.egg-info
