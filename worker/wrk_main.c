/*
 * wrk_main.c - the worker process: its loop, its channel, its slot.
 *
 * Life: forked by the supervisor (which has already reset signal
 * dispositions and closed every descriptor the worker must not hold),
 * takes its signals through a signalfd (libevent's signal handling is
 * process-global and still belongs to the supervisor's inherited base),
 * maps its own slot, says READY, then serves one call at a time. It exits
 * when told to retire, after worker_max_use calls, on SIGTERM (hanging up
 * its call first), or when the supervisor is gone and no call is left.
 *
 * Heartbeat: a one-second timer of this loop stamps the slot's
 * heartbeat_ns, and so does every call hand-off. Anything that keeps the
 * loop from turning (a blocking open, a runaway callback, SIGSTOP) stops
 * the stamps, and the supervisor's watchdog kills this process: the call
 * fails but the slot comes back.
 */
#include "breaker.h"
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/chan.h"
#include "call_rt.h"
#include "http.h"
#include "wrk_sched.h"
#include "ws.h"

static void set_slot_state(struct worker *w, enum slot_state st)
{
	slot_write_begin(w->slot);
	w->slot->info.state = st;
	w->slot->info.pid = (int32_t)getpid();
	w->slot->info.generation = w->generation;
	if (st != SLOT_BUSY) {
		w->slot->info.uuid[0] = '\0';
		w->slot->info.did[0] = '\0';
		w->slot->info.cli[0] = '\0';
		w->slot->info.engine[0] = '\0';
		w->slot->info.rate = 0;
	}
	slot_write_end(w->slot);
}

static void stamp(struct worker *w, int64_t now)
{
	w->beat_ns = now;
	atomic_store_explicit(&w->slot->heartbeat_ns, now, memory_order_relaxed);
}

/* Idle, or a call before its first audio: the timer stamps every second. */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval sec = { 1, 0 };
	(void)fd; (void)what;

	stamp(w, mono_ns());
	event_add(w->hb_ev, &sec);
}

void worker_beat(struct worker *w, int64_t now)
{
	struct timeval later = { 1, 500000 };

	if (now - w->beat_ns < NS_PER_S)
		return;
	stamp(w, now);
	event_add(w->hb_ev, &later);	/* moved in its heap: never due while ticks come */
}

static int tell_sup(struct worker *w, enum chan_type type, int result, uint16_t flags)
{
	struct chan_msg m = {
		.magic = CHAN_MAGIC, .type = (uint16_t)type, .flags = flags,
		.generation = w->generation, .slot = w->slot_idx, .result = result,
	};
	return chan_send(w->chan, &m, -1);
}

struct ws_loop *worker_ws(struct worker *w)
{
	if (!w->ws && (ws_loop_new(&w->ws, w->base, w->tls) < 0 ||
		       ws_loop_resolver(w->ws, w->conf->resolv_conf) < 0))
		log_error("worker", NULL, "cannot start the websocket clients");
	return w->ws;
}

struct http *worker_http(struct worker *w)
{
	if (!w->http && http_new(&w->http, w->base) < 0)
		log_error("worker", NULL, "cannot set up HTTP");
	return w->http;
}

void worker_call_done(struct worker *w, enum call_outcome outcome)
{
	bool exiting;

	w->calls_served++;
	atomic_fetch_add_explicit(&w->stats->calls, 1, memory_order_relaxed);
	exiting = w->retiring || w->stopping ||
		  (w->conf->worker_max_use && w->calls_served >= (uint64_t)w->conf->worker_max_use);
	set_slot_state(w, exiting ? SLOT_RETIRING : SLOT_IDLE);
	int rc = tell_sup(w, CHAN_DONE,
			  outcome == CALL_OUTCOME_OK ? CHAN_CALL_OK : CHAN_CALL_FAILED,
			  exiting ? CHAN_F_EXITING : 0);
	if (rc < 0 && rc != -EPIPE)
		log_error("worker", NULL, "cannot report to the supervisor: %s", strerror(-rc));
	if (exiting || rc < 0)
		event_base_loopbreak(w->base);
}

static void on_call_msg(struct worker *w, const struct chan_msg *m, int fd)
{
	if (fd < 0) {
		log_error("worker", NULL, "call message without a socket");
		return;
	}
	if (w->call || w->retiring) {
		/* The supervisor's table and ours disagree: refuse, do not mix calls. */
		log_error("worker", NULL, "got call %llu while %s; closing it",
			  (unsigned long long)m->seq, w->call ? "busy" : "retiring");
		close(fd);
		tell_sup(w, CHAN_DONE, CHAN_CALL_FAILED, 0);
		return;
	}
	stamp(w, mono_ns());	/* the watchdog's clock for this call starts now */
	set_slot_state(w, SLOT_BUSY);
	int rc = m->flags & CHAN_F_TWILIO ? call_start_twilio(w, fd, m->seq, m->t_accept_ns) :
		 call_start(w, fd, m->seq, m->t_accept_ns);
	if (rc < 0) {
		log_error("worker", NULL, "cannot start call %llu: %s",
			  (unsigned long long)m->seq, strerror(-rc));
		worker_call_done(w, CALL_OUTCOME_FAILED);
	}
}

