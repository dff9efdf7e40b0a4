# devcloud: `make up` (set-up + local sandbox), `make test` (the full suite), `make bench`, `make lint`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv up test lint bench api-surface

$(BIN)/python:
	sh scripts/build-deps.sh
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstalled only when pyproject.toml changes, so a second `make up` touches no registry.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,libvirt]'
	touch $@

venv: $(VENV)/.installed

# Set-up and the local sandbox: `devcloud up` is idempotent and resumable.
up: venv
	$(BIN)/devcloud up

# The full suite, every tier, after scripts/provision-test.sh has made sure everything the tiers need is installed
# and running (the same step CI runs; ~1 s when nothing is missing). TIERS=unit,api runs a subset (tests/tiers.py
# lists the tiers); PYTEST_ARGS adds pytest arguments. A skip that is not a capability gate fails; the table at the
# end gives each tier's tests and seconds.
# JOBS pytest-xdist workers (each module stays on one worker: tests/tiers.py); JOBS=0 runs in one process.
TIERS ?=
PYTEST_ARGS ?=
JOBS ?= 3
test: venv
	bash scripts/provision-test.sh -- $(BIN)/pytest -q -rfEs --durations=30 -n $(JOBS) --dist loadgroup \
		$(if $(TIERS),--tiers=$(TIERS)) $(PYTEST_ARGS) tests

lint: venv
	$(BIN)/ruff check management appliance tests bench
	$(BIN)/mypy

bench:
	$(BIN)/python bench/api_throughput.py

api-surface:
	GENERATE_API_SURFACE=1 $(BIN)/pytest -q tests/contract/api/test_api_surface.py

# The appliance (README "Appliance and farms"): wheelhouse, mmdebstrap base, Packer QEMU build provisioned by
# playbooks/, qcow2 + libvirt box + VirtualBox box under dist/appliance/ (build.json records the times).
.PHONY: appliance appliance-check
# Its Debian tools (scripts/appliance-packages.txt) are installed first when missing: `make up` does not need them.
APPLIANCE_PKGS = $(shell sed -e 's/\#.*//' scripts/appliance-packages.txt)
appliance: venv
	sh scripts/apt-ensure.sh $(APPLIANCE_PKGS)
	$(BIN)/devcloud build appliance

# The cheap checks CI runs on every change (ansible syntax + lint, yamllint, packer/vagrant validate, box format).
appliance-check:
	$(BIN)/pytest -q -m appliance tests/appliance

# The web UI (ui/): a reproducible build into management/ui_dist (committed, so the package needs no Node).
.PHONY: ui ui-test
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

# Browser tests: Debian's chromium (apt-get install chromium) driven by playwright-core from ui/node_modules.
ui-test:
	$(BIN)/pytest -q -rs --durations=40 tests/ui tests/api/test_console.py
