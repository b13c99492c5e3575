# gatewatch — two commands do everything on a fresh Debian 12 machine:
#   make demo   set up what is missing, build, run RTSP server + admin API + edge agent
#   make test   set up what is missing, build, lint, run the whole test suite
#   make test-fast  unit tests only (no setup needed), well under a minute once built
#   make bench  set up what is missing, build, measure; report in benches/results/
#   make soak   the long tests: fuzzing at a million cases per target, 5 minutes of load
#   make quantise  make and check the int8 recogniser (models/quantise.py; not in setup)
.PHONY: setup models fixtures quantise build lint test test-fast demo bench soak clean-fixtures

CARGO ?= cargo

setup:
	@scripts/setup.sh all

models:
	@scripts/setup.sh models

fixtures:
	@scripts/setup.sh fixtures

quantise: setup
	.venv/bin/python models/quantise.py

build: setup
	$(CARGO) build --release --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

test: build lint
	$(CARGO) test --release --workspace

# Unit tests only: no models, fixtures, PostgreSQL or browser (a fresh clone
# with nothing set up runs them); for the edit-compile-test loop.
test-fast:
	$(CARGO) test --release --workspace --lib --bins

demo: build
	@scripts/demo.sh

soak: build
	FUZZ_CASES=1000000 $(CARGO) test --release --workspace fuzz
	target/release/gatewatch-bench load --load-seconds 300

# One cargo invocation for the binaries and the criterion bench: one feature
# resolution, so nothing is compiled twice.
bench: setup
	.venv/bin/python fixtures/generate.py --bench
	$(CARGO) build --release --workspace --bins --bench gallery_search
	target/release/gatewatch-bench all

clean-fixtures:
	rm -rf fixtures/s[0-9][0-9]_*/ fixtures/tune_*/ fixtures/test_*/
