# The two commands that matter: `make run` (serve on 127.0.0.1:8000) and `make test`.
# Both install what they need first; `make install` is idempotent and offline once done.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test lint format typecheck pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m realtime_stt.local.assets
	touch $(STAMP)

run: install
	$(PY) -m realtime_stt

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: install
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

typecheck: install
	$(VENV)/bin/mypy src tests bench

# Debian's Chromium for the browser test (a no-op when present; needs root or sudo otherwise).
system-deps:
	bash scripts/install-browser.sh

pytest: install system-deps
	$(VENV)/bin/pytest

test: lint typecheck pytest

bench: install
	$(PY) -m bench.local_streaming

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
