# Two commands a fresh machine needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CLI := $(VENV)/bin/segment-server
DEMO_USERS ?= 10000

.PHONY: run test reliability browser venv dev-deps native native-deps demo bench bench-quick bench-http bench-store bench-uid2 bench-mirror bench-icount lint typecheck clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev,bench]'
	touch $@

$(VENV)/.native-installed: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[native]'
	touch $@

venv: $(VENV)/.installed
dev-deps: $(VENV)/.dev-installed
native-deps: $(VENV)/.native-installed

# The hot path compiled with mypyc (segments/compiled.py). Optional: without a C compiler the
# server runs the same modules as plain Python, so a failed build never stops `make run`.
native: native-deps
	-$(PY) scripts/build_native.py

demo: venv
	$(CLI) demo --users $(DEMO_USERS)

run: native demo
	@scripts/print-examples.sh
	$(CLI) serve

test: dev-deps browser
	scripts/test

# Debian's Chromium for the status-page browser test (apt-get as root, as CI runs). Under CI=true a
# failed install fails here, and the test would fail rather than skip; locally the test skips, saying why.
browser:
	@scripts/install-browser.sh || { [ "$${CI:-}" != true ] && echo "chromium not installed: the status-page browser test will skip (CI fails instead)"; }

# Property tests with 10x examples, randomized (HYPOTHESIS_PROFILE=deep; see tests/conftest.py), then
# the reliability suite against the real server (loadtest/reliability: schemathesis, 100k fuzzed
# requests, abusive clients, faults, damaged files, kill -9; README "Reliability").
reliability: dev-deps native
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest -q -p no:cacheprovider -m "not e2e and not slow" \
		tests/server tests/privacy tests/uid2 tests/auth tests/segments tests/mirror
	scripts/reliability

lint: dev-deps
	$(VENV)/bin/ruff check server segments loadtest tests

typecheck: dev-deps
	$(PY) -m mypy

# Servers on CPU 0, the load generator on the other (taskset): run it on an otherwise idle machine.
bench: dev-deps native
	$(PY) -m loadtest.bench_all

# The harness end to end in seconds (CI smoke): numbers meaningless, written to a temp dir.
bench-quick: dev-deps
	$(PY) -m loadtest.bench_all --quick --skip others

# /rtd and /segments only: bare and ours on uvicorn and granian, same run, one pinned core.
bench-http: dev-deps native
	$(PY) -m loadtest.bench_http

bench-store: dev-deps
	$(PY) -m loadtest.bench_store

bench-uid2: dev-deps
	$(PY) loadtest/bench_uid2.py

bench-mirror: dev-deps
	$(PY) loadtest/bench_mirror.py

# Instructions per request under callgrind (needs valgrind): the steady ratio for hot-path changes.
bench-icount: dev-deps native
	$(PY) loadtest/bench_icount.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache
	find server segments -name '*.so' -delete; rm -f segments/_native.json