static void on_chan(evutil_socket_t sock, short what, void *arg)
{
	struct worker *w = arg;
	struct chan_msg m;
	int fd, rc;
	(void)what;

	while ((rc = chan_recv(sock, &m, &fd)) == 0) {
		switch (m.type) {
		case CHAN_CALL:
			on_call_msg(w, &m, fd);
			break;
		case CHAN_RETIRE:
			w->retiring = true;
			if (!w->call)
				event_base_loopbreak(w->base);
			break;
		default:
			log_error("worker", NULL, "unexpected channel message %u", m.type);
			if (fd >= 0)
				close(fd);
		}
	}
	if (rc == -EAGAIN)
		return;
	if (rc == -EPROTO) {
		log_error("worker", NULL, "malformed message from the supervisor");
		return;
	}
	/* The supervisor is gone: finish the call in progress, take no other. */
	event_del(w->chan_ev);
	w->retiring = true;
	if (!w->call)
		event_base_loopbreak(w->base);
}

static void on_term(struct worker *w)
{
	w->stopping = true;
	if (w->call)
		call_abort(w->call, CALL_OUTCOME_OK, "worker stopping");
	else
		event_base_loopbreak(w->base);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct signalfd_siginfo si;
	(void)what;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM) {
			on_term(w);
		} else if (si.ssi_signo == SIGUSR1) {
			int rc = log_reopen();
			if (rc < 0)
				log_error("worker", NULL, "cannot reopen the log file: %s",
					  strerror(-rc));
		}
	}
}

static void setup(struct worker *w, const struct worker_args *a)
{
	const struct shm_section *stats;
	char err[256];
	int rc;

	w->conf = a->conf;
	w->slot_idx = a->slot_idx;
	w->generation = a->generation;
	w->chan = a->chan;
	w->tls = a->tls;
	w->hdr = *a->hdr;
	rc = shm_map_slot(&w->region, a->shm_fd, &w->hdr, a->slot_idx);
	if (rc < 0)
		fatal("worker: cannot map slot %u: %s", a->slot_idx, strerror(-rc));
	if (shm_map_bell(&w->bell_map, a->shm_fd, &w->hdr) < 0)
		fatal("worker: cannot map the doorbell");
	if (shm_section_find(&w->hdr, &brk_section_spec, &stats, err, sizeof(err)) < 0 ||
	    shm_map_section(&w->brk_map, a->shm_fd, stats) < 0)
		fatal("worker: cannot map the breakers");
	w->breaker = w->brk_map.base;
	/* From here on this process can reach its own slot, the bell and the breakers only. */
	munmap(a->segment, a->segment_size);
	close(a->shm_fd);
	if ((rc = shm_seal_map(&w->region)) < 0 || (rc = shm_seal_map(&w->bell_map)) < 0 ||
	    (rc = shm_seal_map(&w->brk_map)) < 0)
		log_debug("worker", NULL, "mappings not sealed: %s", strerror(-rc));
	w->bell = w->bell_map.base;
	w->slot = w->region.base;
	if (shm_section_find(&w->hdr, &wrk_stats_section, &stats, err, sizeof(err)) < 0)
		panic("worker: %s", err);	/* laid out by our own supervisor */
	w->stats = shm_region_section(w->region.base, stats);
	w->ring_in = slot_ring_in(w->region.base, &w->hdr);
	w->ring_out = slot_ring_out(w->region.base, &w->hdr);

	char how[96];
	wrk_sched_raise(w->conf->realtime, how, sizeof(how));
	log_debug("worker", NULL, "CPU class: %s", how);

	/* The businesses' clock, for "good morning" (one process, one zone). */
	setenv("TZ", w->conf->api_time_zone, 1);
	tzset();
	signal(SIGINT, SIG_IGN);	/* ^C reaches the supervisor, which drains */
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigset_t mine;
	sigemptyset(&mine);
	sigaddset(&mine, SIGTERM);
	sigaddset(&mine, SIGUSR1);
	w->sig_fd = signalfd(-1, &mine, SFD_NONBLOCK | SFD_CLOEXEC);
	w->base = event_base_new();
	if (!w->base || w->sig_fd < 0)
		fatal("worker: cannot create an event base");
	w->chan_ev = event_new(w->base, w->chan, EV_READ | EV_PERSIST, on_chan, w);
	w->sig_ev = event_new(w->base, w->sig_fd, EV_READ | EV_PERSIST, on_signal, w);
	w->hb_ev = evtimer_new(w->base, on_heartbeat, w);
	struct timeval sec = { 1, 0 };
	if (!w->chan_ev || !w->sig_ev || !w->hb_ev || event_add(w->chan_ev, NULL) < 0 ||
	    event_add(w->sig_ev, NULL) < 0 || event_add(w->hb_ev, &sec) < 0)
		fatal("worker: cannot register events");
	stamp(w, mono_ns());
}

void worker_main(const struct worker_args *a)
{
	struct worker w = { 0 };
	sigset_t mine;

	setup(&w, a);
	/*
	 * The supervisor blocked every signal across fork(); now only the two
	 * the signalfd takes stay blocked (a pending one is read from the fd).
	 */
	sigemptyset(&mine);
	sigaddset(&mine, SIGTERM);
	sigaddset(&mine, SIGUSR1);
	sigprocmask(SIG_SETMASK, &mine, NULL);
	set_slot_state(&w, SLOT_IDLE);
	if (tell_sup(&w, CHAN_READY, 0, 0) < 0)
		_exit(1);
	event_base_dispatch(w.base);

	set_slot_state(&w, SLOT_RETIRING);
	ws_loop_free(w.ws);
	http_free(w.http);
	event_free(w.chan_ev);
	event_free(w.sig_ev);
	event_free(w.hb_ev);
	close(w.sig_fd);
	event_base_free(w.base);
	shm_unmap(&w.region);
	shm_unmap(&w.bell_map);
	shm_unmap(&w.brk_map);
	close(w.chan);
	/* Skip the supervisor's atexit work (pidfile, segment): it is not ours. */
	_exit(0);
}
