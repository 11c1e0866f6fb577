# Makefile -- build, test and run mesos-dnsd.  Plain make; no generated configure step.
#
# Modules are found by wildcard: add lib/foo.c or zone/foo.c and it is built into
# the library; add tests/unit/test_foo.c and it becomes a TAP test binary.

VERSION   := 0.1.0
CC        ?= cc
BUILD     ?= build
PKGS      := libevent libevent_pthreads ldns libcurl jansson liburcu
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

.PHONY: all deps test test-unit test-golden test-integration test-fuzz-replay run clean install

all: $(DEPS_STAMP) mesos-dnsd

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

# --- demo -----------------------------------------------------------------
run: all
	@sh tests/data/demo/run-demo.sh $(BUILD)/bin/mesos-dnsd

install: all
	install -D -m 0755 $(BUILD)/bin/mesos-dnsd $(DESTDIR)/usr/sbin/mesos-dnsd
	install -D -m 0644 config.json.example $(DESTDIR)/etc/mesos-dnsd/config.json

clean:
	rm -rf $(BUILD) mesos-dnsd

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
