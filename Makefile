# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers pytest proto docs web web-types web-check fuzz crash bench bench-quick clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pm serve

test: $(STAMP) lint typecheck layers web-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# The suite runs in parallel processes: much of its time is spent waiting on servers and
# sockets, so four workers keep two cores busy (three left 0.4 of a core idle on average: the
# suite took 164 s with three against 153 s with four). Every server a test starts listens on
# a port the system picks (tests/serve_process.py), so parallel tests never share one.
PYTEST_WORKERS ?= 4
# Every worker, server and CLI process the suite starts compiles the project's modules (and
# rewrites the tests' asserts) again unless bytecode is cached: a machine that sets
# PYTHONDONTWRITEBYTECODE would spend about a tenth of the suite's CPU doing that.
pytest: export PYTHONDONTWRITEBYTECODE :=
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
	@if command -v node >/dev/null 2>&1; then $(MAKE) web; \
	else echo "*** web/sdk/gen and the board bundle NOT regenerated: Node.js is not installed ***" >&2; fi

# The doc tables generated from the schema, the export tables and the CLI's parsers.
docs: $(STAMP)
	$(BIN)/python -m tools.docs .

# The browser side (web/, docs/web.md). Running pm never needs Node; building and checking
# web/ does. npm writes node_modules/.package-lock.json on every install, so it marks one
# done from the lock file.
WEB_MODULES := web/node_modules/.package-lock.json
$(WEB_MODULES): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

# TypeScript types from proto/, by protoc-gen-es through the venv's protoc (the same protoc
# as the Python bindings), and the SDK's command table (tools/web_commands.py);
# tests/web/test_web_generated.py fails while they are stale.
web-types: $(STAMP) $(WEB_MODULES)
	rm -rf web/sdk/gen && mkdir -p web/sdk/gen
	$(BIN)/python -m grpc_tools.protoc -Iproto \
		--plugin=protoc-gen-es=web/node_modules/.bin/protoc-gen-es \
		--es_out=web/sdk/gen --es_opt=target=ts,import_extension=js proto/pm_proto/v1/*.proto
	$(BIN)/python -m tools.web_commands web/sdk/gen

# The board's bundle is committed (pm_server/static), so `make run` needs no Node;
# tests/web/test_bundle.py fails while it differs from a fresh build.
web: web-types
	cd web && npm run check && npm run build

# Part of `make test`: without Node it says so loudly and goes on, but CI must have it.
web-check:
	@if command -v node >/dev/null 2>&1; then $(MAKE) -s $(WEB_MODULES) && cd web && npm run --silent check; \
	else echo "*** SKIPPED: the web checks (tsc, eslint, web tests) need Node.js, which is not installed ***" >&2; \
		if [ "$$CI" = "true" ]; then echo "CI=true: Node.js is required" >&2; exit 1; fi; fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
