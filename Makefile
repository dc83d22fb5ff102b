# The two commands: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# the test suite's worker processes (pytest-xdist, one test file per worker at a time): half of it waits on
# servers, kernels and browsers, so two workers use both cores; TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2

.PHONY: install warm timescale-deps chromium run test lint lab dashboard jobs-schedule serve-risk bento-risk bench-data bench-analytics bench-portfolio bench-backtest bench-risk bench-surfaces bench-execution bench-compliance clean

PORT ?= 3000

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 and bentoml>=1.4.30,<1.4.40 are pinned in pyproject.toml (see its comments).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	$(BIN)/python -m pip check
	touch $(STAMP)

# then the compiled kernels, once, into the user's numba cache ($$XDG_CACHE_HOME/bifrost/numba, or
# BIFROST_NUMBA_CACHE_DIR): a second or two when they are already there, a minute the first time
install: $(STAMP)
	@$(BIN)/bifrost warm

warm: $(STAMP)  ## compile the backtest kernels into the user's numba cache (cheap when already warm)
	$(BIN)/bifrost warm

# Test-only TimescaleDB (PGlite + TimescaleDB in WebAssembly), pinned by version and
# integrity hash in tests/timescale/package-lock.json; needs Node.js and npm.
TS_DIR := tests/timescale
$(TS_DIR)/node_modules/.package-lock.json: $(TS_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the TimescaleDB tests: apt-get install -y nodejs npm"; exit 1; }
	cd $(TS_DIR) && npm ci --no-audit --no-fund
	touch $@

timescale-deps: $(TS_DIR)/node_modules/.package-lock.json

# Debian's Chromium for the browser tests (never a downloaded browser); installed if missing.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		{ echo "Chromium is needed for the browser tests: apt-get install chromium"; exit 1; }

run: install  ## the daily pipeline (papermill_jobs/daily) on the embedded default (BIFROST_HOME, default ./.bifrost)
	$(BIN)/bifrost run

LAB_PORT ?= 8888
DASHBOARD_PORT ?= 8866

lab: install  ## JupyterLab on notebooks/, bound to 127.0.0.1 (paired .py files kept in sync by jupytext)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

dashboard: install  ## the Voila dashboards (widgets/) on http://127.0.0.1:$(DASHBOARD_PORT)
	$(BIN)/bifrost dashboard --port $(DASHBOARD_PORT)

jobs-schedule: install  ## the job scheduler in the foreground (papermill_jobs/jobs.toml); Ctrl-C stops it after the running job
	$(BIN)/bifrost jobs schedule

test: install timescale-deps chromium  ## the whole suite on TEST_WORKERS processes (PostgreSQL at 127.0.0.1:5432 or a throwaway one; TimescaleDB test server)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install  ## ruff, mypy, and the import layers
	$(BIN)/ruff check bifrost tests benchmarks bentos notebooks widgets papermill_jobs
	$(BIN)/mypy
	$(BIN)/lint-imports

serve-risk: install  ## the risk service (bentos/risk) on http://127.0.0.1:$(PORT), on the configured store
	$(BIN)/bifrost serve risk --port $(PORT)

bento-risk: install  ## build the risk service into a bento: the bifrost wheel, then `bentoml build` in bentos/risk
	rm -rf bentos/risk/wheels build  # build/ keeps modules deleted since: a wheel built over it ships them
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w bentos/risk/wheels .
	cd bentos/risk && ../../$(BIN)/bentoml build

bench-data: install  ## benchmarks/data_io.py: ingest and read 2.5M bars, bifrost vs pandas
	$(BIN)/python benchmarks/data_io.py

bench-analytics: install  ## benchmarks/analytics.py: the metric table, bifrost vs empyrical vs quantstats
	$(BIN)/python benchmarks/analytics.py

bench-portfolio: install  ## benchmarks/portfolio.py: replay and value a 100,000-transaction ledger
	$(BIN)/python benchmarks/portfolio.py

# the peers (vectorbt, backtesting.py) are installed only for this benchmark
bench-backtest: install  ## benchmarks/backtest.py: one backtest and a 50,000-backtest sweep vs backtrader, vectorbt, backtesting.py
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/backtest.py

bench-risk: install  ## benchmarks/risk.py: Monte Carlo and 2-D VaR timings, and the served endpoint under load
	$(BIN)/python benchmarks/risk.py

bench-execution: install  ## benchmarks/execution.py: orders through the whole path, the kill soak, reconcile, audit verify and proofs at 1,000,000 records
	$(BIN)/python benchmarks/execution.py

bench-compliance: install  ## benchmarks/compliance.py: pre-trade rules per order (20 rules, 1,000 symbols), the order path with the rules on, the compliance-aware sweep
	$(BIN)/python benchmarks/compliance.py

bench-surfaces: install chromium  ## benchmarks/surfaces.py: dashboard start, page to widget, click to metrics, papermill overhead
	$(BIN)/python benchmarks/surfaces.py

clean:
	rm -rf bentos/risk/wheels $(VENV) .bifrost bifrost/strategy/__pycache__ .pytest_cache .mypy_cache .ruff_cache $(TS_DIR)/node_modules
