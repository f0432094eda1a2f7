# One command each: `make demo` (set up, then scan the bundled sample) and `make test`.
VENV ?= .venv
export LIVEGUARD_CACHE ?= $(CURDIR)/.cache/liveguard

.PHONY: setup test test-fast demo bench

setup:
	@VENV=$(VENV) ./scripts/setup.sh

test: setup
	$(VENV)/bin/python -m pytest

test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow"

demo: setup
	$(VENV)/bin/liveguard scan samples/ --out demo-report.jsonl --db sqlite:///.cache/demo.sqlite

bench: setup
	$(VENV)/bin/liveguard bench asr
