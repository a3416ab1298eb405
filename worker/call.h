/*
 * call.h - one call in a worker: the AudioSocket session and its state
 * (a Twilio Media Streams call shares the runtime: call_rt.h).
 *
 * Owns: the call's socket (read, frame, write), its phase, the pacer that
 * paces agent audio out, and the call's slot fields in shared memory. The
 * engine sees a call only through the accessors below.
 *
 * Fails: a malformed frame, a dead peer, an idle or over-long call end
 * this call only, with one log line naming the reason; the worker goes on.
 */
#ifndef VG_CALL_H
#define VG_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../common/audiosocket.h"

struct call;
struct conf;
struct playout;
struct ring;
struct worker;

/* How a call ended, for the supervisor's counters. */
enum call_outcome {
	CALL_OUTCOME_OK = 0,
	CALL_OUTCOME_FAILED,
};

/*
 * Takes ownership of fd (an accepted AudioSocket connection) and starts
 * the call on the worker's event base. t_accept_ns: when the supervisor
 * accepted it (CLOCK_MONOTONIC), for the handoff latency.
 * 0 or -errno (fd is closed on failure).
 */
int call_start(struct worker *w, int fd, uint64_t seq, int64_t t_accept_ns);

/* Ends the call now, sending Asterisk a hangup frame if the socket lives. */
void call_abort(struct call *c, enum call_outcome outcome, const char *reason);

/* Engine API. */
const struct conf *call_conf(const struct call *c);
const char *call_uuid(const struct call *c);
const char *call_did(const struct call *c);
const char *call_cli(const struct call *c);
/* The variables the call was placed with (vagentctl call --var), name -> string; NULL: none. */
json_t *call_vars(const struct call *c);
struct worker *call_worker(const struct call *c);
int64_t call_start_real_ns(const struct call *c);
uint64_t call_frames_out(const struct call *c);	/* frames sent to the caller so far */
int call_rate(const struct call *c);
int call_frame_samples(const struct call *c);	/* 20 ms at the call's rate */
struct ring *call_ring_in(struct call *c);	/* caller -> agent */
struct ring *call_ring_out(struct call *c);	/* agent -> caller */
/* The outbound ring's replies (playout.h): TTS and cloud bridges write
 * through it, and only it reads the ring. NULL before the engine starts. */
struct playout *call_playout(struct call *c);
void *call_engine_state(const struct call *c);
void call_set_engine_state(struct call *c, void *state);
/* The provider stages the breakers had down at call start: 1u << enum brk_stage. */
unsigned call_down_stages(const struct call *c);

/*
 * Agent audio has just arrived after a pause: send it now rather than at
 * the next 20 ms tick (the pacer moves its phase; never closer than 2 ms
 * to the previous frame, so the caller sees no burst).
 */
void call_play_now(struct call *c);

/* Ends the call once the queued agent audio has played (then a hangup frame). */
void call_hangup_after_playout(struct call *c, const char *reason);

#endif
