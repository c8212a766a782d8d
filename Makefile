# Two commands a fresh machine needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CLI := $(VENV)/bin/segment-server
DEMO_USERS ?= 10000

.PHONY: run test venv dev-deps demo bench bench-store bench-uid2 bench-mirror lint typecheck clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev,bench]'
	touch $@

venv: $(VENV)/.installed
dev-deps: $(VENV)/.dev-installed

demo: venv
	$(CLI) demo --users $(DEMO_USERS)

run: demo
	@scripts/print-examples.sh
	$(CLI) serve

test: dev-deps
	scripts/test

lint: dev-deps
	$(VENV)/bin/ruff check server segments loadtest tests

typecheck: dev-deps
	$(PY) -m mypy

bench: dev-deps
	$(PY) -m loadtest.bench_all

bench-store: dev-deps
	$(PY) -m loadtest.bench_store

bench-uid2: dev-deps
	$(PY) loadtest/bench_uid2.py

bench-mirror: dev-deps
	$(PY) loadtest/bench_mirror.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache
