# Set-up and everyday tasks. `make demo` installs everything and starts the main job;
# `make test` installs everything and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB ?= $(HOME)/.vnerteach/vnerteach.db

.PHONY: demo test test-fast install system-deps browser-deps pg-deps bench bench-web clean

RUNTIME := $(VENV)/.runtime

# The package and what it runs on (make demo); the test tools on top of it (make test). Every version
# is the one constraints.txt names, so an upstream release cannot change what CI installs overnight
# (refresh it with `pip freeze --exclude-editable > constraints.txt` after a deliberate upgrade).
install: $(STAMP) system-deps

# setuptools warns in a box, at every editable install, that the checkout's vnerteach/ folder is the package:
# PYTHONWARNINGS keeps it quiet.
$(RUNTIME): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(STAMP): $(RUNTIME)
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Debian's Tesseract for OCR of scanned pages: installed when missing and we are root,
# otherwise a clear message says what to install.
system-deps:
	@command -v tesseract >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null; \
	  else \
	    echo "vnerteach needs Tesseract for scanned pages: run 'sudo apt-get install tesseract-ocr' and try again." >&2; \
	    exit 1; \
	  fi; }

# The loop on sample receipts: six labelled ones train a first model in seconds, then ner.correct
# opens on the others with that model's fields pre-filled, least sure first, learning from each answer.
DEMO_DIR   ?= samples
DEMO_COUNT ?= 24
demo: $(RUNTIME) system-deps
	$(BIN)/python -m vnerteach.samples.receipts $(DEMO_DIR) --count $(DEMO_COUNT) --labelled 6
	@mkdir -p $(dir $(DEMO_DB))
	$(BIN)/vnerteach db-in receipts $(DEMO_DIR)/labelled.jsonl --db $(DEMO_DB)
	$(BIN)/vnerteach ner.batch-train receipts --output $(DEMO_DIR)/model --n-iter 20 --db $(DEMO_DB)
	$(BIN)/vnerteach ner.correct receipts $(DEMO_DIR)/model $(DEMO_DIR)/to-annotate \
	  --label COMPANY,ADDRESS,DATE,TOTAL --preprocess grayscale,deskew,binarize --db $(DEMO_DB)

# Debian's chromium for the browser tests (tests only): installed when missing and we are root;
# otherwise a message, and the browser tests skip (under CI=true they must run, so this fails).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: run 'sudo apt-get install chromium' (skipped without it)." >&2; \
	    [ -z "$$CI" ] || exit 1; \
	  fi; }

# Debian's PostgreSQL server for the store's tests on PostgreSQL: installed when missing and we are
# root. No service is used: the tests start a throwaway cluster of their own on a free port. Without
# it those tests skip (under CI=true they must run, so this fails).
pg-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "The PostgreSQL tests need Debian's postgresql: run 'sudo apt-get install postgresql' (skipped without it)." >&2; \
	    [ -z "$$CI" ] || exit 1; \
	  fi; }

# One pytest worker per core (pytest-xdist); a worker that is free takes tests queued for a busy one.
PYTEST := $(BIN)/python -m pytest -q -n auto --dist worksteal

test: install browser-deps pg-deps
	$(PYTEST)

# Everything but the slow tests (wheel install, processes, browser, teach). A test that takes over 60 s
# fails here (mark it slow), and the ten slowest are listed, so the loop stays fast.
test-fast: install
	$(PYTEST) -m "not slow" --durations=10 --timeout=60

# One benchmark: `make bench NAME=bench_predict ARGS=receipts` runs bench/NAME.py with the project's python
# (bench/README.md lists them; data from ../shared/data or $VNERTEACH_BENCH_DATA). Default: bench_db.
NAME ?= bench_db
ARGS ?=
bench: install
	$(BIN)/python bench/$(NAME).py $(ARGS)

bench-web: install browser-deps
	$(BIN)/python bench/bench_web.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
