# RiskAtlas: `make run` serves the map with demo data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup db-start db-stop bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c "import ensurepip" 2>/dev/null \
	  || (command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) \
	  || (echo "python3-venv is missing: install it" && exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/riskatlas setup

run: $(STAMP)
	$(BIN)/riskatlas serve

# Browser tests use Debian's Chromium, the OGC test GDAL's ogrinfo, the print and planning
# report tests poppler's pdftotext: installed when missing.
test: $(STAMP)
	@(command -v chromium >/dev/null && command -v ogrinfo >/dev/null \
	  && command -v pdftotext >/dev/null) \
	  || (command -v apt-get >/dev/null && apt-get update -qq \
	      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium gdal-bin poppler-utils) \
	  || echo "warning: could not install chromium / gdal-bin / poppler-utils"
	$(BIN)/riskatlas db start
	$(BIN)/pytest -q

# ruff (lint and format) over the code, mypy strict over app/ (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

db-start: $(STAMP)
	$(BIN)/riskatlas db start

db-stop: $(STAMP)
	$(BIN)/riskatlas db stop

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	-$(BIN)/riskatlas db stop
	rm -rf $(VENV) .data
