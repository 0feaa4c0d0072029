# Every target builds what it needs from nothing: a fresh clone needs only python3 (3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint clean setup

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

## bench: every benchmark at realistic scale; prints BENCH lines
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/warehouse.duckdb* data/raw data/vintages reports/_output
