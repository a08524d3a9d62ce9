# RiskAtlas: `make run` serves the map with demo data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-cluster lint setup db-start db-stop bench clean

# Each step says what it does in one line; the package managers' own output is kept quiet
# (their errors still show).
PIP := $(BIN)/pip install -q --disable-pip-version-check
APT := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c "import ensurepip" 2>/dev/null \
	  || (command -v apt-get >/dev/null && echo "==> installing python3-venv (apt-get)" \
	      && apt-get update -qq && $(APT) python3-venv >/dev/null) \
	  || (echo "python3-venv is missing: install it" && exit 1)
	@echo "==> creating the Python environment in $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "==> installing RiskAtlas and its Python packages (pip, a few minutes the first time)"
	@$(PIP) --upgrade pip
	@$(PIP) -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP)
	@echo "==> setting up the database (PostGIS, migrations, China's regions, the demo)"
	@$(BIN)/riskatlas setup

run: $(STAMP)
	@echo "==> starting: PostGIS, migrations, China's regions and the demo if missing, then the server"
	@# The demo is Ningxia's: the public starts there (a lone province is not ranked).
	@RISKATLAS_HOME_REGION=$${RISKATLAS_HOME_REGION-640000} $(BIN)/riskatlas serve

# Browser tests use Debian's Chromium, the OGC test GDAL's ogrinfo, the print and planning
# report tests poppler's pdftotext: installed when missing.
test: $(STAMP)
	@(command -v chromium >/dev/null && command -v ogrinfo >/dev/null \
	  && command -v pdftotext >/dev/null) \
	  || (command -v apt-get >/dev/null \
	      && echo "==> installing chromium, gdal-bin and poppler-utils (apt-get)" \
	      && apt-get update -qq && $(APT) chromium gdal-bin poppler-utils >/dev/null) \
	  || echo "warning: could not install chromium / gdal-bin / poppler-utils"
	@echo "==> starting the embedded PostGIS"
	@$(BIN)/riskatlas db start
	@echo "==> running the tests"
	@$(BIN)/pytest -q
	@$(MAKE) --no-print-directory test-cluster

# The cluster subset (tests/cluster) on a local Citus cluster: a coordinator and two
# workers (`riskatlas cluster up`; Citus is built from ../shared/vendor/citus if missing).
# Without the vendored source every test is skipped and says why (-rs).
test-cluster: $(STAMP)
	@echo "==> running the cluster tests (Citus; skipped without its source)"
	@RISKATLAS_CLUSTER_TESTS=1 $(BIN)/pytest -q -rs tests/cluster

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
