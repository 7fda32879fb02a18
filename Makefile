# sluice - build, test and demo.
#   make            build build/sluice and build/libsluice.a
#   make test       install what is missing, run C unit tests (plain and ASan+UBSan) and pytest
#   make asan       build the sanitizer variants under build/asan/
#   make tsan       ThreadSanitizer build (build/tsan/): unit tests, a run and an export to S3
#   make demo       install, build, start a local MariaDB, seed, run the pipeline
#   make demo-spark the same pipeline scheduled by a local Spark cluster (master + 2 workers)
#   make test-docker the Compose deployment (deploy/) built offline and checked end to end (root)
#   make bench      build the benchmark programs (see bench/README.md)
#   make install    install the binary and its manual page under PREFIX (default /usr/local)
#   make fuzz       build the libFuzzer harnesses (clang) and run each for FUZZ_TIME seconds

CC      ?= cc
PKGS    := libmariadb libcurl openssl libzstd zlib jansson expat snappy
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl's header only: src/sink/s3.c loads the library on the first S3 store (dlopen),
# so that a start of sluice does not load and relocate its thirty dependencies.
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)

VERSION := 0.1.0
BUILD_ID := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif
ifneq ($(WERROR),)
WARN    += -Werror
endif
OPT     ?= -O3 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(PKG_CFLAGS) \
             -DSLUICE_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS)
LIBS    = $(PKG_LIBS) -lpthread -lm

