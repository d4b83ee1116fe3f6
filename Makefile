# Set-up and everyday tasks. `make demo` installs everything and starts the main job;
# `make test` installs everything and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB ?= $(HOME)/.vnerteach/vnerteach.db

.PHONY: demo test install system-deps bench clean

install: $(STAMP) system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
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

demo: install
	$(BIN)/vnerteach db-in demo vnerteach/samples/news.jsonl --db $(DEMO_DB)
	$(BIN)/vnerteach stats --db $(DEMO_DB)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_db.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
