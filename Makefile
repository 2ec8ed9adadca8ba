# The two commands of the README: `make run` and `make test`. Each creates the
# virtual environment on first use and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
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
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check syncengine tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