# The library is every stage below the CLI; the binary adds src/cli/.
LIB_SRC  := $(sort $(wildcard src/common/*.c src/batch/*.c src/parquet/*.c src/sink/*.c \
                              src/mysql/*.c src/transform/*.c src/report/*.c src/exec/*.c \
                              src/seed/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

B        ?= build
SAN      :=

OBJ = $(patsubst %.c,$(B)/obj/%.o,$(1))


.PHONY: tsan test-docker
.PHONY: all asan test unit unit-asan pytest deps demo demo-spark bench clean mariadb-start mariadb-stop tools fuzz fuzz-build install uninstall
all: $(B)/sluice $(B)/libsluice.a tools

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN) -c $< -o $@

$(B)/libsluice.a: $(call OBJ,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/sluice: $(call OBJ,$(CLI_SRC)) $(B)/libsluice.a
	$(CC) $(SAN) -o $@ $(call OBJ,$(CLI_SRC)) $(B)/libsluice.a $(LIBS)

$(B)/unit-tests: $(call OBJ,$(UNIT_SRC)) $(B)/libsluice.a
	$(CC) $(SAN) -o $@ $(call OBJ,$(UNIT_SRC)) $(B)/libsluice.a $(LIBS)

# Small programs the integration tests drive (one .c file each).
tools: $(patsubst tests/tools/%.c,$(B)/tools/%,$(TOOL_SRC))
$(B)/tools/%: $(B)/obj/tests/tools/%.o $(B)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(B)/libsluice.a $(LIBS)

bench: $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))
$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(B)/libsluice.a $(LIBS)

# The source schema, compiled into `sluice seed` as one C string.
$(B)/gen/schema_sql.h: init/01_schema.sql init/02_additional_tables.sql
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $^ > $@
$(B)/obj/src/seed/seed_load.o: $(B)/gen/schema_sql.h
$(B)/obj/src/seed/seed_load.o: CFLAGS_ALL += -I$(B)/gen

# The commit a build reports (`--version`, each Parquet file's created_by): a header
# rewritten only when the commit changes, so that a build after a commit recompiles the
# two objects that print it (a -D flag does not make them out of date).
BUILD_ID_H := $(B)/gen/build_id.h
$(BUILD_ID_H): FORCE
	@mkdir -p $(dir $@)
	@echo '#define SLUICE_BUILD "$(BUILD_ID)"' > $@.tmp; \
	    if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(B)/obj/src/parquet/pq_writer.o $(B)/obj/src/cli/main.o: $(BUILD_ID_H)
$(B)/obj/src/parquet/pq_writer.o $(B)/obj/src/cli/main.o: CFLAGS_ALL += -include $(BUILD_ID_H)
.PHONY: FORCE
FORCE:

asan:
	$(MAKE) B=build/asan SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' \
	        OPT='-O1 -g' build/asan/sluice build/asan/unit-tests build/asan/libsluice.a tools

# libFuzzer harnesses (tests/fuzz/fuzz_*.c) against a clang build of the library with
# coverage, ASan and UBSan. Each runs for FUZZ_TIME seconds from its committed seeds
# (tests/fuzz/corpus/<target>/) plus what earlier runs found (build/fuzz/corpus/<target>/);
# a crash, leak, timeout or memory blow-up fails the target and leaves its input in
# build/fuzz/ (add it to the seeds and to a unit test once fixed).
FUZZ_TARGETS := env inspect s3xml sigv4
FUZZ_TIME ?= 15
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
fuzz-build:
	$(MAKE) B=build/fuzz CC=clang SAN='$(FUZZ_SAN)' OPT='-O1 -g' \
	        $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libsluice.a
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=undefined -o $@ $< build/fuzz/libsluice.a $(LIBS)
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz/corpus/$$t || exit 1; \
	    echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=30 -rss_limit_mb=1024 -max_len=65536 \
	        -artifact_prefix=build/fuzz/$$t- -print_final_stats=1 \
	        build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log \
	        || { tail -n 60 build/fuzz/$$t.log; echo "fuzz: $$t FAILED (input in build/fuzz/$$t-*)"; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' build/fuzz/$$t.log | tr '\n' ' '; echo; \
	done

# ThreadSanitizer: the unit tests (the threaded commit, sink and stop tests among them),
# then tests/integration/test_tsan.py: one `run` and one `export` to S3 (moto) end to end
# and a 135-part upload, all with the build/tsan binaries. Any report fails the target
# (halt_on_error, exit code 66). Suppressions: tests/tsan.supp, each one explained there.
# Warnings are the plain and ASan builds' business (-Werror there in CI); this build's
# different inlining only adds spurious -Wformat-truncation ones, so no -Werror here.
TSAN_OPTIONS_ALL := halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp
tsan:
	$(MAKE) B=build/tsan SAN='-fsanitize=thread -fno-omit-frame-pointer' OPT='-O1 -g' CI= WERROR= \
	        build/tsan/sluice build/tsan/unit-tests tools
	TSAN_OPTIONS='$(TSAN_OPTIONS_ALL)' build/tsan/unit-tests
	SLUICE_TSAN=1 TSAN_OPTIONS='$(TSAN_OPTIONS_ALL)' $${SLUICE_VENV:-.venv}/bin/python -m pytest -q \
	        tests/integration/test_tsan.py

deps:
	@bash scripts/install-deps.sh

unit: $(B)/unit-tests
	$(B)/unit-tests

unit-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 build/asan/unit-tests

pytest: all
	bash scripts/run-pytest.sh

test: deps
	$(MAKE) all build/unit-tests
	build/unit-tests
	$(MAKE) unit-asan
	$(MAKE) fuzz
	$(MAKE) tsan
	bash scripts/run-pytest.sh

demo: deps
	$(MAKE) all
	bash scripts/demo.sh

# The Compose stack in a private dockerd (scripts/docker-test.sh; README "Docker Compose").
test-docker:
	@bash scripts/install-deps.sh --docker
	$(MAKE) all
	bash scripts/docker-test.sh

demo-spark: deps
	$(MAKE) all
	bash scripts/demo-spark.sh

mariadb-start:
	bash scripts/mariadb-local.sh start
mariadb-stop:
	bash scripts/mariadb-local.sh stop

# DESTDIR for packaging; the manual is man/sluice.1 (roff).
PREFIX  ?= /usr/local
DESTDIR ?=
install: $(B)/sluice
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/sluice $(DESTDIR)$(PREFIX)/bin/sluice
	install -m 644 man/sluice.1 $(DESTDIR)$(PREFIX)/share/man/man1/sluice.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sluice $(DESTDIR)$(PREFIX)/share/man/man1/sluice.1

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
