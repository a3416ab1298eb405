/*
 * engine.h - what answers a call: the engine ops table and its registry.
 *
 * Owns: the contract between the call runtime (wrk_call.c) and whatever
 * produces the agent's audio. An engine reads caller audio from the call's
 * inbound ring, writes agent audio to the outbound ring, and may ask the
 * call to end once its audio has played. It never touches the socket; the
 * pacer sends what the outbound ring holds, one frame every 20 ms.
 * Adding an engine: one file with its ops, one line in engine.c.
 */
#ifndef VG_ENGINE_H
#define VG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct call;

/* What an engine adds to the call's record; strings are malloc'd, the call frees them. */
struct call_summary {
	char outcome[32];		/* e.g. "booked"; empty: the call's own */
	int turns, barge_ins;
	char *latency_json;
	char *transcript_json;
};

struct engine_ops {
	const char *name;
	/*
	 * The pacer sends silence when the outbound ring is empty (every
	 * tick, or once a second with [call] send_silence = no).
	 */
	bool silence_when_idle;
	/* Once the call's rate is known. 0, or negative to end the call. */
	int (*start)(struct call *c);
	/*
	 * Caller audio was appended to the inbound ring; pcm is that frame
	 * (little-endian samples, possibly unaligned), for level detection.
	 */
	void (*on_audio)(struct call *c, const uint8_t *pcm, size_t samples);
	/* A DTMF key ('0'-'9', '*', '#', 'A'-'D'). May be NULL. */
	void (*on_dtmf)(struct call *c, char digit);
	/* Every pacer tick, before a frame is taken. May be NULL. */
	void (*on_tick)(struct call *c);
	/*
	 * How long the caller's frames may wait in the socket before the
	 * engine must see them, in ms; 0, each as it comes. Asked while no
	 * agent audio goes and silence is not sent, and on a transport whose
	 * peer buffers what it plays (Twilio) while the agent speaks too. The
	 * call then reads them in batches, and on_tick runs once per batch.
	 * May be NULL (0).
	 */
	int (*read_batch_ms)(struct call *c);
	/*
	 * Whether the agent may begin to speak before the next batch (a
	 * reply is on its way). With [call] send_silence = yes on a socket
	 * the kernel paces, silence is written ahead of time only while this
	 * says false, so that a reply never waits behind it. May be NULL
	 * (silence then goes frame by frame).
	 */
	bool (*reply_near)(struct call *c);
	/* The call is over: what the call record should say. May be NULL. */
	void (*summary)(struct call *c, struct call_summary *s);
	/* The call is over; free engine state. May be NULL. */
	void (*stop)(struct call *c);
};

/* NULL if no engine has that name. */
const struct engine_ops *engine_find(const char *name);

/* For conf_load's validation. */
bool engine_known(const char *name);

extern const struct engine_ops engine_echo;
extern const struct engine_ops engine_playback;
extern const struct engine_ops engine_local;
extern const struct engine_ops engine_elevenlabs;

#endif
