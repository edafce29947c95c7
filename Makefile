# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install the pinned dependencies (requirements*.lock) first.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test bench install install-test clean

$(VENV)/.base: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) -r requirements.lock
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.base requirements-test.lock requirements-spark.lock tests/web/package-lock.json
	$(PIP) -r requirements-test.lock -r requirements-spark.lock
	npm ci --prefix tests/web --no-audit --no-fund  # axe-core for the web tests' accessibility check
	touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test

demo: $(VENV)/.base
	$(VENV)/bin/ersattning demo

test: $(VENV)/.test
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(VENV)/bin/ruff check --select F --output-format concise src tests
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=25

bench: $(VENV)/.base
	$(VENV)/bin/ersattning bench --json out/bench.json

clean:
	rm -rf $(VENV) out .cache
