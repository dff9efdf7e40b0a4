# devcloud: `make up` (set-up + local sandbox), `make test` (the full suite), `make bench`, `make lint`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE ?= $(HOME)/.local/share/devcloud

.PHONY: venv up test lint bench api-surface

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e '.[test,libvirt]'

# `devcloud up` once the appliance CLI has it; until then the management server alone, in the background.
up: venv
	@if $(BIN)/devcloud --help 2>/dev/null | grep -qw up; then \
		$(BIN)/devcloud up; \
	else \
		mkdir -p $(STATE); \
		DEVCLOUD_STATE_DIR=$(STATE) nohup $(BIN)/devcloud-management serve >$(STATE)/serve.log 2>&1 & \
		for i in $$(seq 1 100); do grep -q ready $(STATE)/serve.log 2>/dev/null && break; sleep 0.1; done; \
		cat $(STATE)/serve.log; \
		DEVCLOUD_STATE_DIR=$(STATE) $(BIN)/devcloud-management admin-keys; \
	fi

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
