# Marktplatz: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --disable-pip-version-check --quiet
# Test processes: much of the suite waits on gunicorn, Chromium and PostgreSQL, so 3 on 2 cores.
# Whole modules go to one worker, in the order tests/conftest.py gives (long modules first).
PYTEST_WORKERS ?= 3
# The API client is a package of its own; pip installs it in the same run as the app, so
# the app's `marktplatz-client==...` requirement is met by this directory, not an index.
CLIENT := clients/python
CLIENT_DEPS := $(CLIENT)/pyproject.toml $(CLIENT)/src/marktplatz_client/__init__.py

.PHONY: run test lint bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip setuptools wheel

$(VENV)/.installed: setup.cfg pyproject.toml $(CLIENT_DEPS) | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e $(CLIENT) -e . --config-settings editable_mode=compat
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml $(CLIENT_DEPS) | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e $(CLIENT) -e '.[test]' --config-settings editable_mode=compat
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/marktplatz data setup
	$(BIN)/marktplatz serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/pip install $(PIP_FLAGS) -e $(CLIENT) -e '.[dev]' --config-settings editable_mode=compat
	$(BIN)/ruff check marktplatz tests bench clients

$(VENV)/.installed-bench: setup.cfg pyproject.toml $(CLIENT_DEPS) | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e $(CLIENT) -e '.[bench]' --config-settings editable_mode=compat
	command -v wrk >/dev/null || apt-get install -y wrk || echo "wrk missing: HTTP figures will be skipped"
	touch $@ $(VENV)/.installed

# SQLite always; PostgreSQL too when MARKTPLATZ_BENCH_DATABASE_URL is set or a server answers
# on 127.0.0.1:5432 as in .ci/run (databases mp_bench_*, never the test suite's).
# BENCH_ARGS passes more options, e.g. BENCH_ARGS=--backends=sqlite.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
