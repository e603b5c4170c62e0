# organized-gateway — every target installs what it needs first, and only once.
#   make demo   rehearse an event on the local stack (no Cloudflare account needed)
#   make test   every test suite: the Worker in workerd, then gateway_ops and the notebooks
#   make test-fast  the Python tests that need no local stack, notebook kernel or browser (< 1 min)
#   make up     local stack + JupyterLab on the notebooks
#   make bench  benchmarks (ratios measured side by side)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NPM_STAMP := worker/node_modules/.installed
# Generated, not committed (README, "The Worker"): `npm ci` writes it, and it is remade whenever
# wrangler.toml changes, so tsc never checks against bindings that are no longer there.
WORKER_TYPES := worker/worker-configuration.d.ts
# Debian's Chromium for the dashboard's browser test (Playwright cannot download a browser here).
CHROMIUM := /usr/bin/chromium
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_SEND_METRICS := false
export WRANGLER_LOG_SANITIZE := true

.PHONY: demo test test-fast test-worker test-python up bench install clean

install: $(PIP_STAMP) $(NPM_STAMP) $(WORKER_TYPES)

$(PIP_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import gateway_ops, pytest, papermill"
	touch $@

$(NPM_STAMP): worker/package-lock.json worker/package.json
	cd worker && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# npm ci's postinstall already wrote it; this rule only runs when wrangler.toml is newer (or the
# file is missing, e.g. after `npm ci --ignore-scripts`).
$(WORKER_TYPES): worker/wrangler.toml | $(NPM_STAMP)
	cd worker && WRANGLER_LOG=error npm run --silent cf-typegen

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: test-worker test-python

test-worker: $(NPM_STAMP) $(WORKER_TYPES)
	cd worker && npx tsc --noEmit
	cd worker && npx vitest run

test-python: $(PIP_STAMP) $(NPM_STAMP) $(CHROMIUM)
	$(PY) -m pytest

# The markers are set from the fixtures each test uses (tests/conftest.py, tests/slow_marks.py).
test-fast: $(PIP_STAMP)
	$(PY) -m pytest -q -m "not stack and not notebook and not browser"

# `make demo UPSTREAM_URL=http://…` rehearses against an existing origin (GATEWAY_CLIENT_API_KEY set).
demo: install
	$(VENV)/bin/gateway-ops demo $(if $(UPSTREAM_URL),--upstream-url $(UPSTREAM_URL))

# The local stack and the live dashboard (http://127.0.0.1:8866/) in the background, JupyterLab in
# the foreground; Ctrl-C stops all three.
up: install
	@trap 'kill -TERM $$STACK $$DASH 2>/dev/null; wait $$STACK $$DASH' EXIT; \
	$(VENV)/bin/gateway-ops up & STACK=$$!; \
	$(VENV)/bin/gateway-ops dashboard --port 8866 & DASH=$$!; \
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --allow-root --notebook-dir=notebooks \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

bench: install
	$(PY) bench/worker_bench.py
	$(PY) bench/loadtest_bench.py
	$(PY) bench/dashboard_bench.py

clean:
	rm -rf $(VENV) worker/node_modules worker/.wrangler $(WORKER_TYPES)
