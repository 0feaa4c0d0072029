# Every target builds what it needs from nothing: a fresh clone needs only python3 (3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast test-browser row-counts bench lint clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,spark]'
	touch $(STAMP)

## demo: build the warehouse from the embedded data, print a summary, render the default pack
demo: $(STAMP)
	$(BIN)/chokehold refresh --offline
	$(BIN)/chokehold summary
	$(BIN)/chokehold render --all --out reports/_output

## test: the whole suite, offline
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-browser: the rendered pack in headless Chromium (installs Debian's chromium when missing)
test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/python -m pytest -q tests/test_render_browser.py

## test-fast: everything but the tests marked slow (end-to-end renders, fault runs); < 2 min
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## row-counts: rewrite tests/data/expected_row_counts.csv from a fresh offline build
row-counts: $(STAMP)
	$(BIN)/python tests/row_counts.py

## bench: every benchmark at realistic scale; prints BENCH lines
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/warehouse.duckdb* data/raw data/vintages reports/_output
