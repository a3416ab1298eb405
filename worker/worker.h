/*
 * worker.h - the per-call worker process.
 *
 * Owns: one process that serves calls one at a time, forked by the
 * supervisor with its configuration generation. It maps only its own
 * shared-memory slot, receives call sockets over its channel, and reports
 * each call's end. It never accepts connections and never touches another
 * slot. If the supervisor goes away, it finishes its call and exits.
 */
#ifndef VG_WORKER_H
#define VG_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "../ipc/shm.h"
#include "call.h"
#include "wrk_stats.h"

struct brk_section;
struct call;
struct conf;
struct http;
struct ws_loop;
struct event;
struct event_base;

struct worker {
	const struct conf *conf;	/* the generation this worker was forked with */
	uint32_t slot_idx;
	uint32_t generation;
	int chan;			/* SOCK_SEQPACKET to the supervisor */

	struct shm_header hdr;		/* copy: offsets of the rings */
	struct shm_map region;		/* this worker's slot region only */
	struct shm_map bell_map;	/* the booking-writer's doorbell */
	struct bell *bell;
	struct slot *slot;
	struct wrk_stats *stats;	/* in this worker's region */
	struct shm_map brk_map;		/* the providers' breakers, shared by all workers */
	struct brk_section *breaker;	/* in brk_map */
	struct ring *ring_in, *ring_out;

	struct event_base *base;
	struct event *chan_ev;
	int sig_fd;			/* signalfd: SIGTERM, SIGUSR1 */
	struct event *sig_ev;
	struct event *hb_ev;		/* the slot's heartbeat_ns, when no tick stamps it */
	int64_t beat_ns;		/* the last stamp */

	struct call *call;		/* NULL while idle */
	struct ws_loop *ws;		/* provider websockets, made on first use */
	struct ssl_ctx_st *tls;		/* the supervisor's, shared copy-on-write; or NULL */
	struct http *http;		/* provider HTTP, made on first use */
	uint64_t calls_served;
	bool retiring;			/* exit after the current call */
	bool stopping;			/* SIGTERM: end the call now, exit */
};

struct worker_args {
	const struct conf *conf;
	uint32_t slot_idx;
	uint32_t generation;
	int chan;
	int shm_fd;
	const struct shm_header *hdr;
	void *segment;			/* the whole segment inherited from the */
	size_t segment_size;		/* supervisor, unmapped at once */
	struct ssl_ctx_st *tls;		/* shared TLS client context (tls_client.h), or NULL */
};

/* Runs in the child right after fork(); never returns. */
void worker_main(const struct worker_args *a) __attribute__((noreturn));

/* The worker's provider loops, created on first use and kept for later calls. */
struct ws_loop *worker_ws(struct worker *w);
struct http *worker_http(struct worker *w);

/*
 * The call's 20 ms tick (now, CLOCK_MONOTONIC): stamps the heartbeat once
 * a second and keeps its timer from waking the worker while ticks come.
 */
void worker_beat(struct worker *w, int64_t now);

/* Called by the call once it is over and cleaned up. */
void worker_call_done(struct worker *w, enum call_outcome outcome);

#endif
