# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers pytest proto docs fuzz crash bench bench-quick clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pm serve

test: $(STAMP) lint typecheck layers pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# The suite runs in parallel processes: most of its time is spent waiting on servers and
# sockets, so three workers keep two cores busy. Every server a test starts listens on a port
# the system picks (tests/serve_process.py), so parallel tests never share one.
PYTEST_WORKERS ?= 3
pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

fuzz: $(STAMP)
	PM_FUZZ_FRAMES=100000 $(BIN)/pytest -q -o timeout=3600 tests/pm_server/test_fuzz_functional.py

crash: $(STAMP)
	PM_CRASH_CYCLES=50 $(BIN)/pytest -q -o timeout=3600 tests/pm_server/test_crash_functional.py

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

proto: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/python -m grpc_tools.protoc -Iproto \
		--python_out=. --mypy_out=. proto/pm_proto/v1/*.proto
	cp proto/pm_proto/v1/*.proto pm_proto/v1/
	$(BIN)/python -m pm_proto.fields_lock .
	$(BIN)/python -m pm_client.codegen .
	$(MAKE) docs

# The doc tables generated from the schema, the export tables and the CLI's parsers.
docs: $(STAMP)
	$(BIN)/python -m tools.docs .

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
