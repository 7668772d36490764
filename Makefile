# imgsvc: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-test browser run test lint format bench install-bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3.11-or-newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench]'
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Start the service on the embedded default: file storage under ./var/media, served at /media/.
run: install
	$(BIN)/imgsvc serve --host $(HOST) --port $(PORT)

## Browser tests drive Debian's chromium (a downloaded browser does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Lint, then every test (starts its own SeaweedFS; needs no running services).
test: install-test browser
	$(BIN)/ruff check imgsvc tests benchmarks
	$(BIN)/mypy imgsvc
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check imgsvc tests benchmarks
	$(BIN)/ruff format --check imgsvc tests benchmarks
	$(BIN)/mypy imgsvc

format: install-test
	$(BIN)/ruff format imgsvc tests benchmarks
	$(BIN)/ruff check --fix imgsvc tests benchmarks

## Benchmarks (fetches and caches a corpus of real photos on first run).
bench: install-bench
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:cacheprovider

install-bench: $(VENV)/.installed-bench

clean:
	rm -rf $(VENV) var .pytest_cache .benchmarks
