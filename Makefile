# The two set-up commands of the README are `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test lint format bench bench-quick clean dashboard-assets

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		echo "python3 -m venv failed; installing python3-venv" >&2; \
		apt-get update -q && apt-get install -y -q python3-venv python3-pip && \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

dev: install
	$(BIN)/colonies-ha dev

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check colonies_ha tests benchmarks
	$(BIN)/ruff format --check colonies_ha tests benchmarks
	$(BIN)/lint-imports --no-logo

format: install
	$(BIN)/ruff format colonies_ha tests benchmarks
	$(BIN)/ruff check --fix colonies_ha tests benchmarks

# Benchmarks need the `bench` extra too (PgQueuer, procrastinate, matplotlib).
# `make bench ARGS="--only single,cluster"` passes options to the runner.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run $(ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --quick $(ARGS)

# Re-vendor the dashboard's signing libraries (@noble/secp256k1, @noble/hashes) from the
# versions pinned in dashboard/package-lock.json; the result is committed, so `make install`
# needs no npm.
dashboard-assets:
	cd dashboard && npm ci --no-audit --no-fund && node vendor.mjs

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
