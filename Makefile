# Tandem: `make run` starts the whole service on the embedded default; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
STAMP := $(VENV)/.installed
# `make serve` runs from its own environment with the runtime requirements only.
PROD_VENV := .venv-prod
PROD_STAMP := $(PROD_VENV)/.installed
# Where `make run` serves: `make run PORT=8001 HOST=127.0.0.1` (command-line only: a PORT or
# HOST left in the environment by another tool does not move it). Links in emails and the
# images networks fetch follow them unless TANDEM_PUBLIC_URL is set.
# `make serve` also takes them from the environment, where a supervisor (systemd) sets them.
SERVE_HOST := $(or $(HOST),127.0.0.1)
SERVE_PORT := $(or $(PORT),8000)
HOST := 127.0.0.1
PORT := 8000
PUBLIC_URL := $(or $(TANDEM_PUBLIC_URL),http://$(HOST):$(PORT))
# Each `make run` counts into a folder of its own (two on two ports must not wipe each other's).
METRICS_DIR := $(or $(PROMETHEUS_MULTIPROC_DIR),$(CURDIR)/var/metrics/$(PORT))

.PHONY: run serve test lint format setup venv messages clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

$(PROD_STAMP): requirements.txt
	@test -x $(PROD_VENV)/bin/python || $(PYTHON) -m venv $(PROD_VENV)
	$(PROD_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(PROD_STAMP)

# Compiled catalogues are build output (not in git): every entry point compiles them.
messages: $(STAMP)
	@DEBUG=1 $(MANAGE) compilemessages --ignore=.venv --ignore=$(PROD_VENV) -v 0

setup: messages
	@mkdir -p var
	DEBUG=1 $(MANAGE) migrate --noinput -v 0
	DEBUG=1 $(MANAGE) load_municipalities
	DEBUG=1 $(MANAGE) setup_roles
	DEBUG=1 $(MANAGE) load_demo

run: setup
	@$(BIN)/python scripts/port_free.py $(HOST) $(PORT)
	@# The counters of the previous run go: every process of this one writes its own.
	@PROMETHEUS_MULTIPROC_DIR="$(METRICS_DIR)" DEBUG=1 $(MANAGE) metrics_reset -v 0
	@echo ""
	@echo "Tandem is starting: web on http://$(HOST):$(PORT)/admin/ (log in with a demo account above),"
	@echo "API docs on /api/docs/; two django-q2 clusters (routine, urgent) and the dispatcher."
	@echo "Outbox posts land in var/outbox/. Ctrl-C stops them all."
	@echo ""
	@DEBUG=1 TANDEM_WEB_BIND="$(HOST):$(PORT)" TANDEM_PUBLIC_URL="$(PUBLIC_URL)" PROMETHEUS_MULTIPROC_DIR="$(METRICS_DIR)" \
		PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho -f Procfile start

# Production: gunicorn, WhiteNoise, both clusters and the dispatcher (scripts/serve says what it
# checks and prepares; README, "Production"). Address: `make serve PORT=8001 HOST=0.0.0.0`,
# else HOST and PORT from the environment, else 127.0.0.1:8000.
serve: $(PROD_STAMP)
	@HOST="$(SERVE_HOST)" PORT="$(SERVE_PORT)" exec $(PROD_VENV)/bin/python scripts/serve

test: messages
	@scripts/test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy config accounts publisher
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(PROD_VENV) var .pytest_cache .mypy_cache .ruff_cache
