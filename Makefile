# The few commands a newcomer needs. `make up` runs the stack; `make test` runs every test tier.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up test lint typecheck unit e2e bench system-deps venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	@bash infra/scripts/system-deps.sh

## up: install what is missing, then run the whole stack on 127.0.0.1 (Ctrl-C stops it)
up: system-deps venv
	$(BIN)/outpost up

## test: lint, type-check, then every test tier this machine can run
test:
	@bash infra/scripts/system-deps.sh --test
	$(MAKE) venv lint typecheck
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

## bench: performance figures next to floors measured in the same run -> bench/results.json
bench: system-deps venv
	$(BIN)/python -m bench

## e2e: the compose stack on a private Docker engine: build the images, run the qfieldcloud-cli scenario,
## kill a runner mid-job, tear down (also part of `make test`)
e2e: venv
	@bash infra/scripts/system-deps.sh --test
	$(BIN)/pytest -m compose tests/compose

## unit: the pure tests only (milliseconds)
unit: venv
	$(BIN)/pytest -m unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
