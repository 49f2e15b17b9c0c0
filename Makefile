# One command each: run, test, lint, typecheck, protos, bench.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck protos check-protos unit test-postgres test-embedded bench-registry clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Start every service and the gateway on the embedded default (SQLite + embedded Redis).
run: $(STAMP)
	$(BIN)/credit run

## Lint, type-check, check generated code, then the whole suite on PostgreSQL/Redis and on the embedded default.
test: $(STAMP) lint typecheck check-protos test-postgres test-embedded

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

check-protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

test-postgres: $(STAMP)
	CREDIT_TEST_BACKEND=postgres $(BIN)/pytest -q

test-embedded: $(STAMP)
	CREDIT_TEST_BACKEND=embedded $(BIN)/pytest -q

bench-registry: $(STAMP)
	$(BIN)/python -m bench.registry

clean:
	rm -rf $(VENV) var
