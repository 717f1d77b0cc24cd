# librnn build. `make` builds the libraries, the rnn tool and the examples; `make test` runs every
# test; `make demo` trains the airline forecaster. Missing Debian packages are installed first
# (scripts/deps.sh). BLAS=none builds the portable core without a CBLAS. KERAS_IO=none builds
# without the Keras model files (libhdf5, libzip, cJSON): rnn_load/rnn_save then say so.

CC      ?= cc
PREFIX  ?= /usr/local
BLAS    ?= openblas
BUILD   ?= build
CFLAGS  ?= -O2 -g
LDFLAGS ?=
WARN    := -Wall -Wextra -Wshadow
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -fPIC -Iinclude -Isrc
LDLIBS  := -lm -lpthread

ifeq ($(BLAS),openblas)
  ALL_CFLAGS += -DRNN_USE_CBLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread
  LDLIBS     := -lopenblas $(LDLIBS)
  PC_LIBS    := -lopenblas
endif

# Keras .keras/.h5 files (src/io/keras_*.c): on when pkg-config finds libhdf5, libzip and
# libcjson (KERAS_IO=auto, the default; scripts/deps.sh installs them), off with KERAS_IO=none.
KERAS_IO ?= auto
KERAS_IO_ASKED := $(KERAS_IO)
KERAS_PKGS := hdf5 libzip libcjson
ifeq ($(KERAS_IO),auto)
  KERAS_IO := $(shell pkg-config --exists $(KERAS_PKGS) 2>/dev/null && echo yes || echo none)
endif
ifneq ($(KERAS_IO),none)
  ALL_CFLAGS += -DRNN_WITH_KERAS_IO $(shell pkg-config --cflags $(KERAS_PKGS))
  KERAS_LIBS := $(shell pkg-config --libs $(KERAS_PKGS))
  LDLIBS     := $(KERAS_LIBS) $(LDLIBS)
  PC_LIBS    += $(KERAS_LIBS)
endif

LIB_SRC := $(wildcard src/*.c src/kernels/*.c src/layers/*.c src/io/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
# The fuzz harnesses without libFuzzer: replay the seeds and the inputs that once crashed them.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
ifeq ($(KERAS_IO),none)
  FUZZ_SRC := $(filter-out fuzz/fuzz_keras.c fuzz/fuzz_h5.c fuzz/fuzz_keras_config.c,$(FUZZ_SRC))
endif
REPLAY_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/tests/replay_%)

.PHONY: all deps lib test demo install clean
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build-all

build-all: $(BUILD)/librnn.a $(BUILD)/librnn.so $(BUILD)/rnn $(EXAMPLE_BIN) $(TEST_BIN) $(REPLAY_BIN)

deps:
	@BLAS=$(BLAS) KERAS_IO=$(KERAS_IO_ASKED) CC=$(CC) sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c include/rnn.h $(wildcard src/*.h src/*/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The vectorised activations (GCC vector extensions) at -O3; no fast-math.
$(BUILD)/obj/src/kernels/vmath.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/gates.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
# The AVX2 product tiles: -O3 unrolls their fixed-size accumulator arrays into registers.
$(BUILD)/obj/src/kernels/gemm_avx2.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/gemm_packed.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
# The orthogonal initializer's reflection loops (rng.c): -O3 vectorises them (same IEEE operations).
$(BUILD)/obj/src/rng.o: ALL_CFLAGS += -O3

$(BUILD)/librnn.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/librnn.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/rnn: $(CLI_OBJ) $(BUILD)/librnn.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librnn.a $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/librnn.a include/rnn.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/librnn.a $(LDLIBS)

# Tests may include internal headers (src/, cli/) to check layers and kernels directly.
$(BUILD)/tests/%: tests/%.c tests/check.h $(BUILD)/librnn.a $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Icli $< -o $@ $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) \
	    $(BUILD)/librnn.a $(LDLIBS)

$(BUILD)/tests/replay_%: fuzz/%.c fuzz/replay_main.c fuzz/fuzz_input.h $(BUILD)/librnn.a $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -DHARNESS='"$*"' -Icli $< fuzz/replay_main.c -o $@ \
	    $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) $(BUILD)/librnn.a $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory build-all
	@RNN_QUICK=1 sh scripts/run_tests.sh $(TEST_BIN) $(REPLAY_BIN) $(EXAMPLE_BIN) tests/test_install.sh

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/rnn
	$(BUILD)/rnn demo $(DEMO_ARGS)

