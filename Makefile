# The two commands that matter: `make run` (serve on 127.0.0.1:8000) and `make test`.
# Both install what they need first; `make install` is idempotent and offline once done.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lock install-check system-deps run test test-fast lint format typecheck pytest bench clean jsinstall jsbuild jstest

# The browser client (clients/js): its built client.js and pcm-worklet.js are committed in
# src/realtime_stt/static/, so `make run` needs no Node; the tests need Node and npm.
JS := clients/js
NPM_STAMP := $(JS)/node_modules/.installed

install: $(STAMP)

# The locked, hash-checked dependencies of everything (runtime, the local engine, dev tools), then
# the project itself without resolving again. tests/test_lock_files.py fails when pyproject.toml
# asks for more than the locks hold (run `make lock`).
$(STAMP): pyproject.toml requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	$(PY) -m realtime_stt.local.assets
	touch $(STAMP)

# Refresh the lock files from pyproject.toml: requirements-dev.txt (everything: `make install`),
# requirements-local.txt (runtime + the local engine) and requirements.txt (the slim runtime),
# the last two held to the first's versions. Pins that still fit are kept; UPGRADE=1 takes the
# newest that fit instead.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-options

$(VENV)/bin/pip-compile:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt

lock: $(VENV)/bin/pip-compile
	$(PIP_COMPILE) $(if $(UPGRADE),--upgrade) --extra dev --extra local \
		-o requirements-dev.txt pyproject.toml
	$(PIP_COMPILE) --extra local -c requirements-dev.txt -o requirements-local.txt pyproject.toml
	$(PIP_COMPILE) -c requirements-dev.txt -o requirements.txt pyproject.toml

# The slim and full installs from their lock files in fresh venvs: the slim one serves the OpenAI
# engine (against the fake) and refuses ENGINE=local by naming the extra; sizes and idle RSS.
# Needs the package registry; not part of `make test`.
install-check: install
	$(PY) -m bench.install_footprint

# `make run WORKERS=N` serves N worker processes on HOST:PORT (each loads its own model; see the
# README's "Deployment: several instances"); without it, WORKERS comes from .env (default 1).
run: install
	$(if $(WORKERS),WORKERS=$(WORKERS) )$(PY) -m realtime_stt

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: install
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

typecheck: install
	$(VENV)/bin/mypy src tests bench

$(NPM_STAMP): $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

jsinstall: $(NPM_STAMP)

# Rebuild the served client into src/realtime_stt/static/ after changing clients/js/src (commit it).
jsbuild: jsinstall
	cd $(JS) && npm run build:served

# Types, the unit tests (vitest), and that the committed build matches the sources.
jstest: jsinstall
	cd $(JS) && npm run typecheck && npm test

# Debian's Chromium for the browser test (a no-op when present; needs root or sudo otherwise).
system-deps:
	bash scripts/install-browser.sh
	bash scripts/install-redis.sh

# Both tiers (the fast one on the scripted engine, the `model` one on the real Whisper model), with
# the line coverage of src/realtime_stt in the terminal. `make test-fast` runs the fast tier alone.
pytest: install system-deps jsinstall
	$(VENV)/bin/pytest --cov --cov-report=term

test: lint typecheck jstest pytest

test-fast: install system-deps
	$(VENV)/bin/pytest -m "not model"

bench: install
	$(PY) -m bench.local_streaming --streams 1,2,4
	$(PY) -m bench.local_wer
	$(PY) -m bench.local_windows
	$(PY) -m bench.openai_proxy latency --streams 50,100 --seconds 20

# Both Docker image variants built with buildah (no Docker engine or image registry needed), each
# run with a file streamed through it; prints build times and image sizes (README: "Docker
# images"). Needs root and Debian's buildah and debootstrap; heavy, so not part of `make test`.
.PHONY: image-check
image-check: install
	bash scripts/image-check.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(JS)/node_modules $(JS)/dist
