# Erreichbar — two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench build clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 required; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

## build: build every derived data set from the data directory (skips what is up to date)
build: $(STAMP)
	$(VENV)/bin/erreichbar network build

## run: set up, build what is missing, serve maps and API on localhost
run: build
	$(VENV)/bin/erreichbar serve

## test: set up and run the test suite (real data from ../shared/data)
test: $(STAMP)
	$(PY) -m pytest -q

## bench: timed benchmarks with ratios against baselines measured in the same run
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) data/processed/*/ maps/*.html .pytest_cache
