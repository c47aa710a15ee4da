# Quick start: `make run` (app on the bundled demo data), `make test-fast` (the edit loop: no browser,
# no slow tests) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint typecheck bench demo wheel-smoke clean

# The tested pins first, then the package itself (editable) with its [app], [dask] and [test] extras.
$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e '.[app,dask,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hotspots demo --if-missing
	$(BIN)/streamlit run app.py

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not slow"

lint: $(STAMP)
	$(BIN)/ruff check hotspots hotspots_app tests app.py benchmarks

# mypy with pyproject.toml's [tool.mypy]; tests/test_typing.py runs the same in `make test`.
typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

demo: $(STAMP)
	$(BIN)/hotspots demo --out geodata/demo_incidents.csv

# Build the wheel and try it in a fresh venv outside the repository (also run by .ci/run).
wheel-smoke: $(STAMP)
	PYTHON=$(BIN)/python bash .ci/wheel-smoke

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
