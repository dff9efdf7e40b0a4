# devcloud: `make up` (set-up + local sandbox), `make test` (the full suite), `make bench`, `make lint`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv up test lint bench api-surface

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e '.[test,libvirt]'

# Set-up and the local sandbox: `devcloud up` is idempotent and resumable.
up: venv
	$(BIN)/devcloud up

# The full suite, every tier; pytest exit code 5 (no tests ran) fails too. -rs prints the skip list.
test:
	$(BIN)/pytest -q -rs tests

lint:
	$(BIN)/ruff check management appliance tests bench
	$(BIN)/mypy

bench:
	$(BIN)/python bench/api_throughput.py

api-surface:
	GENERATE_API_SURFACE=1 $(BIN)/pytest -q tests/contract/api/test_api_surface.py
