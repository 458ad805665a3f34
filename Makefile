# percloss — build the book and run the tests.
#   make book   create .venv if needed, install, build the site (PERCLOSS_MODE=standard by default)
#   make test   create/reuse .venv, run ruff, mypy and pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PERCLOSS_MODE ?= standard
export PERCLOSS_MODE
# progress bars belong in a terminal, not in the pages of the built book
book: export TQDM_DISABLE = 1

.PHONY: venv book test lint typecheck pytest bench clean clips vendor-js

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[book,dev]'
	touch $@

venv: $(BIN)/.installed

book: venv
	bash scripts/book_cache_key.sh _build
	time $(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book ($(PERCLOSS_MODE) mode) is at $(CURDIR)/_build/html/index.html"

lint: venv
	$(BIN)/ruff check percloss tests benchmarks scripts notebooks

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest

test: lint typecheck pytest

bench: venv
	PERCLOSS_MODE=quick $(BIN)/python benchmarks/bench_perceptual_loss.py
	$(BIN)/python benchmarks/bench_masking.py

clips:
	bash scripts/build_clips.sh

vendor-js:
	bash scripts/vendor_js.sh

clean:
	rm -rf _build .pytest_cache .mypy_cache .ruff_cache
