# Two commands on a fresh machine: `make demo` and `make test`. Each installs the pinned set into .venv.
SHELL := /bin/bash
export NO_MKDOCS_2_WARNING := 1
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9

.PHONY: install demo test lint typecheck unit docs bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q "uv==$(UV_VERSION)" 2>/dev/null || true
	@if [ -x $(VENV)/bin/uv ]; then \
		$(VENV)/bin/uv pip install -q -p $(PY) -c constraints.txt -e ".[dev,deployment]"; \
	else \
		$(PY) -m pip install -q -c constraints.txt -e ".[dev,deployment]"; \
	fi
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m example_dags.demo

test: lint typecheck docs unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

unit: $(STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP)
	@set -e; for f in bench/*.py; do echo "== $$f"; $(PY) $$f; done

# Re-pin after changing dependencies in pyproject.toml.
lock:
	uv pip compile pyproject.toml --all-extras --python-version 3.11 --no-header -o constraints.txt

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache
