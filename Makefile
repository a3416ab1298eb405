# vagent - build, install, test, benchmark, demo.
#
#   make              build everything into ./build
#   make SAN=1 ...    the same with ASan + UBSan, into ./build/san
#   make check        unit + integration tests (installs Debian packages when root)
#   make bench        benchmarks, one JSON line per figure
#   make demo         start a private instance and place demo calls
#   make install      PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc

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
PKGS    := libevent jansson inih msgpack libmariadb libcurl libwebsockets
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

AUDIO_SRC  := common/audiosocket.c common/wav.c common/audio.c
COMMON_SRC := common/log.c common/conf.c $(AUDIO_SRC) \
              common/record.c common/rec_put.c common/crc32.c common/db.c common/base64.c common/booking.c
IPC_SRC    := ipc/ring.c ipc/hist.c ipc/shm.c ipc/chan.c ipc/recq.c ipc/bell.c
WORKER_SRC := worker/wrk_main.c worker/wrk_call.c worker/wrk_pacer.c worker/wrk_context.c \
              worker/engine.c worker/eng_echo.c worker/eng_playback.c worker/ws.c worker/http.c \
              worker/llm_openai.c worker/stt_deepgram.c worker/tts_cartesia.c \
              worker/eng_local.c worker/agent_dialog.c worker/agent_tools.c worker/agent_ctx.c
SUP_SRC    := supervisor/sup_main.c supervisor/sup_pool.c supervisor/sup_listen.c \
              supervisor/sup_signals.c supervisor/sup_status.c supervisor/sup_control.c \
              supervisor/sup_notify.c supervisor/sup_child.c \
              supervisor/api_main.c supervisor/api_http.c supervisor/api_didctx.c \
              supervisor/api_booking.c supervisor/api_board.c \
              supervisor/bw_main.c supervisor/bw_collect.c supervisor/bw_journal.c \
              supervisor/bw_db.c
CTL_SRC    := supervisor/vagentctl.c supervisor/ctl_db.c
RECLOAD_SRC := tests/tools/vagent_recload.c
EMU_SRC    := tests/emu/emu_main.c tests/emu/emu_script.c tests/emu/emu_util.c tests/emu/emu_ws.c \
              tests/emu/emu_deepgram.c tests/emu/emu_dg_query.c tests/emu/emu_dg_results.c \
              tests/emu/emu_cartesia.c tests/emu/emu_cart_ctx.c tests/emu/emu_tts.c \
              tests/emu/emu_openai.c tests/emu/emu_oai_check.c tests/emu/emu_oai_plan.c
EMU_LIBS   := $(shell pkg-config --libs libwebsockets libevent_pthreads espeak-ng 2>/dev/null) -lpthread
CALLER_SRC := tests/caller/vagent_call.c tests/caller/vc_opts.c tests/caller/vc_call.c \
              tests/caller/vc_report.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# Quiet by default; V=1 shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

BINS := $(BUILD)/vagentd $(BUILD)/vagentctl $(BUILD)/vagent-call $(BUILD)/vagent-recload $(BUILD)/vagent-emu

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all clean install check unit integration bench demo deps
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/vagentd: $(call obj,$(SUP_SRC) $(WORKER_SRC) $(IPC_SRC) $(COMMON_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vagentctl: $(call obj,$(CTL_SRC) $(IPC_SRC) $(COMMON_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vagent-call: $(call obj,$(CALLER_SRC) $(AUDIO_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vagent-recload: $(call obj,$(RECLOAD_SRC) $(IPC_SRC) $(COMMON_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# Provider emulators (test doubles): tests/emu/, nothing in vagent links them.
$(BUILD)/vagent-emu: $(call obj,$(EMU_SRC) $(AUDIO_SRC) common/log.c)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(EMU_LIBS)

# Unit tests link the module under test with its dependencies (cmocka).
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(call obj,$(IPC_SRC) $(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

deps:
	@sh tests/deps.sh

unit: deps $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

integration: deps all
	VAGENT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

check: deps
	$(MAKE) all $(UNIT_TESTS)
	$(MAKE) unit
	$(MAKE) integration

bench: deps all
	@VAGENT_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/bench/bench.py $(BENCH_ARGS)

demo: deps all
	@VAGENT_BUILD=$(abspath $(BUILD)) sh tests/demo.sh

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
