# Two commands do all the set-up on a fresh machine that has python3 and make:
#   make report   # demo bot database and its transcripts -> sync -> weekly report
#                 # (or BOT_DB=path/to/agentlab.db [SOURCE_TZ=zone] [TRANSCRIPTS=~/.claude] make report)
#   make test     # the whole test suite (installs Debian's Chromium and the ccusage referee first when it can,
#                 # else says what to install)
# and:
#   make test-fast  # without the slow and the browser tests
#   make lint       # ruff and mypy (configured in pyproject.toml)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUILD  := build
BOT_DB ?=
SOURCE_TZ ?=
TRANSCRIPTS ?=

.PHONY: install report test test-fast system-deps bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(BIN)/python -m amiga_analytics.pipeline --build-dir $(BUILD) $(if $(BOT_DB),--bot-db "$(BOT_DB)") $(if $(SOURCE_TZ),--source-tz "$(SOURCE_TZ)") $(foreach t,$(TRANSCRIPTS),--transcripts "$(t)")

# What pip cannot install (Chromium, fonts: scripts/ensure-system-deps; the ccusage referee from npm:
# scripts/ensure-ccusage): checked first, so that a missing piece stops make at once.
system-deps:
	@scripts/ensure-system-deps
	@scripts/ensure-ccusage >/dev/null

test: system-deps $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

clean:
	rm -rf $(BUILD) .pytest_cache
