# agentd — developer and operator entry points.
#   make demo   install into .venv and run the offline demo against the bundled simulator
#   make test   install into .venv (with dev tools) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: install test lint format demo bench efficacy clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: install
	$(BIN)/agentd demo

bench: install
	$(BIN)/python bench/run.py

# Real repositories' dependency files against the REAL registries (network needed): the
# shared corpus beside the checkout (../shared/efficacy-corpus, or EFFICACY_CORPUS).
efficacy: install
	$(BIN)/python bench/efficacy.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
