# SPDX-License-Identifier: MIT
# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

.PHONY: all deps deps-test build run test test-asan fuzz crashloop soak clean

all: build

deps:
	@bash scripts/install-deps.sh

deps-test:
	@bash scripts/install-deps.sh test

# Warnings are errors for the tests and CI (WERROR=ON), not for a build that only runs hitl.
WERROR ?= OFF
test test-asan: WERROR = ON

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHITL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@BUILD=$(BUILD) bash scripts/run.sh

test: deps-test build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps-test
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHITL_SANITIZE=ON -DHITL_WERROR=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j$(JOBS)

# libFuzzer on every parser of client input (tests/fuzz/), FUZZ_SECONDS each, with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer. New inputs go to build-fuzz/corpus/<name>, crashes
# to build-fuzz/artifacts/<name>/; the committed corpus tests/fuzz/corpus/<name> is only read.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= policy queue_config answers task http_path time

fuzz:
	@bash scripts/install-deps.sh fuzz
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHITL_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t build-fuzz/artifacts/$$t && \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s" && \
	  build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    -dict=tests/fuzz/hitl.dict -artifact_prefix=build-fuzz/artifacts/$$t/ \
	    build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# The crash loop at full length: CRASHLOOP_ROUNDS SIGKILLs under mixed load, each followed by a
# restart and the checks of tests/api/test_crashloop.c (`make test` runs 5). See bench/README.md.
CRASHLOOP_ROUNDS ?= 50

crashloop: deps-test build
	@HITL_BIN=$(BUILD)/hitl HITL_CRASHLOOP_ROUNDS=$(CRASHLOOP_ROUNDS) $(BUILD)/test_crashloop

# Mixed load for SOAK_SECONDS against a fresh server, reporting its memory and latency over time
# (bench/soak.c; bench/README.md keeps a 10-minute result).
SOAK_SECONDS ?= 600

soak: build
	@$(BUILD)/bench_soak --bin $(BUILD)/hitl --duration $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
