# One entry point for people and CI. `make test` on a fresh machine with Python 3.11
# creates .venv, installs everything the project needs into it, and runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test pytest clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install pytest

pytest: install
	$(BIN)/python -m pytest --junitxml=reports/junit.xml

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
