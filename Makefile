# openlora: the README's two commands, and the pieces they are made of.
#   make serve   install what is missing, build, fetch the default model, run the main job
#   make test    install what is missing, build, and run every test (unit, golden, real model,
#                sanitizers, fuzzing, formatting)
.PHONY: serve test deps model build build-asan build-tsan test-unit test-asan test-tsan fuzz format-check format clean

BUILD      ?= build
BUILD_ASAN ?= build-fuzz
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc)
HOST       ?= 127.0.0.1
PORT       ?= 8080

# the OpenAI-compatible server with the four demo adapters (Ctrl-C drains and stops it)
serve: deps build model
	./$(BUILD)/openlora serve --host $(HOST) --port $(PORT) --adapters-dir adapters

test: deps build model test-unit test-asan test-tsan fuzz format-check
	@echo "make test: all passed"

deps:
	scripts/install_deps.sh

model:
	scripts/fetch_model.sh >/dev/null

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DOL_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# ASan+UBSan with clang, in the same build the fuzz targets use (one build serves both)
build-asan:
	CC=clang cmake -S . -B $(BUILD_ASAN) -DOL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DOL_SANITIZE=address -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
	cmake --build $(BUILD_ASAN) -j$(JOBS)

TSAN_TESTS = test_base test_ops test_kv test_model_golden test_engine test_adapter_cache test_ledger
build-tsan:
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOL_SANITIZE=thread -DOL_WERROR=ON >/dev/null
	cmake --build $(BUILD_TSAN) -j$(JOBS) --target $(TSAN_TESTS)

test-unit: build model
	OL_REQUIRE_MODEL=1 OL_REQUIRE_PG=1 ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# the ledger's end-to-end suites (minutes of kill -9 and restarts) run in the release build only;
# under ASan the ledger runs in every other server suite and in its unit tests
test-asan: build-asan model
	OL_REQUIRE_MODEL=1 OL_REQUIRE_PG=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(BUILD_ASAN) --output-on-failure -j$(JOBS) -E '^e2e/test_ledger_'

# threaded code (worker pool, parallel kernels, attention) under ThreadSanitizer
test-tsan: build-tsan
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(BUILD_TSAN) --output-on-failure \
		-R '/($(shell echo $(TSAN_TESTS) | tr ' ' '|'))$$'

fuzz: build-asan
	tests/fuzz/run_fuzz.sh 15

format-check:
	@files=$$(git ls-files '*.c' '*.h'); \
	if ! clang-format --dry-run -Werror $$files; then \
		echo "format-check: run 'make format'"; exit 1; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)
