# Makefile -- build, test and run mesos-dnsd.  Plain make; no generated configure step.
#
# Modules are found by wildcard: add lib/foo.c or zone/foo.c and it is built into
# the library; add tests/unit/test_foo.c and it becomes a TAP test binary.

VERSION   := 0.1.0
CC        ?= cc
BUILD     ?= build
PKGS      := libevent libevent_pthreads ldns libcurl jansson liburcu libcrypto libsystemd yajl
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Werror=format-security -Werror=implicit
ifdef CI
WARN      += -Werror
endif
OPT       ?= -O2 -g
CPPFLAGS  += -I. -D_GNU_SOURCE -DTHREADED -I/usr/include/zookeeper \
             -DMESOSDNSD_VERSION='"$(VERSION)"' -MMD -MP
CFLAGS    += -std=c11 $(WARN) $(OPT) -pthread $(SAN)
LDFLAGS   += -pthread $(SAN)

# pkg-config is only asked once the dependencies are there (see deps below).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lzookeeper_mt
CPPFLAGS  += $(PKG_CFLAGS)
LDLIBS    += $(PKG_LIBS)

LIB_SRC   := $(wildcard lib/*.c) $(wildcard zone/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA      := $(BUILD)/libmesosdnsd.a

CMDS      := $(notdir $(wildcard cmd/*))
CMD_BIN   := $(CMDS:%=$(BUILD)/bin/%)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)

FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:%.c=$(BUILD)/%-replay)

DEPS_STAMP := $(BUILD)/.deps-ok

# Object files are intermediates of pattern rules; keep them so rebuilds are incremental.
.SECONDARY:

.PHONY: all deps test test-unit test-asan test-tsan fuzz run clean install

# The binary is named as well as the link: with .SECONDARY, a missing
# $(BUILD)/bin/mesos-dnsd behind an existing link (another BUILD) was not made.
all: $(DEPS_STAMP) $(BUILD)/bin/mesos-dnsd mesos-dnsd

# The daemon is built into $(BUILD)/bin and linked at the root for convenience.
mesos-dnsd: $(BUILD)/bin/mesos-dnsd
	ln -sf $(BUILD)/bin/mesos-dnsd $@

# Install build and test dependencies when any is missing; the stamp keeps this
# to one dpkg query per fresh build directory.
deps $(DEPS_STAMP): packaging/install-deps.sh
	@sh packaging/install-deps.sh
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/cmd/%/main.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/stress/%: $(BUILD)/tests/stress/%.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fuzz/%-replay: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fuzz/replay.o: tests/fuzz/replay.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# --- tests ----------------------------------------------------------------
# `make test` runs every suite and ends with one "N passed, N failed" line.
test: all $(CMD_BIN) $(UNIT_BIN) $(FUZZ_REPLAY)
	@python3 tests/run.py --build $(BUILD)

test-unit: $(UNIT_BIN)
	@python3 tests/run.py --build $(BUILD) --only unit

# --- sanitizers and fuzzing -------------------------------------------------
# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its
# own build directory so the normal build is untouched.
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" test

# ThreadSanitizer on the multi-threaded answering with concurrent zone swaps:
# tests/stress/zoneswap (reader threads in-process, the main thread publishing
# zone after zone) and the real daemon under UDP/TCP/HTTP load while its zone
# is rebuilt (tests/stress/daemon.py).  Any report fails (exit code 66); there
# are no suppressions: what TSan cannot see of liburcu is annotated in
# lib/zonepub.c.  STRESS_SECONDS: how long each of the two runs.
TSAN_BUILD := build-tsan
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_ENV   := TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
STRESS_SECONDS ?= 10
test-tsan:
	$(MAKE) BUILD=$(TSAN_BUILD) OPT="-O1 -g" SAN="$(TSAN_FLAGS)" \
		$(TSAN_BUILD)/bin/mesos-dnsd $(TSAN_BUILD)/tests/stress/zoneswap
	$(TSAN_ENV) $(TSAN_BUILD)/tests/stress/zoneswap $(STRESS_SECONDS)
	$(TSAN_ENV) python3 tests/stress/daemon.py --build $(TSAN_BUILD) --seconds $(STRESS_SECONDS)

# libFuzzer (clang) on every tests/fuzz/fuzz_*.c for FUZZ_SECONDS each; new
# inputs land in a scratch corpus, crashes in build-fuzz/crashes/.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz: $(DEPS_STAMP)
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" \
		SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libmesosdnsd.a
	@set -e; mkdir -p $(FUZZ_BUILD)/crashes; \
	for src in $(FUZZ_SRC); do \
		name=$$(basename $$src .c); target=$${name#fuzz_}; \
		clang $(CPPFLAGS) -std=c11 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer $$src \
			$(FUZZ_BUILD)/libmesosdnsd.a $(LDLIBS) -o $(FUZZ_BUILD)/$$name; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$target; \
		echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/$$name -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$target- \
			$(FUZZ_BUILD)/corpus/$$target tests/fuzz/corpus/$$target 2>&1 | \
			grep -E '^(stat::number_of_executed_units|==|SUMMARY)' || true; \
	done; \
	if ls $(FUZZ_BUILD)/crashes/* >/dev/null 2>&1; then \
		echo "fuzz: crashes found:"; ls $(FUZZ_BUILD)/crashes; exit 1; fi

# --- benchmark --------------------------------------------------------------
# `make bench` (never part of `make test`): mesos-dnsd, NSD, Knot and the floor
# responder side by side under dnsperf; see bench/run.sh for the variables
# (BENCH_QUICK=1 for a ~2 minute run, BENCH_TASKS, BENCH_BIG_TASKS, ...; make
# passes variables given on its command line to the script's environment).
.PHONY: bench
bench: all $(BUILD)/bin/mesos-dnsd $(BUILD)/bin/state2zone $(BUILD)/bench/floor
	@BUILD=$(BUILD) sh bench/run.sh

# Freshness with stateSource "stream": event -> DNS answer, median and p99 over
# 1,000 events, beside polling (bench/freshness.py; FRESHNESS_ARGS="--tasks 10000").
.PHONY: bench-freshness
bench-freshness: all $(BUILD)/bin/mesos-dnsd $(BUILD)/bin/state2zone
	@python3 bench/freshness.py --build $(BUILD) $(FRESHNESS_ARGS)

# CPU per zone build, phase by phase, on the states bench/gen_state.py makes
# (BUILD_TASKS: task counts, default "10000 100000").
BUILD_TASKS ?= 10000 100000
.PHONY: bench-build
bench-build: all $(BUILD)/bench/buildtime
	@set -e; for n in $(BUILD_TASKS); do \
		s=$(BUILD)/bench/state-$$n.json; \
		[ -s $$s ] && [ -s $(BUILD)/bench/state-$$n.alt.json ] || \
			python3 bench/gen_state.py --tasks $$n $(BUILD)/bench; \
		echo "$$n running tasks:"; \
		$(BUILD)/bench/buildtime $$s $(BUILD)/bench/state-$$n.alt.json; \
	done

$(BUILD)/bench/buildtime: $(BUILD)/bench/buildtime.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/floor: bench/floor.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE $(CFLAGS) $(LDFLAGS) -o $@ $<

# --- demo -----------------------------------------------------------------
run: all
	@sh tests/data/demo/run-demo.sh $(BUILD)/bin/mesos-dnsd

install: all
	install -D -m 0755 $(BUILD)/bin/mesos-dnsd $(DESTDIR)/usr/sbin/mesos-dnsd
	install -D -m 0644 config.json.example $(DESTDIR)/etc/mesos-dnsd/config.json
	install -D -m 0644 packaging/systemd/mesos-dnsd.service \
		$(DESTDIR)/lib/systemd/system/mesos-dnsd.service
	install -D -m 0644 packaging/man/mesos-dnsd.8 $(DESTDIR)/usr/share/man/man8/mesos-dnsd.8

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz mesos-dnsd

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- man page ---------------------------------------------------------------
# The CONFIGURATION section is generated from the config descriptor table, so
# the page cannot drift from the code (tests/golden/man.sh checks it).
man: $(BUILD)/bin/configdoc
	sh packaging/man/gen.sh $(BUILD)/bin/configdoc $(VERSION) > packaging/man/mesos-dnsd.8

# --- Debian package -----------------------------------------------------------
# `make deb`: the tree (without build output) is copied to $(DEB_DIR)/src with
# packaging/debian as debian/, built with dpkg-buildpackage -us -uc -b, and the
# result checked with lintian (errors fail; warnings are printed).  The .deb
# lands in $(DEB_DIR).  `make test-deb` builds it and tests the packaged binary.
DEB_DIR := $(BUILD)/deb
DEB     := $(DEB_DIR)/mesos-dnsd_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb
.PHONY: deb test-deb
deb: $(DEPS_STAMP)
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude-vcs --exclude='./build*' --exclude=./mesos-dnsd --exclude=./debian \
		--exclude='__pycache__' . | tar -xf - -C $(DEB_DIR)/src
	cp -r packaging/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b \
		> ../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	@echo "deb: built $(DEB)"
	lintian --info --display-level '>=warning' $(DEB_DIR)/*.changes

test-deb: deb
	@python3 tests/integration/test_deb.py --build $(BUILD) --deb $(DEB)
