# Two commands: `make run` starts the server on embedded defaults; `make test` runs everything.
# `make run` turns the demo on (a demo bot, a demo agent on a new database, the demo page);
# `make run HANDOFF_DEMO=false` (or HANDOFF_DEMO=false in the environment) turns it off.
HANDOFF_DEMO ?= true
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NPM_DIR := tests/js
# The Rasa action server for the Rasa example's test: its own venv, never the server's.
RASA_VENV := .venv-rasa
RASA_REQS := client_examples/rasa_bot/requirements.txt
# System packages: bwrap for the custom-action sandbox (make run, make test), chromium for
# the browser tests and nginx for the multi-process tests (make test), installed where this machine allows, else the command to run
# is printed; a no-op when they are there. make test with CI=true fails without them.
INSTALL := sh scripts/install-package

.PHONY: run test lint typecheck unit bench deps js-deps rasa-deps vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

deps: $(VENV)/.stamp-deps

$(NPM_DIR)/node_modules/.stamp: $(NPM_DIR)/package.json
	cd $(NPM_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

js-deps: $(NPM_DIR)/node_modules/.stamp

$(RASA_VENV)/.stamp: $(RASA_REQS)
	$(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/pip install --quiet -r $(RASA_REQS)
	touch $@

rasa-deps: $(RASA_VENV)/.stamp

run: deps
	@$(INSTALL) bwrap bubblewrap
	HANDOFF_DEMO=$(HANDOFF_DEMO) $(BIN)/handoff serve

lint: deps
	$(BIN)/ruff check handoff tests bench
	$(BIN)/mypy

test: deps js-deps rasa-deps lint
	@$(INSTALL) $(if $(filter true,$(CI)),--required) bwrap bubblewrap
	@$(INSTALL) $(if $(filter true,$(CI)),--required) chromium chromium
	@$(INSTALL) $(if $(filter true,$(CI)),--required) nginx nginx
	$(BIN)/python -m pytest -q

# The console's libraries from npm (pinned in the script); the result is committed.
vendor:
	sh scripts/vendor.sh

bench: deps js-deps
	$(BIN)/python bench/relay.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(RASA_VENV) $(NPM_DIR)/node_modules var
