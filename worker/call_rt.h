/*
 * call_rt.h - the call runtime as a transport sees it.
 *
 * A transport carries one call's audio and events between the caller's
 * side and the runtime (wrk_call.c): AudioSocket (in wrk_call.c itself)
 * and Twilio Media Streams (call_twilio.c). The runtime owns what is the
 * same for both: the engine, the inbound ring, the pacer and its limits,
 * the playout, the slot and the call record. A transport reads its socket
 * and calls in here; the runtime calls the transport's ops to send.
 *
 * Engines never see which transport a call has (engine.h).
 */
#ifndef VG_CALL_RT_H
#define VG_CALL_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"

struct ws_srv;

struct call_transport {
	const char *name;
	/*
	 * One pacer tick (20 ms): sends what is due of the agent's audio,
	 * taken with call_rt_take(). *drained: nothing of the agent's waits
	 * in the ring nor is unheard at the peer. 0, -ENOBUFS (the peer is
	 * not reading: the call fails) or another -errno (the peer is gone).
	 */
	int (*pace)(struct call *c, bool *drained);
	/* The current reply was cancelled (barge-in): the peer drops its copy. May be NULL. */
	void (*flush)(struct call *c);
	/* The call is ending and the peer should hear of it. May be NULL. */
	void (*hangup)(struct call *c);
	/* Frees the transport's state and closes its socket. May be NULL. */
	void (*close)(struct call *c);
	/*
	 * Reading in batches while the agent is silent (wrk_call.c): hold
	 * with ms > 0 stops watching the socket (the runtime reads every ms),
	 * with 0 watches it again; read hands in what came meanwhile. Both
	 * NULL: frame by frame always.
	 */
	void (*hold)(struct call *c, int ms);
	void (*read)(struct call *c);
	/*
	 * The peer plays from a buffer of its own (Twilio), so batches go on
	 * while the agent speaks, pace running once per batch: whether the
	 * peer can now go ms with no pace and not run dry (it holds enough
	 * of the agent's audio, or holds none and none waits to go). NULL:
	 * the agent's audio is paced frame by frame (AudioSocket), and pace
	 * sends silence every tick unless [call] send_silence = no (no
	 * batches then).
	 */
	bool (*holds)(struct call *c, int ms);
};

/* A call on transport tp with state tp_state (freed by tp->close). 0 or -ENOMEM. */
int call_rt_new(struct call **out, struct worker *w, uint64_t seq, int64_t t_accept_ns,
		const struct call_transport *tp, void *tp_state);
void *call_rt_tp(const struct call *c);

/*
 * The caller is known: uuid names the call; did and cli, when not NULL,
 * are its context (else the context file keyed by uuid is read).
 */
void call_rt_begin(struct call *c, const char *uuid, const char *did, const char *cli);
/* Before call_rt_begin: the call's own variables (an outbound call's), stolen; NULL: none. */
void call_rt_set_vars(struct call *c, json_t *vars);
bool call_rt_begun(const struct call *c);

/* Caller audio (little-endian samples at rate); the first starts the engine. */
void call_rt_audio(struct call *c, int rate, const uint8_t *pcm, size_t samples);
void call_rt_dtmf(struct call *c, char digit);

/* Starts the engine at rate with no audio yet (a text transport). 0 or -errno (the call ends). */
int call_rt_start(struct call *c, int rate);

/* Another transport takes the call over (its upgrade named it); the old state is the caller's. */
void call_rt_set_transport(struct call *c, const struct call_transport *tp, void *tp_state);
const struct call_transport *call_rt_transport(const struct call *c);

/* Something came from the caller at now; clock: it was a caller audio frame. */
void call_rt_rx(struct call *c, int64_t now, bool clock);

/* Up to n samples of the agent's audio, counted as sent. Returns how many. */
size_t call_rt_take(struct call *c, int16_t *s, size_t n);
/* n samples the caller is sent by a transport that takes them itself: the recording's right. */
void call_rt_record_out(struct call *c, const int16_t *s, size_t n);
/* Whether the call is being recorded: a transport need not prepare what
 * nobody will keep. */
bool call_rt_recording(const struct call *c);
/* The agent was silent and its audio plays from now, ahead samples after
 * the caller's last that were read: the recording's right catches up. */
void call_rt_record_resume(struct call *c, size_t ahead);
/* The last n samples of the agent's audio sent were cleared unplayed. */
void call_rt_record_unplayed(struct call *c, size_t n);

/* Ends the call (deferred, see wrk_call.c); hangup: tell the peer (tp->hangup). */
void call_rt_end(struct call *c, enum call_outcome o, bool hangup, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool call_rt_ended(const struct call *c);

/* Twilio Media Streams (call_twilio.c): fd is the accepted websocket's socket. */
int call_start_twilio(struct worker *w, int fd, uint64_t seq, int64_t t_accept_ns);

/*
 * ConversationRelay (call_relay.c): an upgrade to /twilio/relay on a Twilio
 * socket. Checks the signature for the relay URL and takes the call and
 * its socket over. false: refused (the call ends).
 */
bool call_relay_path(const char *path);
bool call_relay_take(struct call *c, struct ws_srv *ws, const char *sig);

#endif
