# One command each: `make demo` (set up, then scan the bundled sample) and `make test`.
VENV ?= .venv
export LIVEGUARD_CACHE ?= $(CURDIR)/.cache/liveguard

.PHONY: setup test test-fast demo bench

setup:
	@VENV=$(VENV) ./scripts/setup.sh

# Two workers (pytest-xdist) for most tests; the realtime ones (live servers and monitors held to
# wall-clock deadlines) then run alone, as a second worker beside them on 2 cores made them miss.
test: setup
	$(VENV)/bin/python -m pytest -n 2 --dist worksteal -m "not realtime"
	$(VENV)/bin/python -m pytest -m realtime

test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow"

demo: setup
	$(VENV)/bin/liveguard scan samples/ --out demo-report.jsonl --db sqlite:///.cache/demo.sqlite

bench: setup
	$(VENV)/bin/liveguard bench asr
