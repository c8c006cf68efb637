# Seamline: the entry points. `make run` and `make test` are all a new user needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The test stack runs beside the dev stack, on its own ports and state folder, and is stopped after the tests.
TEST_ENV := SEAMLINE_STATE_DIR=$${SEAMLINE_TEST_STATE_DIR:-.teststack} SEAMLINE_PG_PORT=$${SEAMLINE_TEST_PG_PORT:-55329} \
	SEAMLINE_REPLICA_PORT=$${SEAMLINE_TEST_REPLICA_PORT:-55330} SEAMLINE_REDIS_PORT=$${SEAMLINE_TEST_REDIS_PORT:-6381}

.PHONY: help run services stop test lint contracts format migrations-check bench messages venv

help:
	@echo "make run       the whole stack with the demo, in the foreground (Ctrl-C stops it)"
	@echo "make test      the whole test suite on its own stack (PostgreSQL primary + replica, Redis, Celery)"
	@echo "make services  only the dev stack (PostgreSQL primary + replica, Redis) in the background, migrated, demo loaded"
	@echo "make stop      stop everything the project started"
	@echo "make bench     every benchmark (BENCH=\"pools load\" for some), figures and goals in docs/benchmarks.md"
	@echo "make lint      ruff check and format check, and the import contracts (make contracts)"
	@echo "make messages  update and compile translations"

venv: $(STAMP)
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || { py=$$(scripts/find-python) && echo "creating $(VENV) with $$py" && $$py -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# the dev stack, with Seamline's database migrated and the demo loaded: ready for manage.py commands
services: $(STAMP)
	@scripts/devstack start
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py load_demo

# debug is opt-in: the dev stack's `make run` turns it on (SEAMLINE_DEBUG=0 make run turns it off)
run: export SEAMLINE_DEBUG ?= 1
run: $(STAMP) services
	-@$(PY) manage.py sync demo
	@$(PY) manage.py ensure_admin
	@scripts/run-foreground

stop:
	@scripts/devstack stop

test: $(STAMP) contracts
	@scripts/devstack ensure-packages --with-browser
	@$(TEST_ENV) scripts/with-stack $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# the architecture's import contracts (pyproject.toml [tool.importlinter]; docs/development.md, "Where things live")
contracts: $(STAMP)
	@$(VENV)/bin/lint-imports --no-cache --no-logo

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(STAMP) services
	$(PY) manage.py makemigrations --check --dry-run

messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=tests --ignore=.venv --ignore=.devstack --ignore=.teststack* --ignore=bench
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

bench: $(STAMP) services
	@$(PY) -m bench $(BENCH)