# The benchmark suite of issue 5 (librnn, PyTorch, Keras) -> bench/RESULTS.md; never part of
# `make` or `make test`. The peers' environment .venv-bench is created on first use.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/rnn
	BENCH_RNN=$(BUILD)/rnn sh bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/rnn.h $(DESTDIR)$(PREFIX)/include/rnn.h
	install -m 644 $(BUILD)/librnn.a $(DESTDIR)$(PREFIX)/lib/librnn.a
	install -m 755 $(BUILD)/librnn.so $(DESTDIR)$(PREFIX)/lib/librnn.so
	install -m 755 $(BUILD)/rnn $(DESTDIR)$(PREFIX)/bin/rnn
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(PC_LIBS)|' rnn.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/rnn.pc

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer, in its own
# build folder. Any report fails the test (-fno-sanitize-recover, halt_on_error); leaks fail too.
# test_install.sh is left out: it builds and installs the normal way, which says nothing new here.
SAN_BUILD := build-sanitize
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_ENV   := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1 \
             UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 RNN_QUICK=1
.PHONY: test-sanitize
test-sanitize: deps
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
	    $(SAN_BUILD)/librnn.a $(TEST_BIN:$(BUILD)/%=$(SAN_BUILD)/%) $(EXAMPLE_BIN:$(BUILD)/%=$(SAN_BUILD)/%) \
	    $(REPLAY_BIN:$(BUILD)/%=$(SAN_BUILD)/%)
	@$(SAN_ENV) sh scripts/run_tests.sh $(TEST_BIN:$(BUILD)/%=$(SAN_BUILD)/%) \
	    $(REPLAY_BIN:$(BUILD)/%=$(SAN_BUILD)/%) $(EXAMPLE_BIN:$(BUILD)/%=$(SAN_BUILD)/%)

# valgrind memcheck over the tests of the file readers and the CLI (the normal build; forked
# reader processes are checked too). About a minute; .ci/run runs it.
VALGRIND_TESTS := test_npy test_csv test_cli test_untrusted_parse replay_fuzz_h5 replay_fuzz_keras \
                  replay_fuzz_keras_config replay_fuzz_npy replay_fuzz_csv replay_fuzz_cli_args
.PHONY: test-valgrind
test-valgrind: deps
	@BLAS=$(BLAS) KERAS_IO=$(KERAS_IO_ASKED) CC=$(CC) VALGRIND=1 sh scripts/deps.sh
	@$(MAKE) --no-print-directory $(VALGRIND_TESTS:%=$(BUILD)/tests/%)
	@RNN_VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	    sh scripts/run_tests.sh $(VALGRIND_TESTS:%=$(BUILD)/tests/%)

# libFuzzer harnesses (fuzz/), built with clang, ASan and UBSan in build-fuzz; `make fuzz
# FUZZ_SECONDS=N` runs each for N seconds and prints its executions and crashes (scripts/fuzz.sh).
# clang and its runtime are needed only here: FUZZ=1 makes scripts/deps.sh check for them.
# clang 14 refuses vmath.c's by-value AVX vectors in the baseline clone (GCC only warns, -Wpsabi)
# and emits no dispatcher for gates.c's clones called from other files, so the fuzz build
# compiles the vector kernels for AVX2 without clones (VMATH_EXTRA, RNN_NO_CLONES in
# vmath8.h): the fuzzers need an AVX2 machine.
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
.PHONY: fuzz fuzz-build
$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz_input.h $(BUILD)/librnn.a $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Icli $< -o $@ \
	    $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) $(BUILD)/librnn.a $(LDLIBS)

fuzz-build:
	@BLAS=$(BLAS) KERAS_IO=$(KERAS_IO_ASKED) CC=clang FUZZ=1 sh scripts/deps.sh
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang VMATH_EXTRA="-mavx2 -DRNN_NO_CLONES" \
	    CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" LDFLAGS="$(FUZZ_FLAGS)" \
	    $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/fuzz/%)

fuzz: fuzz-build
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_SRC:fuzz/%.c=%)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)
