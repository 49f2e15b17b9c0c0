# One command each: run, test, lint, typecheck, protos, bench.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck protos check-protos unit test-postgres test-embedded bench-registry bench-objections bench-gateway bench-report clean

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
test: $(STAMP) lint typecheck check-protos check-proto-compat
	$(MAKE) --no-print-directory -j2 --output-sync=target test-postgres test-embedded

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

bench-objections: $(STAMP)
	$(BIN)/python -m bench.objections

bench-gateway: $(STAMP)
	$(BIN)/python -m bench.gateway

bench-report: $(STAMP)
	$(BIN)/python -m bench.report

clean:
	rm -rf $(VENV) var

# Proto compatibility with the released contract (protos/compat/baseline.binpb), checked by
# scripts/check_proto_compat.py and by `buf breaking` (buf from the npm registry, pinned).
.PHONY: check-proto-compat update-proto-baseline settings-table k8s-render
BUF_VERSION := 1.75.0
BUF := $(VENV)/buf/node_modules/.bin/buf

$(BUF):
	npm install --prefix $(VENV)/buf --no-audit --no-fund --silent @bufbuild/buf@$(BUF_VERSION)

check-proto-compat: $(STAMP) $(BUF)
	$(BIN)/python scripts/check_proto_compat.py --buf $(BUF)

## After tagging a released contract (git tag contract-N): make update-proto-baseline REF=contract-N
update-proto-baseline: $(STAMP)
	$(BIN)/python scripts/check_proto_compat.py --update $(if $(REF),--ref $(REF))

## Rewrites the settings table of docs/operations.md from the settings classes.
settings-table: $(STAMP)
	$(BIN)/python scripts/settings_table.py --write

## Renders both kustomize overlays (needs kubectl) to check they build.
k8s-render:
	kubectl kustomize deploy/k8s/overlays/local > /dev/null
	kubectl kustomize deploy/k8s/overlays/production > /dev/null

bench-records: $(STAMP)
	$(BIN)/python -m bench.records

bench-lists: $(STAMP)
	$(BIN)/python -m bench.lists
