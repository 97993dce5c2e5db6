# Everything a fresh machine needs is installed by these targets (Python 3.11+ and pip given).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup demo lint test test-fast bench chaos clean

setup: $(VENV)/.installed tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# promtool checks the Prometheus config and alert rules in the tests; redis-server is
# needed by the demo when no Redis answers and by the tests that restart a Redis of their own;
# ip (iproute2) makes the network namespace of the partition test.
tools:
	@command -v promtool >/dev/null && command -v redis-server >/dev/null && command -v ip >/dev/null || ops/install-tools.sh

demo: setup
	$(BIN)/tiktok-harvest demo

# ruff and mypy (configured in pyproject.toml) before any test: a finding fails the command.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint setup
	$(BIN)/pytest

test-fast: lint setup
	$(BIN)/pytest -m "not integration"

bench: setup
	$(BIN)/python -m benchmarks

# A long harvest through worker kills, API faults, a Redis restart, a host cut off and
# TikTok down (root: it uses network namespaces); prints what was stored against the truth.
chaos: setup
	$(BIN)/python -m chaos

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
