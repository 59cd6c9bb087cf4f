# One place for set-up: `make run` and `make test` create the venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast index gate bench lint clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first: any other request pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium package for the browser tests"; fi; }

run: $(STAMP)
	$(BIN)/assistant chat

index: $(STAMP)
	$(BIN)/assistant index

test: $(STAMP) browser
	$(PY) -m pytest -q --durations=12

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser"

# The regression gate on the project's reference set (also run by .ci/run).
gate: $(STAMP)
	$(BIN)/assistant index
	$(BIN)/assistant eval --set eval/sets/seed-background-note.jsonl --baseline eval/baseline.json \
		--report eval/out/report.md --json eval/out/run.json

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf index .cache
