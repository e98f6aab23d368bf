# Two commands on a fresh machine with Python 3.11+, git and make:
#   make demo   -> sets everything up, then runs the daemon against built-in simulated providers
#   make test   -> sets everything up, then runs lint, types and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/alertd demo

lint: $(STAMP)
	$(BIN)/ruff check alertd tests bench
	$(BIN)/ruff format --check alertd tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -m "" -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
