# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4646

.PHONY: install demo sim test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,lab]'

# The simulated cluster on 127.0.0.1:$(PORT). (JupyterLab with the notebooks joins it here.)
demo: install
	$(BIN)/nomadlab sim --host 127.0.0.1 --port $(PORT)

sim: demo

# The whole test suite, as CI runs it: lint and types first, then pytest.
test: lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/python -m ruff check nomadlab tests benchmarks
	$(BIN)/python -m mypy

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis
