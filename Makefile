# Everything a new machine needs comes from here: only Python >= 3.11 and make are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## Migrate, load reference and (first time) demo data, then serve on http://127.0.0.1:8000
serve: install
	$(BIN)/registry setup
	$(BIN)/registry serve

## The whole suite (PostgreSQL and browser tests run when their services are there; CI requires them)
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy registry tests

bench: install
	$(BIN)/python bench/lookup.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
