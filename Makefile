# Hemiscope: every target installs what it needs, so each one works on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
export DEBUG ?= true
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test lint bench bench-scale bench-ingest-scale bench-tip bench-reports schemathesis fuzz faults clean services-shell

# requirements.txt is what production imports; requirements-dev.txt adds tests, linters and the
# embedded servers. Every target here is a development target, so it installs both.
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3-venv missing: installing it with apt-get"; \
	  apt-get update -q && apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

# Python packages, then node packages and compiled devnet contracts (both skipped when current).
setup: $(STAMP)
	@command -v npm >/dev/null || { echo "npm missing: installing nodejs with apt-get"; \
	  apt-get update -q && apt-get install -y -q nodejs npm; }
	@# The browser tests drive Debian's Chromium (Playwright's own download cannot reach its host).
	@test -x /usr/bin/chromium || { echo "chromium missing: installing it with apt-get"; \
	  apt-get update -q && apt-get install -y -q chromium; }
	@# PDF audit reports: WeasyPrint's system libraries (Pango, fonts); the report tests turn
	@# PDFs into text and images with poppler's pdftotext and pdftoppm.
	@{ ldconfig -p | grep -q libpangoft2-1.0.so.0 && fc-list | grep -q DejaVu; } || { \
	  echo "WeasyPrint's libraries missing: installing them with apt-get"; apt-get update -q && \
	  apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; }
	@command -v pdftoppm >/dev/null || { echo "poppler-utils missing: installing it with apt-get"; \
	  apt-get update -q && apt-get install -y -q poppler-utils; }
	@# The PgBouncer test (tests/scale/test_pgbouncer.py) runs Debian's PgBouncer 1.18.
	@test -x /usr/sbin/pgbouncer || { echo "pgbouncer missing: installing it with apt-get"; \
	  apt-get update -q && apt-get install -y -q pgbouncer; }
	$(PY) -m devnet.build
	@# Third-party API clients the compatibility tests drive (mempool.js); node_modules is ignored.
	@test tests/clients/node_modules/.stamp -nt tests/clients/package-lock.json || { \
	  npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error && touch tests/clients/node_modules/.stamp; }

# The local network, indexers, workers and web app; prints the explorer URL. Ctrl-C stops all.
demo: setup
	$(PY) -m hemiscope.services run -- $(PY) manage.py demo

test: setup
	$(PY) -m hemiscope.services run -- $(PY) -m pytest $(PYTEST_ARGS)

# schemathesis against the live API on devnet data, long: 1000 cases per operation, up to 15 min.
# (`make test` runs the same test bounded to about 45 s.)
schemathesis: setup
	HEMISCOPE_FUZZ_EXAMPLES=$${HEMISCOPE_FUZZ_EXAMPLES:-1000} HEMISCOPE_SCHEMATHESIS_SECONDS=$${HEMISCOPE_SCHEMATHESIS_SECONDS:-900} \
	  $(PY) -m hemiscope.services run -- $(PY) -m pytest tests/provenance_e2e/test_api_schemathesis.py -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

# Every @pytest.mark.fuzz target fed FUZZ_EXAMPLES random inputs (make test runs 200 each through
# hypothesis's engine). A target fails past FUZZ_SECONDS or below FUZZ_EXAMPLES cases; the run
# ends with a table of cases per target (tests/fuzzing.py). FUZZ_SEED=N repeats a run.
FUZZ_EXAMPLES ?= 100000
FUZZ_SECONDS ?= 1800
FUZZ_SEED ?=
fuzz: setup
	HEMISCOPE_FUZZ_DRIVER=bytes HEMISCOPE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) HEMISCOPE_FUZZ_MIN_CASES=$(FUZZ_EXAMPLES) \
	HEMISCOPE_FUZZ_SECONDS=$(FUZZ_SECONDS) HEMISCOPE_FUZZ_SEED=$(FUZZ_SEED) \
	$(PY) -m hemiscope.services run -- $(PY) -m pytest -m fuzz -q -p no:cacheprovider $(PYTEST_ARGS)

# The fault suite on the real nodes (tests marked faults), long: each fault strikes FAULT_ROUNDS
# times over syncs of FAULT_BLOCKS new blocks. make test runs the same tests once on 60 blocks.
FAULT_ROUNDS ?= 3
FAULT_BLOCKS ?= 400
faults: setup
	HEMISCOPE_FAULT_ROUNDS=$(FAULT_ROUNDS) HEMISCOPE_FAULT_BLOCKS=$(FAULT_BLOCKS) \
	  $(PY) -m hemiscope.services run -- $(PY) -m pytest -m faults -q -p no:cacheprovider --durations=20 $(PYTEST_ARGS)

bench: setup
	$(PY) -m hemiscope.services run -- $(PY) benchmarks/run_all.py

# Every page and API endpoint under a fixed arrival rate on a synthetic chain (make_synthetic),
# served by gunicorn with production settings; rewrites its section of BENCHMARKS.md. Not part
# of `make test` or CI. SCALE=small (100k blocks, a few minutes) | 1m; RATE req/s; DURATION s;
# EXPLAIN=1 also EXPLAINs every query of every endpoint.
SCALE ?= small
bench-scale: setup
	SCALE=$(SCALE) RATE=$(RATE) DURATION=$(DURATION) EXPLAIN=$(EXPLAIN) BUILD_ONLY=$(BUILD_ONLY) \
	  $(PY) -m hemiscope.services run -- $(PY) benchmarks/scale/run.py

# Hemi ingest against ethereum-etl and the raw RPC fetch with the SCALE database (bench-scale's;
# build it first with BUILD_ONLY=1) already stored, anvil grafted onto it (devnet/graft.py); then
# Bitcoin decode vs python-bitcoinlib in the same session. Rewrites its BENCHMARKS.md section.
# Not part of `make test` or CI.
bench-ingest-scale: setup
	SCALE=$(SCALE) $(PY) -m hemiscope.services run -- $(PY) benchmarks/scale/ingest.py

# Tip latency (new block on anvil -> its page) and the stored-verdict refresh per new Hemi and
# Bitcoin block, with the real Celery worker + beat, under bench-scale's page load (RATE req/s)
# on the SCALE database. TIP_BLOCKS new Hemi blocks, one every 4 s. Not part of `make test` or CI.
TIP_BLOCKS ?= 30
bench-tip: setup
	SCALE=$(SCALE) RATE=$(RATE) TIP_BLOCKS=$(TIP_BLOCKS) \
	  $(PY) -m hemiscope.services run -- $(PY) benchmarks/scale/tip_latency.py

# The audit report export alone: a 100 000-mint token report as CSV and JSON, time and peak memory
# (BENCH_MINTS=10000 for a quicker look).
BENCH_MINTS ?= 100000
bench-reports: setup
	$(PY) -m hemiscope.services run -- $(PY) benchmarks/bench_reports.py --mints $(BENCH_MINTS)

clean:
	rm -rf var/
