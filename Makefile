# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4646
LAB_PORT ?= 8888
SCENARIO ?= demo
# Extra arguments for `jupyter lab`, e.g. make demo LAB_ARGS=--allow-root
LAB_ARGS ?=

.PHONY: install demo sim test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,lab,report]'

# The simulated demo cluster on 127.0.0.1:$(PORT), and JupyterLab on notebooks/ at
# http://127.0.0.1:$(LAB_PORT)/lab with NOMAD_ADDR pointing at the cluster. Ctrl-C stops both.
demo: install
	$(BIN)/nomadlab demo --host 127.0.0.1 --port $(PORT) --lab-port $(LAB_PORT) $(if $(LAB_ARGS),-- $(LAB_ARGS))

# The simulated cluster only (no JupyterLab), on 127.0.0.1:$(PORT); SCENARIO=default|demo|large.
sim: install
	$(BIN)/nomadlab sim --host 127.0.0.1 --port $(PORT) --scenario $(SCENARIO)

# The whole test suite, as CI runs it: lint and types first, then pytest.
test: lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/python -m ruff check nomadlab tests benchmarks
	$(BIN)/python -m mypy

# Speed and memory benchmarks (python-nomad, from the bench extra, is their baseline).
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis
