# vagent - build, install, test, benchmark, demo.
#
#   make              build everything into ./build
#   make SAN=1 ...    the same with ASan + UBSan, into ./build/san
#   make check        unit + integration tests (installs Debian packages when root)
#   make bench        benchmarks, one JSON line per figure
#   make demo         start a private instance and place demo calls
#   make fuzz         run every libFuzzer target FUZZ_SECONDS (default 60) each
#   make install      PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc
#
# The targets that install packages (check, unit, integration, bench, demo)
# run tests/deps.sh first and only then start a sub-make to build: pkg-config
# is read when a make parses this file, so on a fresh machine the make that
# installed the -dev packages has already read empty compiler flags.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
UNITDIR    ?= /lib/systemd/system
DESTDIR    ?=
VERSION    := 0.1.0

CC      ?= cc
# libwebsockets: only the emulators (EMU_LIBS); the worker speaks RFC 6455 itself (ws.c, ws_server.c).
PKGS    := libevent jansson inih msgpack libmariadb libcurl openssl espeak-ng
PYTHON  ?= /usr/bin/python3

ifeq ($(SAN),1)
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2
endif

PKGS    += speexdsp
PKG_OK     := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
           -DVAGENT_VERSION='"$(VERSION)"' -DVAGENT_CONF='"$(SYSCONFDIR)/vagent/vagent.conf"' \
           -DVAGENT_SQLDIR='"$(DATADIR)/vagent/sql"' \
           $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -lrt

# One directory a program (see README, Layout). vagentd is one binary: the
# supervisor forks the api, the booking-writer and the workers from it.
AUDIO_SRC   := common/audiosocket.c common/wav.c common/audio.c
CONF_SRC    := common/conf.c common/conf_keys.c common/conf_value.c common/conf_did.c \
               common/conf_tool.c common/conf_validate.c common/conf_secret.c
COMMON_SRC  := common/log.c $(CONF_SRC) common/crc32.c common/base64.c common/buf.c \
               common/file_replace.c common/ulaw.c $(AUDIO_SRC)
