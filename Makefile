# Erreichbar — two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench build clean browser-deps sysdeps

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 required; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

## sysdeps: Debian libraries for PDF reports (WeasyPrint: Pango) and their test (pdftoppm)
sysdeps:
	@ldconfig -p | grep -q libpangoft2-1.0 || { apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0; }
	@command -v pdftoppm >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends poppler-utils; }

$(STAMP): pyproject.toml | $(PY) sysdeps
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

ERR := $(VENV)/bin/erreichbar

## build: build every derived data set from the data directory (each step skips what is
## up to date): networks, layers, travel-time surfaces, base map, maps, priority table, prevention
## chain, reports
build: $(STAMP)
	$(ERR) network build
	$(ERR) layers build
	$(ERR) access compute
	$(ERR) basemap build
	$(ERR) maps build
	$(ERR) priority
	$(ERR) chain
	$(ERR) report --all --format html

## run: set up, build what is missing, serve maps and API on localhost
run: build
	$(ERR) serve

## browser-deps: headless Chromium + chromedriver for tests/test_browser.py (Debian apt)
browser-deps:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { apt-get update && apt-get install -y chromium chromium-driver; }

## lint: ruff (rule set in pyproject.toml) and mypy on geo and api, both at zero findings
lint: $(STAMP)
	$(PY) -m ruff check geo api tests bench
	$(PY) -m mypy geo api

## test: set up, lint and run the test suite (real data from ../shared/data) on two workers,
## one test file per worker (pytest-xdist; each worker builds the session's data once)
TEST_WORKERS ?= 2
test: $(STAMP) browser-deps lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

## bench: timed benchmarks with ratios against baselines measured in the same run
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) data/processed/*/ data/reports maps/*.html .pytest_cache
