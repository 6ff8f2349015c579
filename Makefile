# rectify — the office's batch job. `make demo` sets everything up and runs the
# month on the bundled samples; `make test` runs the whole test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RECTIFY := $(BIN)/rectify
DEMO_HOME ?= out/demo-home
PERIOD ?= 2015-02

.PHONY: setup demo test test-fast bench samples template clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,cluster]'
	@touch $@

setup: $(VENV)/.installed
	@bash scripts/ensure-chromium.sh || echo "chromium not installed: the report's screenshot test will be skipped"

demo: setup
	$(BIN)/python scripts/demo.py --home $(DEMO_HOME) --period $(PERIOD)

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# Benchmarks, cached in bench/.cache, results JSON in bench/results/: the
# time budgets the tests no longer assert (bench/bench_budgets.py), peak memory per limit (bench/bench_memory.py, issue #16),
# validation on one core against the raw-parse floor (issue #3), then the national-scale run (bench/run.py, ~1k/10k/50k returns; issue #7).
# e.g. make bench BENCH_SIZES=200,1000 BENCH_VALIDATE_N=500
BENCH_SIZES ?= 1000,10000,50000
BENCH_VALIDATE_N ?= 5000
# intake with vs without the history stage (issue 17): units x six earlier months
BENCH_HISTORY_UNITS ?= 10000
bench: setup
	$(BIN)/python -m bench.run budgets
	$(BIN)/python -m bench.run memory
	$(BIN)/python -m bench.run validate --n $(BENCH_VALIDATE_N)
	$(BIN)/python -m bench.run history --units $(BENCH_HISTORY_UNITS)
	$(BIN)/python -m bench.run --sizes $(BENCH_SIZES) $(BENCH_ARGS)

samples: setup
	$(RECTIFY) samples --out samples --units 40 --periods 2015-01,2015-02 --defects 0.38 --xls 0.03 --seed 7

template: setup
	$(RECTIFY) template --out out/整改落实情况回头看报表模板.xlsx

clean:
	rm -rf out .pytest_cache
