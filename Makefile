# One set of targets for developers and CI (.ci/run calls `make test`).
#   make demo   set up the runtime and run the simulated district end to end
#   make test   set up runtime + dev + train extras, lint, and run every test
#   make test-fast   the same without the tests marked slow
#   make bench  run bench/*.py and write docs/benchmarks.md
#   make lint   ruff, mypy (strict on missions/, checked on vision/ and orchestrator/) and the import contracts

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

export MPLBACKEND := Agg
# Offline switches: nothing at run time may reach the internet.
export HF_HUB_OFFLINE := 1
export YOLO_OFFLINE := 1
# The dashboard's tests drive Debian's Chromium (DRONEPATROL_TEST_CHROMIUM); Playwright
# never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
LEAFLET := 1.9.4
SWAGGER_UI := 5.36.0
REDOC := 2.5.4
WEB_VENDOR := orchestrator/api/web/vendor/leaflet
DOCS_VENDOR := orchestrator/api/web/vendor/api-docs

.PHONY: demo test test-fast bench lint clean web-vendor

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.full: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[dev,train]'
	# MAVProxy's own dependency list pulls 1.3 GB (wx, opencv); headless it needs only
	# pymavlink and pyserial, which the dev extra brings.
	$(PIP) install --no-deps 'MAVProxy>=1.8.70'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(VENV)/bin/dronepatrol demo

lint: $(VENV)/.full
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy missions vision orchestrator
	$(VENV)/bin/lint-imports

test: $(VENV)/.full lint
	$(PY) -m pytest

test-fast: $(VENV)/.full
	$(PY) -m pytest -m "not slow"

bench: $(VENV)/.full
	$(PY) bench/run_all.py

# The dashboard's map library and the API docs' viewers (Swagger UI, ReDoc), from the npm registry into the repository (built assets
# are committed: nothing is fetched at run time or by make demo).
web-vendor:
	rm -rf .web-build && mkdir -p .web-build $(WEB_VENDOR)/images
	cd .web-build && npm pack --silent leaflet@$(LEAFLET) >/dev/null && tar xzf leaflet-$(LEAFLET).tgz
	cp .web-build/package/dist/leaflet.js .web-build/package/dist/leaflet.css .web-build/package/LICENSE $(WEB_VENDOR)/
	cp .web-build/package/dist/images/layers*.png $(WEB_VENDOR)/images/
	rm -rf .web-build/package && mkdir -p $(DOCS_VENDOR)
	cd .web-build && npm pack --silent swagger-ui-dist@$(SWAGGER_UI) >/dev/null && tar xzf swagger-ui-dist-$(SWAGGER_UI).tgz
	cp .web-build/package/swagger-ui-bundle.js .web-build/package/swagger-ui.css $(DOCS_VENDOR)/
	cp .web-build/package/LICENSE $(DOCS_VENDOR)/LICENSE.swagger-ui
	rm -rf .web-build/package
	cd .web-build && npm pack --silent redoc@$(REDOC) >/dev/null && tar xzf redoc-$(REDOC).tgz
	# The one thing ReDoc fetches from the internet is its "powered by" logo: pointed at nothing, it hides itself.
	sed 's#https://cdn.redoc.ly/redoc/logo-mini.svg#data:,#' .web-build/package/bundles/redoc.standalone.js > $(DOCS_VENDOR)/redoc.standalone.js
	cp .web-build/package/LICENSE $(DOCS_VENDOR)/LICENSE.redoc
	rm -rf .web-build

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
