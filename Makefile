# librnn build. `make` builds the libraries, the rnn tool and the examples; `make test` runs every
# test; `make demo` trains the airline forecaster. scripts/deps.sh first proves that every library
# the build links compiles and links (probes with the flags below, from pkg-config) and installs
# what is missing. BLAS=none builds the portable core without a BLAS; KERAS_IO=none builds without
# the Keras model files (libhdf5, libzip, cJSON): rnn_load/rnn_save then say so.
# The configuration (compiler, flags, libraries and their versions) is written to
# $(BUILD)/build_config.h, rewritten only when it changes; every object depends on it, so a change
# of configuration (a BLAS installed, other CFLAGS) rebuilds everything it affects. `rnn --version`
# prints it.

CC      ?= cc
PREFIX  ?= /usr/local
BLAS    ?= openblas
BUILD   ?= build
CFLAGS  ?= -O2 -g
LDFLAGS ?=
WARN    := -Wall -Wextra -Wshadow
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -fPIC -Iinclude -Isrc -I$(BUILD)
LDLIBS  := -lm -lpthread -ldl
VERSION := 0.1.0
SOVERSION := 0

# OpenBLAS through its pkg-config module (Debian's libopenblas-dev ships openblas.pc); the same
# module name goes to scripts/deps.sh, whose probe links with exactly these flags.
BLAS_PC := openblas
ifeq ($(BLAS),openblas)
  BLAS_CFLAGS := $(shell pkg-config --cflags $(BLAS_PC) 2>/dev/null)
  BLAS_LIBS   := $(shell pkg-config --libs $(BLAS_PC) 2>/dev/null)
  BLAS_DESC   := OpenBLAS $(shell pkg-config --modversion $(BLAS_PC) 2>/dev/null) (pkg-config $(BLAS_PC))
  ALL_CFLAGS  += -DRNN_USE_CBLAS -DRNN_BLAS_OPENBLAS $(BLAS_CFLAGS)
  # Not linked: librnn loads OpenBLAS on first use (src/kernels/blas_core.c), by the file name
  # scripts/build_config.sh finds with these flags. Tests that call OpenBLAS themselves link it.
  TEST_LIBS   := $(BLAS_LIBS)
else ifeq ($(BLAS),none)
  BLAS_DESC   := none (portable loops)
else
  $(error BLAS=$(BLAS): use BLAS=openblas (the default) or BLAS=none)
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
  KERAS_DESC := $(foreach p,$(KERAS_PKGS),$(p) $(shell pkg-config --modversion $(p) 2>/dev/null))
  # libhdf5 and libzip are loaded on first use too (src/io/keras_libs.c); cJSON (tens of KB) is
  # linked. Tests that call libhdf5 or libzip themselves link them.
  CJSON_LIBS := $(shell pkg-config --libs libcjson)
  LDLIBS     := $(CJSON_LIBS) $(LDLIBS)
  PC_LIBS    += $(CJSON_LIBS)
  TEST_LIBS  += $(KERAS_LIBS)
else
  KERAS_DESC := none (built with KERAS_IO=none)
endif

# MPI (data-parallel fit across processes, issue 20): src/mpi/rnn_mpi.c becomes its own library,
# $(BUILD)/librnn_mpi.a, so that librnn never depends on MPI. The rnn tool does not link MPI
# either (libmpi's start-up alone exceeds the tool's 64 MB test limit): under mpirun or srun,
# `rnn fit` hands over to $(BUILD)/rnn-mpi, the same tool linked with librnn_mpi and MPI. MPI=auto (the default) is on when mpicc and pkg-config's mpi-c
# (Debian's libopenmpi-dev, which scripts/deps.sh installs) are there; MPI=1 asks for it,
# MPI=none builds without.
MPI ?= auto
MPI_ASKED := $(MPI)
ifeq ($(MPI),auto)
  MPI := $(shell command -v mpicc >/dev/null 2>&1 && pkg-config --exists mpi-c 2>/dev/null && echo yes || echo none)
endif
ifneq ($(MPI),none)
  MPI_CFLAGS := $(shell pkg-config --cflags mpi-c 2>/dev/null) -DRNN_WITH_MPI
  MPI_LIB    := $(BUILD)/librnn_mpi.a
  MPI_LIBS   := $(shell pkg-config --libs mpi-c 2>/dev/null)
  MPI_DESC   := mpi-c $(shell pkg-config --modversion mpi-c 2>/dev/null)
  MPI_TOOL   := $(BUILD)/rnn-mpi
