# Two commands: `make demo` and `make test`. Both set up everything they need first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-test demo test lint bench clean

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

demo: setup
	scripts/demo.sh

test: setup-test
	scripts/test.sh

lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: setup-test
	$(PY) benchmarks/backup_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .cache
