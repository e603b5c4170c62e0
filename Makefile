# organized-gateway — every target installs what it needs first, and only once.
#   make demo   rehearse an event on the local stack (no Cloudflare account needed)
#   make test   every test suite: the Worker in workerd, then gateway_ops and the notebooks
#   make lint   ruff and mypy on gateway_ops, tests and bench (no stack); make test runs it beside test-worker
#   make test-fast  the Python tests that need no local stack, notebook kernel or browser, one process per core
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
# `make test REPORTS=test-artifacts/reports` (CI) also writes JUnit XML of both suites there and keeps
# pytest's temporary folders (executed notebooks, result.json files) under it; unset, nothing changes.
REPORTS ?=
ifneq ($(REPORTS),)
PYTEST_ARGS += --junitxml=$(REPORTS)/junit-python.xml --basetemp=$(REPORTS)/pytest-tmp
VITEST_ARGS += --reporter=default --reporter=junit --outputFile.junit=$(abspath $(REPORTS))/junit-worker.xml
endif

# Python may cache compiled modules (__pycache__/, git-ignored) while testing even where the shell
# sets PYTHONDONTWRITEBYTECODE: else every pytest process, xdist worker and subprocess compiles
# gateway_ops and re-does pytest's assertion rewriting of every test module (~5 s a process here).
test-fast test-python: export PYTHONDONTWRITEBYTECODE :=

.PHONY: demo lint test test-fast test-worker test-python up bench install chromium clean

# conda users: `make install chromium VENV="$CONDA_PREFIX"` (README, environment.yml) runs the same steps
# in the conda environment instead of creating .venv/.
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

chromium: $(CHROMIUM)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# lint and the Worker's tests side by side (mypy keeps one core busy; vitest mostly waits on workerd),
# each one's output printed whole when it ends (--output-sync); then pytest. 64 s instead of 113 s here.
test:
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint test-worker
	@$(MAKE) --no-print-directory test-python

# What they check and on which files: [tool.ruff] and [tool.mypy] in pyproject.toml. mypy keeps its
# cache in .mypy_cache/, so a second run only re-checks what changed.
lint: $(PIP_STAMP)
	$(VENV)/bin/ruff check gateway_ops tests bench
	$(VENV)/bin/mypy

test-worker: $(NPM_STAMP) $(WORKER_TYPES)
	cd worker && npx tsc --noEmit
	cd worker && npx vitest run $(VITEST_ARGS)

# pytest in PYTEST_WORKERS processes (README, Tests): the tests not marked serial in 2 pytest-xdist
# processes, each with its own local stack, a module's slow tests on one worker (tests/conftest.py),
# then the serial ones (they bound durations or memory) alone. PYTEST_WORKERS=0: all in one process.
# Each part ends with its slowest tests (--durations), where the time of `make test` goes.
PYTEST_WORKERS ?= 2
test-python: $(PIP_STAMP) $(NPM_STAMP) $(CHROMIUM)
	$(if $(REPORTS),mkdir -p $(REPORTS))
ifeq ($(PYTEST_WORKERS),0)
	$(PY) -m pytest $(PYTEST_ARGS)
else
	status=0; \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not serial" --durations=15 $(PYTEST_ARGS) || status=$$?; \
	$(PY) -m pytest -m serial --durations=10 $(subst junit-python,junit-python-serial,$(subst pytest-tmp,pytest-tmp-serial,$(PYTEST_ARGS))) || status=$$?; \
	exit $$status
endif

# The markers are set from the fixtures each test uses (tests/conftest.py, tests/slow_marks.py).
# pytest-xdist runs them in FAST_WORKERS processes (auto: one per core); FAST_WORKERS=0 runs them in one.
# Without nbval's plugin (only the notebook tests use it): loading it imports jsonschema's IRI grammar,
# ~2.5 s before xdist even starts its workers.
FAST_WORKERS ?= auto
test-fast: $(PIP_STAMP)
	$(PY) -m pytest -q -n $(FAST_WORKERS) --dist worksteal -p no:nbval -m "not stack and not notebook and not browser"

# `make demo UPSTREAM_URL=http://…` rehearses against an existing origin (GATEWAY_CLIENT_API_KEY set).
demo: install
	$(VENV)/bin/gateway-ops demo $(if $(UPSTREAM_URL),--upstream-url $(UPSTREAM_URL))

# The local stack and the live dashboard (http://127.0.0.1:8866/) in the background, JupyterLab in
# the foreground; Ctrl-C stops all three. JupyterLab stays offline and quiet: no news feed, no update
# check, and notebooks/.jupyterlab-settings/overrides.json answers "Never" to its news question (a
# pop-up that news_url=None alone does not stop) and starts the notebook's Python kernel without a
# "Select Kernel" dialog. tests/dashboards/test_jupyterlab.py runs JupyterLab with these flags.
up: install
	@trap 'kill -TERM $$STACK $$DASH 2>/dev/null; wait $$STACK $$DASH' EXIT; \
	$(VENV)/bin/gateway-ops up & STACK=$$!; \
	$(VENV)/bin/gateway-ops dashboard --port 8866 & DASH=$$!; \
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --allow-root --notebook-dir=notebooks \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  --LabApp.app_settings_dir=notebooks/.jupyterlab-settings

bench: install
	$(PY) bench/worker_bench.py
	$(PY) bench/loadtest_bench.py
	$(PY) bench/dashboard_bench.py

# .venv by name, never $(VENV): that may be a conda environment.
clean:
	rm -rf .venv worker/node_modules worker/.wrangler $(WORKER_TYPES)
