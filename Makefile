# passerelle: build, run, test, check, bench, install. See README.md.

PROG     := passerelle
VERSION  := 0.1.0
BUILD    ?= build
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
# /etc, not $(PREFIX)/etc: the unit's ConfigurationDirectory= is /etc/passerelle whatever
# the prefix, and the configuration must be where the unit reads it.
SYSCONFDIR ?= /etc
MANDIR   ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
# The unit's StateDirectory=passerelle: the RSA key and the token key.
STATEDIR := /var/lib/passerelle
PKGS     := libevent libevent_openssl openssl json-c libxml-2.0 libpq libcurl zlib

CC       ?= cc
# Every build below runs on every core.
NPROC    := $(shell nproc 2>/dev/null || echo 2)
OPT      ?= -O2
WARN     := -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wcast-qual \
            -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings \
            -Wundef -Wvla -Wimplicit-fallthrough -Wnull-dereference
# Our flags live in P_*; a user's CFLAGS/LDFLAGS are appended, never replaced.
P_CPPFLAGS := -D_GNU_SOURCE -DPASSERELLE_VERSION='"$(VERSION)"' -Iinclude -MMD -MP
P_CFLAGS   := -std=c11 -g $(OPT) $(WARN) -fstack-protector-strong
P_LDFLAGS  :=
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(WERROR),1)
P_CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
P_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
P_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ALL_CPPFLAGS = $(P_CPPFLAGS) $(PKG_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS   = $(P_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(P_LDFLAGS) $(LDFLAGS)

# Every .c under the four source folders, in their rooms (README: the map).
SRCS      := $(sort $(shell find server activitypub atproto webfinger db -name '*.c'))
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))
GEN_MIG   := $(BUILD)/gen/migrations.c
ASSETS    := $(sort $(wildcard server/site/assets/*))
GEN_ASSETS := $(BUILD)/gen/assets.c
# One catalogue per language: a new language is a new file here, nothing else (README).
TEXTS     := $(sort $(wildcard server/core/texts/*.txt))
GEN_TEXTS := $(BUILD)/gen/texts.c
MAIN_OBJ  := $(BUILD)/server/main.o
LIB_OBJS  := $(filter-out $(MAIN_OBJ),$(SRCS:%.c=$(BUILD)/%.o)) $(BUILD)/gen/migrations.o $(BUILD)/gen/assets.o \
             $(BUILD)/gen/texts.o
LIB       := $(BUILD)/libpasserelle.a
BIN       := $(BUILD)/$(PROG)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNITS     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Each fuzz target also runs as a unit test over its committed corpus (no libFuzzer needed).
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
REPLAYS   := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/tests/test_%)
# Small programs the Node tests drive (tests/tools/*.c): the atproto pieces against a real PDS.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS     := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCHES   := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
FMT_SRCS  := $(SRCS) $(wildcard include/*.h tests/*.h tests/*.c tests/unit/*.c tests/tools/*.c bench/*.c fuzz/*.c fuzz/*.h)

.PHONY: all run test check bench install uninstall clean deps format format-check lint \
        units print-cpp valgrind fuzz fuzz-smoke bench-quick demo cycles

all: $(BIN) $(UNITS) $(REPLAYS) $(BENCHES) $(TOOLS)

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(GEN_MIG): $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(@D)
	sh scripts/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(GEN_MIG)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(GEN_ASSETS): $(ASSETS) scripts/embed-assets.sh
	@mkdir -p $(@D)
	sh scripts/embed-assets.sh $(ASSETS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/assets.o: $(GEN_ASSETS)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(GEN_TEXTS): $(TEXTS) scripts/embed-texts.sh
	@mkdir -p $(@D)
	sh scripts/embed-texts.sh $(TEXTS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/texts.o: $(GEN_TEXTS)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB) tests/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) -Itests $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/tests/test_fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h tests/fuzz_replay.c $(LIB) tests/tap.h
	@mkdir -p $(@D)
	$(CC) $(filter-out -MMD -MP,$(ALL_CPPFLAGS)) -Itests -Ifuzz -DFUZZ_TARGET='"fuzz_$*"' \
	    $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/fuzz_replay.c $(LIB) $(PKG_LIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

units: $(UNITS)

# The preprocessor as the build runs it (tests/integration/sql.test.mjs expands the sources
# with it to find every SQL statement).
print-cpp:
	@echo $(CC) -E $(filter-out -MMD -MP,$(ALL_CPPFLAGS))

# Installs the Debian packages the build and the tests need (or says which).
deps:
	@sh scripts/deps.sh

# Builds the server alone (not the tests, fuzz replays or benchmarks), starts a throwaway
# PostgreSQL under var/ (or /var/tmp as root when postgres cannot enter the clone), migrates,
# serves on 127.0.0.1:8080.
run: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(BIN)
	@sh scripts/run.sh $(BIN)

# The whole story on loopback (scripts/demo.mjs): people join, link, consent, are reconnected,
# a post is relayed, an old handle looks up; each step printed, each expectation checked.
demo: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@BUILD=$(BUILD) sh scripts/demo.sh

# Every test: unit, integration (real PostgreSQL, real binary), interop (Fedify).
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@BUILD=$(BUILD) sh tests/run.sh

check: deps format-check lint
	$(MAKE) --no-print-directory BUILD=$(BUILD)/werror WERROR=1 all
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=address,undefined OPT=-O1 test
	$(MAKE) --no-print-directory valgrind

# The integration run with the server under valgrind (full teardown, no leaks).
valgrind: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)/vg OPT=-O0 all
	BUILD=$(BUILD)/vg PASSERELLE_VALGRIND=1 TEST_ONLY=integration TEST_TIMEOUT=900 sh tests/run.sh

# The benchmarks (bench/run.sh, docs/BENCHMARKS.md): one table of figures beside this
# machine's limits; bench-quick is the same with tiny sizes (a smoke test, run by make test).
bench: all
	@sh scripts/deps.sh bench
	@sh bench/run.sh $(BUILD)

bench-quick: all
	@BENCH_QUICK=1 sh bench/run.sh $(BUILD)

# libFuzzer targets (clang and libclang-rt-14-dev): each fuzz/fuzz_*.c linked against the
# library built again with clang's sanitizers and coverage, run for FUZZ_SECONDS from its seeds
# in fuzz/corpus/<target>/ with fuzz/<target>.dict; new inputs go to
# $(BUILD)/fuzz/corpus-<target>/, crashes to $(BUILD)/fuzz/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=c11 -g -O1 $(filter-out -MMD -MP,$(P_CPPFLAGS)) -fsanitize=address,undefined \
                -fno-sanitize-recover=all
FUZZ_OBJS    := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(filter-out server/main.c,$(SRCS))) \
                $(BUILD)/fuzz/obj/gen/migrations.o $(BUILD)/fuzz/obj/gen/assets.o \
                $(BUILD)/fuzz/obj/gen/texts.o
FUZZ_LIB     := $(BUILD)/fuzz/libfuzz.a
FUZZ_BINS    := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

$(BUILD)/fuzz/obj/%.o: %.c $(wildcard include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

# The embedded migrations, page assets and texts, which the targets reach through the library.
$(BUILD)/fuzz/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/fuzz/%: fuzz/%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)

fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	    t=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
	        $$([ -f fuzz/$$t.dict ] && echo -dict=fuzz/$$t.dict) \
	        $(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# The binary, the systemd unit and its sysusers.d line, the man page passerelle(8) and the
# example configuration (key files pointed at $(STATEDIR)). Without DESTDIR, as root, the
# passerelle user is created when missing (systemd-sysusers, else useradd); with DESTDIR
# (a package being built) that is left to the package.
$(BUILD)/dist/passerelle.service: dist/passerelle.service.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp && mv $@.tmp $@

$(BUILD)/dist/passerelle.conf.example: passerelle.conf.example Makefile
	@mkdir -p $(@D)
	sed -e 's|^key_file = .*|key_file = $(STATEDIR)/passerelle.key|' \
	    -e 's|/etc/passerelle/token.key|$(STATEDIR)/token.key|g' $< > $@.tmp && mv $@.tmp $@

install: $(BIN) $(BUILD)/dist/passerelle.service $(BUILD)/dist/passerelle.conf.example
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/passerelle $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/$(PROG)
	install -m 0644 $(BUILD)/dist/passerelle.conf.example $(DESTDIR)$(SYSCONFDIR)/passerelle/passerelle.conf.example
	install -m 0644 $(BUILD)/dist/passerelle.service $(DESTDIR)$(SYSTEMDUNITDIR)/passerelle.service
	install -m 0644 dist/passerelle.sysusers $(DESTDIR)$(SYSUSERSDIR)/passerelle.conf
	install -m 0644 docs/passerelle.8 $(DESTDIR)$(MANDIR)/man8/passerelle.8
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    if command -v systemd-sysusers >/dev/null 2>&1; then \
	        systemd-sysusers $(SYSUSERSDIR)/passerelle.conf; \
	    elif ! id passerelle >/dev/null 2>&1; then \
	        useradd --system --user-group --home-dir $(STATEDIR) --no-create-home \
	            --shell /usr/sbin/nologin --comment "passerelle bridge" passerelle; \
	    fi; \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	    echo "install: next, $(SYSCONFDIR)/passerelle/passerelle.conf (man 8 passerelle, EXAMPLES)"; \
	fi

# Everything install put there. The passerelle user and $(STATEDIR) stay: the RSA key must
# outlive a reinstall (remote servers cache it), and so must the token key.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/$(PROG)
	rm -f $(DESTDIR)$(SYSCONFDIR)/passerelle/passerelle.conf.example
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/passerelle.service
	rm -f $(DESTDIR)$(SYSUSERSDIR)/passerelle.conf
	rm -f $(DESTDIR)$(MANDIR)/man8/passerelle.8
	-rmdir $(DESTDIR)$(SYSCONFDIR)/passerelle 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

format:
	clang-format -i $(FMT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FMT_SRCS)

# Unbounded, non-reentrant or unchecked calls are banned (curl's list, shortened); includes
# follow the layers of scripts/layers.sh (README: the include rule); every module has its unit
# test (scripts/unitmap.sh); no loop of calls between files (cycles, which builds the objects).
BANNED := (^|[^_[:alnum:]])(sprintf|vsprintf|strcpy|strcat|strtok|gets|atoi|atol|atof|asctime|ctime|gmtime|localtime|rand|system)[[:space:]]*\(
lint: cycles
	@! grep -nE '$(BANNED)' $(SRCS) || { echo "lint: banned function" >&2; exit 1; }
	@for f in $(SRCS); do head -1 $$f | grep -q '^/\*' || { echo "lint: $$f must open with a one-line comment" >&2; exit 1; }; done
	@sh scripts/layers.sh >&2
	@sh scripts/unitmap.sh >&2
	@echo "lint: ok"

# No two files call each other in a loop (make lint; README, Contributing): the file-level
# call graph from the objects (scripts/cycles.sh) names every loop, with the symbols behind
# each edge.
cycles: $(MAIN_OBJ) $(LIB_OBJS)
	@sh scripts/cycles.sh $(BUILD) $^ >&2

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