COMMON_SRC  += common/twilio_sig.c
COMMON_SRC  += common/twiml.c
BOOKING_SRC := $(wildcard common/booking/*.c)
IPC_SRC     := $(wildcard ipc/*.c)
WORKER_SRC  := $(wildcard worker/*.c)
SUP_SRC     := $(wildcard supervisor/*.c)
API_SRC     := $(wildcard supervisor/api/*.c)
API_WWW     := $(wildcard supervisor/api/www/*)
WRITER_SRC  := $(wildcard supervisor/writer/*.c)
CTL_SRC     := $(wildcard supervisor/ctl/*.c)
LIB_SRC     := $(BOOKING_SRC) $(IPC_SRC) $(COMMON_SRC)
RECLOAD_SRC := tests/tools/vagent_recload.c
WAKEFLOOR_SRC := tests/tools/vagent_wakefloor.c
EMU_SRC    := tests/emu/emu_main.c tests/emu/emu_script.c tests/emu/emu_util.c tests/emu/emu_ws.c \
              tests/emu/emu_deepgram.c tests/emu/emu_dg_query.c tests/emu/emu_dg_results.c \
              tests/emu/emu_dg_vad.c \
              tests/emu/emu_cartesia.c tests/emu/emu_cart_ctx.c tests/emu/emu_tts.c \
              tests/emu/emu_openai.c tests/emu/emu_oai_check.c tests/emu/emu_oai_plan.c \
              tests/emu/emu_xi_tts.c
EMU_SRC    += tests/emu/emu_xi_api.c
EMU_SRC    += tests/emu/emu_xi_agent.c
EMU_SRC    += tests/emu/emu_twilio_rest.c tests/emu/emu_twilio_dial.c
EMU_SRC    += tests/emu/emu_twilio.c
EMU_SRC    += tests/emu/emu_twilio_relay.c
EMU_SRC    += tests/emu/emu_ws_conn.c tests/emu/emu_twilio_ws.c
EMU_LIBS   := $(shell pkg-config --libs libwebsockets libevent_pthreads espeak-ng 2>/dev/null) -lev -lpthread
CALLER_SRC := tests/caller/vagent_call.c tests/caller/vc_opts.c tests/caller/vc_call.c \
              tests/caller/vc_report.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# Quiet by default; V=1 shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

BINS := $(BUILD)/vagentd $(BUILD)/vagentctl $(BUILD)/vagent-call $(BUILD)/vagent-recload $(BUILD)/vagent-emu \
        $(BUILD)/vagent-wakefloor

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all clean install check unit integration bench demo deps pkgcheck fuzz \
        unit-run integration-run bench-run demo-run fuzz-run
all: $(BINS)

$(BUILD)/obj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The board's files (supervisor/api/www/) are built into vagentd by .incbin.
$(BUILD)/obj/%.o: %.S | pkgcheck
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/obj/supervisor/api/api_www.o: $(API_WWW)

$(BUILD)/vagentd: $(call obj,$(SUP_SRC) $(API_SRC) $(WRITER_SRC) $(WORKER_SRC) $(LIB_SRC)) \
		$(BUILD)/obj/supervisor/api/api_www.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vagentctl: $(call obj,$(CTL_SRC) $(LIB_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# vagentctl announce speaks its message with espeak-ng (ctl_announce.c).
$(BUILD)/vagentctl: LDLIBS += $(shell pkg-config --libs espeak-ng 2>/dev/null)

$(BUILD)/vagent-call: $(call obj,$(CALLER_SRC) $(AUDIO_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vagent-recload: $(call obj,$(RECLOAD_SRC) $(LIB_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

$(BUILD)/vagent-wakefloor: $(call obj,$(WAKEFLOOR_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lpthread

# Provider emulators (test doubles): tests/emu/, nothing in vagent links them.
$(BUILD)/vagent-emu: $(call obj,$(EMU_SRC) $(AUDIO_SRC) common/log.c)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(EMU_LIBS)

# Unit tests link the module under test with its dependencies (cmocka).
# tests/unit/test_NAME.mk may set UNIT_SRC_NAME to the sources test_NAME
# links; without it a test links ipc/ and common/ (booking included).
-include $(wildcard tests/unit/*.mk)
define unit_rule
$(BUILD)/tests/test_$(1): $(BUILD)/obj/tests/unit/test_$(1).o \
		$(call obj,$(or $(UNIT_SRC_$(1)),$(LIB_SRC)))
	@mkdir -p $$(dir $$@)
	@$$(if $(Q),echo "  LD      $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lcmocka
endef
$(foreach t,$(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c)),\
	$(eval $(call unit_rule,$(t))))

# Fuzz targets: tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput and
# tests/fuzz/fuzz_NAME.mk sets FUZZ_SRC_NAME, the product sources it links.
# Each is built twice: with the compiler and sanitizers of this build plus
# tests/fuzz/replay.c as main (make check replays tests/fuzz/corpus/NAME),
# and with clang's libFuzzer into build/fuzzer (make fuzz).
-include $(wildcard tests/fuzz/*.mk)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_BUILD := build/fuzzer
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer -DVAGENT_VERSION='"$(VERSION)"' \
               -DVAGENT_CONF='"$(SYSCONFDIR)/vagent/vagent.conf"' \
               -DVAGENT_SQLDIR='"$(DATADIR)/vagent/sql"' -DVAGENT_FUZZ $(PKG_CFLAGS)

$(FUZZ_BUILD)/obj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CLANG   $<")
	$(Q)clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

define fuzz_rule
$(BUILD)/fuzz/fuzz_$(1): $(BUILD)/obj/tests/fuzz/fuzz_$(1).o $(BUILD)/obj/tests/fuzz/replay.o \
		$(call obj,$(FUZZ_SRC_$(1)))
	@mkdir -p $$(dir $$@)
	@$$(if $(Q),echo "  LD      $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
$(FUZZ_BUILD)/fuzz_$(1): $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_$(1).o \
		$(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRC_$(1)))
	@$$(if $(Q),echo "  LD      $$@")
	$(Q)clang -fsanitize=fuzzer,address,undefined -o $$@ $$^ $$(LDLIBS)
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call fuzz_rule,$(f))))

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

deps:
	@sh tests/deps.sh

# Fails with one clear line instead of a screen of missing headers.
pkgcheck:
	@test "$(PKG_OK)" = yes || { echo "make: the -dev packages are missing" \
		"(pkg-config $(PKGS)): run 'make deps' as root or 'sh tests/deps.sh'" >&2; exit 1; }

unit: deps
	@$(MAKE) --no-print-directory unit-run

unit-run: $(UNIT_TESTS) $(FUZZ_REPLAY)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done
	@set -e; for f in $(FUZZ_NAMES); do echo "== replay fuzz corpus $$f"; \
		$(BUILD)/fuzz/fuzz_$$f tests/fuzz/corpus/$$f; done

integration: deps
	@$(MAKE) --no-print-directory integration-run

# Two passes. The tests mostly wait on real-time calls, so most run on
# INTEGRATION_JOBS pytest-xdist workers at once (each with its own MariaDB,
# ports and directories: tests/integration/conftest.py); those marked serial
# (they time audio against a 20 ms clock, or load the box) then run alone.
# INTEGRATION_JOBS=0 runs the first pass in one process too. Status 5 is
# pytest's "no test selected": a -k in PYTEST_ARGS may match one pass only.
INTEGRATION_JOBS ?= 4
INTEGRATION_PYTEST = VAGENT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration

integration-run: all
	$(INTEGRATION_PYTEST) -n $(INTEGRATION_JOBS) -m 'not serial' $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(INTEGRATION_PYTEST) -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(FUZZ_REPLAY)
	@$(MAKE) --no-print-directory unit-run
	@$(MAKE) --no-print-directory integration-run

# The build's lines go to stderr: stdout is the figures, one JSON object a line.
bench: deps
	@$(MAKE) --no-print-directory all >&2
	@$(MAKE) --no-print-directory bench-run

bench-run: all
	@VAGENT_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/bench/bench.py $(BENCH_ARGS)

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	@VAGENT_BUILD=$(abspath $(BUILD)) sh tests/demo.sh

fuzz:
	@sh tests/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
	@set -e; for f in $(FUZZ_NAMES); do mkdir -p $(FUZZ_BUILD)/corpus/$$f; \
		echo "== fuzz $$f for $(FUZZ_SECONDS) s"; \
		mkdir -p $(FUZZ_BUILD)/artifacts; \
		$(FUZZ_BUILD)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$f- \
			$(FUZZ_BUILD)/corpus/$$f tests/fuzz/corpus/$$f 2>$(FUZZ_BUILD)/fuzz_$$f.log \
			|| { tail -n 60 $(FUZZ_BUILD)/fuzz_$$f.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' $(FUZZ_BUILD)/fuzz_$$f.log; done

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/vagent \
		$(DESTDIR)$(DATADIR)/vagent $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/init.d \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/vagentd $(DESTDIR)$(SBINDIR)/vagentd
	install -m 0755 $(BUILD)/vagentctl $(DESTDIR)$(SBINDIR)/vagentctl
	install -m 0755 $(BUILD)/vagent-call $(DESTDIR)$(BINDIR)/vagent-call
	test -e $(DESTDIR)$(SYSCONFDIR)/vagent/vagent.conf || \
		install -m 0640 conf/vagent.conf $(DESTDIR)$(SYSCONFDIR)/vagent/vagent.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/vagent/prompts
	test -e $(DESTDIR)$(SYSCONFDIR)/vagent/prompts/local.md || \
		install -m 0644 conf/prompts/local.md $(DESTDIR)$(SYSCONFDIR)/vagent/prompts/local.md
	test -e $(DESTDIR)$(SYSCONFDIR)/vagent/prompts/cloud.md || \
		install -m 0644 conf/prompts/cloud.md $(DESTDIR)$(SYSCONFDIR)/vagent/prompts/cloud.md
# Call context files ([call] context_dir): Asterisk writes, vagentd reads.
	install -d -m 0770 $(DESTDIR)/var/spool/vagent
	if id vagent >/dev/null 2>&1 && getent group asterisk >/dev/null; then \
		chown vagent:asterisk $(DESTDIR)/var/spool/vagent; fi
	test -e $(DESTDIR)$(SYSCONFDIR)/vagent/api.key || \
		(umask 027; head -c 24 /dev/urandom | base64 > $(DESTDIR)$(SYSCONFDIR)/vagent/api.key)
	install -m 0644 conf/extensions_vagent.conf $(DESTDIR)$(DATADIR)/vagent/
	install -d $(DESTDIR)$(DATADIR)/vagent/sql && cp -R sql/migrations sql/seed sql/README.md $(DESTDIR)$(DATADIR)/vagent/sql/
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' init/vagentd.service \
		> $(DESTDIR)$(UNITDIR)/vagentd.service
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' init/vagentd.init \
		> $(DESTDIR)$(SYSCONFDIR)/init.d/vagentd
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/vagentd
	install -m 0644 init/vagentd.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/vagentd
	install -m 0644 man/vagentd.8 man/vagentctl.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf build
