# The two commands of the README: `make run` and `make test`. Each creates the
# virtual environment on first use and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The suite runs on one process per core, at most this many (pytest-xdist; PYTEST_ARGS=-n0
# runs it in one). Much of it waits on servers it starts, so two halve its time on two cores.
TEST_PROCESSES ?= 4
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/syncengine serve

test: $(STAMP)
	$(BIN)/ruff check syncengine tests bench
	$(BIN)/ruff format --check syncengine tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n auto --maxprocesses=$(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check syncengine tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
