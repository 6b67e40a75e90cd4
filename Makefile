# The commands the README names. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test test-sqlite test-postgres lint format bench system-deps install messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	$(BIN)/opiekun warmup
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## Start Opiekun on SQLite with demo data at http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/opiekun migrate --noinput -v 0
	$(BIN)/opiekun demo --if-empty
	$(BIN)/opiekun run

## Install what the tests need (apt as root) and run the whole suite on SQLite and PostgreSQL
test: $(STAMP) system-deps
	scripts/test.sh

test-sqlite: $(STAMP)
	$(BIN)/pytest -q

test-postgres: $(STAMP)
	scripts/with-postgres.sh $(BIN)/pytest -q -m "not browser"

system-deps:
	scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## Benchmarks (figures printed as JSON); see bench/README.md
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

messages: $(STAMP)
	cd src/opiekun && ../../$(BIN)/opiekun makemessages -l pl -l ru --no-obsolete && ../../$(BIN)/opiekun compilemessages

clean:
	rm -rf $(VENV) var
