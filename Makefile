# sybilgraph: two commands on a fresh machine with Python 3.11+ and make:
#   make demo   runs the pipeline on the bundled sample
#   make test   installs the dev tools and a headless Chromium, runs ruff, mypy and pytest

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE := data/samples/week
DEMO   := out/demo

.PHONY: install dev browser demo test lint typecheck pytest lock clean bench

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@test -x $(BIN)/sybilgraph
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	@touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it downloads nothing).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi
	@/usr/bin/chromium --version

demo: install
	$(BIN)/sybilgraph detect $(SAMPLE)/events.csv --out $(DEMO) --force
	$(BIN)/sybilgraph evaluate $(DEMO) --truth $(SAMPLE)/truth.csv
	@echo
	@echo "results:    $(abspath $(DEMO))"
	@echo "HTML index: $(abspath $(DEMO))/index.html"
	@$(BIN)/sybilgraph casefile $(DEMO) top --out $(DEMO)/casefile.html --force

lint: dev
	$(BIN)/ruff check sybilgraph tests benchmarks
	$(BIN)/ruff format --check sybilgraph tests benchmarks

typecheck: dev
	$(BIN)/mypy

pytest: dev browser
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck pytest

bench: install
	$(BIN)/python benchmarks/run.py

lock:
	rm -rf /tmp/sybilgraph-lock && $(PYTHON) -m venv /tmp/sybilgraph-lock
	/tmp/sybilgraph-lock/bin/pip install --quiet .
	/tmp/sybilgraph-lock/bin/pip uninstall --quiet -y sybilgraph
	/tmp/sybilgraph-lock/bin/pip freeze > requirements.lock
	/tmp/sybilgraph-lock/bin/pip install --quiet ".[dev]"
	/tmp/sybilgraph-lock/bin/pip uninstall --quiet -y sybilgraph
	/tmp/sybilgraph-lock/bin/pip freeze > requirements-dev.lock

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