else
  MPI_DESC   := none
endif

LIB_SRC := $(wildcard src/*.c src/kernels/*.c src/layers/*.c src/io/*.c src/train/*.c src/explain/*.c src/export/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(wildcard cli/*.c cli/bench/*.c)
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

.PHONY: all deps lib test demo install uninstall clean check-fresh FORCE
.DEFAULT_GOAL := all

# rnn_load's reader program (src/reader/main.c, src/io/untrusted_parse.c): built next to the
# libraries, installed as $(LIBEXECDIR)/rnn/rnn-reader. The tests' misbehaving reader
# (tests/fault_reader.c) is built beside the tests and never installed.
LIBEXECDIR ?= $(PREFIX)/libexec
READER := $(BUILD)/rnn-reader
FAULT_READER := $(BUILD)/tests/fault_reader

SO_REAL := librnn.so.$(VERSION)
SO_NAME := librnn.so.$(SOVERSION)

all: deps
	@$(MAKE) --no-print-directory build-all

build-all: $(BUILD)/librnn.a $(BUILD)/librnn.so $(MPI_LIB) $(BUILD)/rnn $(MPI_TOOL) $(READER) $(EXAMPLE_BIN) $(TEST_BIN) \
           $(REPLAY_BIN) $(FAULT_READER)

DEPS_ENV = BLAS=$(BLAS) BLAS_PC=$(BLAS_PC) KERAS_IO=$(KERAS_IO_ASKED) KERAS_PCS="$(KERAS_PKGS)" CC=$(CC) \
           MPI=$(MPI_ASKED)
deps:
	@$(DEPS_ENV) sh scripts/deps.sh

# The configuration stamp: rewritten only when its text changes (scripts/build_config.sh), so
# objects are rebuilt exactly when the compiler, the flags or a library's version changed.
$(BUILD)/build_config.h: FORCE
	@mkdir -p $(@D)
	@CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" BLAS_DESC="$(BLAS_DESC)" \
	    BLAS_CFLAGS="$(BLAS_CFLAGS)" KERAS_DESC="$(KERAS_DESC)" LDLIBS="$(LDLIBS)" \
	    BLAS_LIBS="$(BLAS_LIBS)" KERAS_LIBS="$(KERAS_LIBS)" \
	    VERSION="$(VERSION)" MPI_DESC="$(MPI_DESC)" sh scripts/build_config.sh $@
CONFIG_H := $(BUILD)/build_config.h

# -MMD: each object's real header dependencies, read back on the next run.
DEPFLAGS = -MMD -MP
-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d $(BUILD)/tests/*.d \
                    $(BUILD)/examples/*.d $(BUILD)/fuzz/*.d)

$(BUILD)/obj/%.o: %.c $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

# The vectorised activations (GCC vector extensions) at -O3; no fast-math.
$(BUILD)/obj/src/kernels/vmath.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/gates.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
# The AVX2 product tiles: -O3 unrolls their fixed-size accumulator arrays into registers.
$(BUILD)/obj/src/kernels/gemm_avx2.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/gemm_packed.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/gemm_avx512.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/qmatvec.o: ALL_CFLAGS += -O3 -Wno-psabi $(VMATH_EXTRA)
$(BUILD)/obj/src/kernels/qgemm.o: ALL_CFLAGS += -O3 -Wno-psabi
# The orthogonal initializer's reflection loops (rng.c): -O3 vectorises them (same IEEE operations).
$(BUILD)/obj/src/rng.o: ALL_CFLAGS += -O3

# Where rnn_load looks for the reader besides next to the library or program: the installed path,
# and the build tree (for programs inside it only). Rewritten only when it changes, and only
# untrusted_parse.o depends on it, so that `make install PREFIX=...` rebuilds one object.
READER_PATHS := $(BUILD)/reader_paths.h
$(READER_PATHS): FORCE
	@mkdir -p $(@D)
	@printf '#define RNN_READER_INSTALL_PATH "%s"\n#define RNN_READER_BUILD_DIR "%s"\n' \
	    '$(LIBEXECDIR)/rnn/rnn-reader' "$$(cd $(@D) && pwd -P)" >$@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@
$(BUILD)/obj/src/io/untrusted_parse.o: $(READER_PATHS)

$(READER): $(BUILD)/obj/src/reader/main.o $(BUILD)/librnn.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/librnn.a $(LDLIBS)

$(BUILD)/librnn.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# librnn_mpi: the MPI transport of data-parallel fit; rnn-mpi's MPI start-up and the MPI test
# see mpi.h too.
$(BUILD)/obj/src/mpi/rnn_mpi.o $(BUILD)/obj/cli/mpi_launch_mpi.o $(BUILD)/tests/test_mpi: ALL_CFLAGS += $(MPI_CFLAGS)
$(BUILD)/librnn_mpi.a: $(BUILD)/obj/src/mpi/rnn_mpi.o
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/obj/cli/mpi_launch_mpi.o: cli/mpi_launch.c $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@
MPI_CLI_OBJ := $(CLI_OBJ:$(BUILD)/obj/cli/mpi_launch.o=$(BUILD)/obj/cli/mpi_launch_mpi.o)
$(BUILD)/rnn-mpi: $(MPI_CLI_OBJ) $(BUILD)/librnn.a $(MPI_LIB)
	$(CC) $(LDFLAGS) -o $@ $(MPI_CLI_OBJ) $(MPI_LIB) $(BUILD)/librnn.a $(LDLIBS) $(MPI_LIBS)
# The MPI test links MPI; no other test does.
$(BUILD)/tests/test_mpi: TEST_MPI_PRE = $(MPI_LIB)
$(BUILD)/tests/test_mpi: TEST_MPI_POST = $(MPI_LIBS)

# The shared library as distributions ship one: the real file librnn.so.VERSION with the SONAME
# librnn.so.SOVERSION, and the two symlinks (the SONAME for the loader, librnn.so for -lrnn).
$(BUILD)/$(SO_REAL): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SO_NAME) -o $@ $^ $(LDLIBS)
$(BUILD)/librnn.so: $(BUILD)/$(SO_REAL)
	ln -sf $(SO_REAL) $(BUILD)/$(SO_NAME)
	ln -sf $(SO_NAME) $@

$(BUILD)/rnn: $(CLI_OBJ) $(BUILD)/librnn.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librnn.a $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/librnn.a $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/librnn.a $(LDLIBS)

# test_blas_core_host loads build/librnn.so itself (dlopen), as a host program would: it links
# none of librnn's code.
$(BUILD)/tests/test_blas_core_host: tests/test_blas_core_host.c $(BUILD)/librnn.so $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< -o $@ $(TEST_LIBS) $(LDLIBS)

# test_lazy_libs checks that librnn loads OpenBLAS, libhdf5 and libzip itself: it links none.
$(BUILD)/tests/test_lazy_libs: TEST_LIBS =

# Tests may include internal headers (src/, cli/) to check layers and kernels directly.
$(BUILD)/tests/%: tests/%.c $(BUILD)/librnn.a $(MPI_LIB) $(CLI_OBJ) $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LDFLAGS) -Icli $< -o $@ $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) \
	    $(TEST_MPI_PRE) $(BUILD)/librnn.a $(TEST_LIBS) $(LDLIBS) $(TEST_MPI_POST)

$(BUILD)/tests/replay_%: fuzz/%.c fuzz/replay_main.c $(BUILD)/librnn.a $(CLI_OBJ) $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LDFLAGS) -DHARNESS='"$*"' -Icli $< fuzz/replay_main.c -o $@ \
	    $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) $(BUILD)/librnn.a $(LDLIBS)

# Shell tests: the installed library (pkg-config shared and static, CMake, the man page), the
# dependency probes and the configuration stamp (test_build.sh), the
# numbers and command outputs quoted in README.md and docs/, the man page against --help.
SHELL_TESTS := tests/test_install.sh tests/test_docs.sh tests/test_manpage.sh tests/test_build.sh \
               tests/test_memory_limits.sh tests/test_explain.sh

test:
	@$(DEPS_ENV) TEST=1 sh scripts/deps.sh
	@$(MAKE) --no-print-directory build-all
	@RNN_QUICK=1 sh scripts/run_tests.sh $(TEST_BIN) $(REPLAY_BIN) $(EXAMPLE_BIN) $(SHELL_TESTS)

# The exported C (tests/test_export.c) also built for Cortex-M4 (arm-none-eabi-gcc: every file
# compiled, programs linked and their sizes printed) and for 32-bit ARM Linux, run under
# qemu-arm and compared with librnn. EXPORT=1 makes scripts/deps.sh install the cross compilers
# and qemu-user (a few hundred MB: not part of `make test`, where the test says it skips them).
.PHONY: test-export-cross
test-export-cross:
	@$(DEPS_ENV) TEST=1 EXPORT=1 sh scripts/deps.sh
	@$(MAKE) --no-print-directory build-all
	RNN_EXPORT_CROSS=1 $(BUILD)/tests/test_export

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/rnn
	$(BUILD)/rnn demo $(DEMO_ARGS)

# The benchmark suite of issues 5 and 18 (librnn against every configuration of PyTorch, Keras,
# oneDNN and RTNeural) -> bench/RESULTS.md; never part of `make` or `make test`. Installs the
# peers Debian packages (scripts/deps.sh BENCH=1: python3-torch, libdnnl-dev, libeigen3-dev) and
# creates the PyPI peers' environment .venv-bench on first use; a peer that cannot be installed
# is reported as missing. RTNEURAL_DIR: an RTNeural checkout (not packaged anywhere).
.PHONY: bench bench-peers
bench: deps
	@$(DEPS_ENV) BENCH=1 sh scripts/deps.sh || \
	    echo "bench: some peers' packages are not installed; RESULTS.md names them as missing" >&2
	@$(MAKE) --no-print-directory $(BUILD)/rnn bench-peers
	BENCH_RNN=$(BUILD)/rnn BENCH_PEERS_DIR=$(BUILD)/peers sh bench/run.sh

# The C and C++ peers (bench/peers/), for `make bench` only. Each that cannot be built leaves a
# .missing file with the reason, which bench/run.sh puts in the report.
RTNEURAL_DIR ?=
PEER_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -O2 $(WARN) -Icli/bench
RTNEURAL_FLAGS := -std=c++17 -O3 -march=native -DNDEBUG -DRTNEURAL_USE_EIGEN=1 \
    -DRTNEURAL_DEFAULT_ALIGNMENT=32 -DEIGEN_STACK_ALLOCATION_LIMIT=0 -I/usr/include/eigen3 \
    -I$(RTNEURAL_DIR) -I$(RTNEURAL_DIR)/modules/Eigen -Iinclude -Icli/bench
bench-peers:
	@mkdir -p $(BUILD)/peers
	@rm -f $(BUILD)/peers/*.missing
	@$(CC) $(PEER_CFLAGS) bench/peers/onednn_rnn.c -o $(BUILD)/peers/onednn_rnn -ldnnl -lm \
	    2>$(BUILD)/peers/onednn_rnn.log || { rm -f $(BUILD)/peers/onednn_rnn; \
	    echo "oneDNN peer did not build (needs Debian's libdnnl-dev): $$(grep -m1 error $(BUILD)/peers/onednn_rnn.log)" \
	    >$(BUILD)/peers/onednn_rnn.missing; cat $(BUILD)/peers/onednn_rnn.missing; }
	@rm -f $(BUILD)/peers/rtneural_b5 $(BUILD)/peers/rtneural_b5.version
	@if [ -z "$(RTNEURAL_DIR)" ]; then \
	    echo "RTNeural is not packaged in Debian or PyPI: set RTNEURAL_DIR to an RTNeural checkout (make bench RTNEURAL_DIR=...)" \
	        >$(BUILD)/peers/rtneural_b5.missing; \
	elif ! $(MAKE) --no-print-directory $(BUILD)/librnn.a >/dev/null || \
	    ! $(CXX) $(RTNEURAL_FLAGS) bench/peers/rtneural_b5.cpp -o $(BUILD)/peers/rtneural_b5 \
	        $(BUILD)/librnn.a $(LDLIBS) 2>$(BUILD)/peers/rtneural_b5.log; then \
	    echo "RTNeural in RTNEURAL_DIR=$(RTNEURAL_DIR) did not build: $$(grep -m1 error $(BUILD)/peers/rtneural_b5.log)" \
	        >$(BUILD)/peers/rtneural_b5.missing; cat $(BUILD)/peers/rtneural_b5.missing; \
	else \
	    { git -C "$(RTNEURAL_DIR)" describe --always --dirty 2>/dev/null || echo "snapshot in $(RTNEURAL_DIR)"; } \
	        >$(BUILD)/peers/rtneural_b5.version; \
	fi

# rnn explain's gallery (docs/gallery, shown in the README): the scenario examples draw their
# models (scripts/gallery.sh). tests/test_explain.sh fails when the committed files are stale.
.PHONY: gallery test-browser
gallery: deps
	@$(MAKE) --no-print-directory $(EXAMPLE_BIN)
	sh scripts/gallery.sh $(BUILD) docs/gallery

# Each gallery page in headless Chromium (installed by scripts/deps.sh with BROWSER=1): no
# console errors, the expected elements in the DOM it renders, and a screenshot per page in
# $(BUILD)/browser/ for people to look at. Says skipped when chromium is absent.
test-browser:
	@$(DEPS_ENV) BROWSER=1 sh scripts/deps.sh || true
	@sh tests/browser_gallery.sh docs/gallery $(BUILD)/browser

# Data-parallel training throughput (issue 20): B2 and B3 trained by rnn_fit alone, and on 1 and 2
# MPI ranks (bench/mpi_bench.c); never part of `make` or `make test`. Figures: bench/README.md.
.PHONY: bench-mpi
$(BUILD)/bench_mpi: bench/mpi_bench.c $(BUILD)/librnn.a $(MPI_LIB) $(CONFIG_H)
	$(CC) $(ALL_CFLAGS) $(MPI_CFLAGS) $(LDFLAGS) $< -o $@ $(MPI_LIB) $(BUILD)/librnn.a $(LDLIBS) $(MPI_LIBS)
MPIRUN := mpirun --allow-run-as-root --oversubscribe --bind-to none
bench-mpi: deps
	@test "$(MPI)" != none || { echo "bench-mpi: built without MPI" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(BUILD)/bench_mpi
	for c in B2 B3; do $(BUILD)/bench_mpi $$c --threads 1; $(BUILD)/bench_mpi $$c --threads 2; \
	    $(MPIRUN) -np 1 $(BUILD)/bench_mpi $$c --threads 1; \
	    $(MPIRUN) -np 2 $(BUILD)/bench_mpi $$c --threads 1; \
	    $(MPIRUN) -np 2 $(BUILD)/bench_mpi $$c --threads 1 --per-rank-batch 16; done
	$(MPIRUN) -np 2 $(BUILD)/bench_mpi exchange --samples 18753
	$(MPIRUN) -np 2 $(BUILD)/bench_mpi exchange --samples 1146881

# make install [PREFIX=/usr/local] [DESTDIR=]: header, both libraries (with the SONAME links), the
# rnn tool, its man page, pkg-config files (rnn: shared; rnn-static: librnn.a and its
# dependencies) and the CMake package (find_package(rnn): rnn::rnn, rnn::rnn_static).
# ldconfig runs for a system prefix; elsewhere the paths to set are printed.
LIBDIR  := $(PREFIX)/lib
PC_SUBST = -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBS@|$(strip $(PC_LIBS))|g' -e 's|@VERSION@|$(VERSION)|g' \
           -e 's|@SO_REAL@|$(SO_REAL)|g' -e 's|@SO_NAME@|$(SO_NAME)|g'
install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(LIBDIR)/cmake/rnn $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(LIBEXECDIR)/rnn
	install -m 644 include/rnn.h $(DESTDIR)$(PREFIX)/include/rnn.h
	install -m 644 $(BUILD)/librnn.a $(DESTDIR)$(LIBDIR)/librnn.a
	$(if $(MPI_LIB),install -m 644 $(MPI_LIB) $(DESTDIR)$(LIBDIR)/librnn_mpi.a)
	install -m 755 $(BUILD)/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/librnn.so
	install -m 755 $(BUILD)/rnn $(DESTDIR)$(PREFIX)/bin/rnn
	install -m 755 $(READER) $(DESTDIR)$(LIBEXECDIR)/rnn/rnn-reader
	$(if $(MPI_TOOL),install -m 755 $(MPI_TOOL) $(DESTDIR)$(LIBEXECDIR)/rnn/rnn-mpi)
	install -m 644 man/rnn.1 $(DESTDIR)$(PREFIX)/share/man/man1/rnn.1
	sed $(PC_SUBST) packaging/rnn.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/rnn.pc
	sed $(PC_SUBST) packaging/rnn-static.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/rnn-static.pc
	sed $(PC_SUBST) packaging/rnnConfig.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/rnn/rnnConfig.cmake
	sed $(PC_SUBST) packaging/rnnConfigVersion.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/rnn/rnnConfigVersion.cmake
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" sh scripts/post_install.sh

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/rnn.h $(DESTDIR)$(LIBDIR)/librnn.a $(DESTDIR)$(LIBDIR)/librnn_mpi.a \
	    $(DESTDIR)$(LIBDIR)/$(SO_REAL) \
	    $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/librnn.so $(DESTDIR)$(PREFIX)/bin/rnn \
	    $(DESTDIR)$(PREFIX)/share/man/man1/rnn.1 $(DESTDIR)$(LIBDIR)/pkgconfig/rnn.pc \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/rnn-static.pc $(DESTDIR)$(LIBDIR)/cmake/rnn/rnnConfig.cmake \
	    $(DESTDIR)$(LIBDIR)/cmake/rnn/rnnConfigVersion.cmake $(DESTDIR)$(LIBEXECDIR)/rnn/rnn-reader \
	    $(DESTDIR)$(LIBEXECDIR)/rnn/rnn-mpi
	-rmdir $(DESTDIR)$(LIBEXECDIR)/rnn 2>/dev/null

# The README's two commands on a minimal Debian 12 root with nothing installed by hand
# (scripts/check_fresh.sh; the root is cached under /var/tmp/librnn-fresh). About 10 minutes.
check-fresh:
	@$(DEPS_ENV) FRESH=1 sh scripts/deps.sh
	sh scripts/check_fresh.sh

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
	    $(SAN_BUILD)/librnn.a $(MPI_LIB:$(BUILD)/%=$(SAN_BUILD)/%) $(TEST_BIN:$(BUILD)/%=$(SAN_BUILD)/%) $(EXAMPLE_BIN:$(BUILD)/%=$(SAN_BUILD)/%) \
	    $(REPLAY_BIN:$(BUILD)/%=$(SAN_BUILD)/%) $(SAN_BUILD)/rnn-reader $(SAN_BUILD)/tests/fault_reader
	@$(SAN_ENV) sh scripts/run_tests.sh $(TEST_BIN:$(BUILD)/%=$(SAN_BUILD)/%) \
	    $(REPLAY_BIN:$(BUILD)/%=$(SAN_BUILD)/%) $(EXAMPLE_BIN:$(BUILD)/%=$(SAN_BUILD)/%)

# valgrind memcheck over the tests of the file readers and the CLI (the normal build). The reader
# program that rnn_load spawns runs under valgrind too: RNN_READER points at
# tests/valgrind_reader.sh, which execs valgrind on $(READER). About a minute; .ci/run runs it.
VALGRIND_TESTS := test_npy test_csv test_cli test_untrusted_parse replay_fuzz_h5 replay_fuzz_keras \
                  replay_fuzz_keras_config replay_fuzz_npy replay_fuzz_csv replay_fuzz_cli_args
.PHONY: test-valgrind
test-valgrind: deps
	@$(DEPS_ENV) VALGRIND=1 sh scripts/deps.sh
	@$(MAKE) --no-print-directory $(VALGRIND_TESTS:%=$(BUILD)/tests/%) $(READER) $(FAULT_READER)
	@RNN_VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	    RNN_READER="$(abspath tests/valgrind_reader.sh)" RNN_VALGRIND_READER="$(abspath $(READER))" \
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
$(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/librnn.a $(CLI_OBJ) $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer -Icli $< -o $@ \
	    $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) $(BUILD)/librnn.a $(LDLIBS)

fuzz-build:
	@$(DEPS_ENV) FUZZ=1 sh scripts/deps.sh
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang VMATH_EXTRA="-mavx2 -DRNN_NO_CLONES" \
	    CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" LDFLAGS="$(FUZZ_FLAGS)" \
	    $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/fuzz/%)

fuzz: fuzz-build
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_SRC:fuzz/%.c=%)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)
