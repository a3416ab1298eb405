/*
 * tts.h - streaming text-to-speech for one call, behind an ops table.
 *
 * Owns: the provider connection that gives the agent its voice. One
 * connection per call; one context per agent reply: begin, text as it comes
 * (token by token), finish; or cancel on barge-in. Audio goes straight into
 * the agent ring on the websocket thread, at the call's rate; audio of any
 * context but the current one is dropped there, so a cancelled reply can
 * never be heard, whatever the provider still sends.
 *
 * The contract of llm.h holds here too: start() returns 0 or -errno, never
 * calls back from inside itself, and leaves nothing allocated on failure;
 * every callback runs on the main loop. on_error(fatal) is the terminal
 * callback: nothing follows it, text() and finish() then return -ENOTCONN,
 * and stop() must still be called to free. A non-fatal on_error means the
 * current reply will not finish; the next one opens a new connection.
 */
#ifndef VG_TTS_H
#define VG_TTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;
struct ring;
struct tts;
struct ws_loop;

struct tts_events {
	void (*on_first_audio)(void *arg, uint32_t ctx);	/* time to first byte */
	void (*on_done)(void *arg, uint32_t ctx);		/* all audio of ctx is in */
	/* Word timings of ctx, seconds from its first sample. */
	void (*on_words)(void *arg, uint32_t ctx, const char *const *words, const double *end,
			 size_t n);
	void (*on_error)(void *arg, const char *why, bool fatal);
};

struct tts_ops {
	const char *name;
	int (*start)(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		     struct ring *out_ring, const char *uuid, const struct tts_events *ev,
		     void *arg);
	/* A new reply; returns its context number. */
	uint32_t (*begin)(struct tts *t);
	int (*text)(struct tts *t, const char *text, size_t len);
	int (*finish)(struct tts *t);
	void (*cancel)(struct tts *t);
	/* Samples of the current context written to the ring so far. */
	uint64_t (*samples)(struct tts *t);
	/*
	 * Main loop, every pacer tick: true when audio of the current context
	 * is waiting for ring space (the client then nudges its thread), and
	 * whether anything in the ring may belong to an older context
	 * (stale: the pacer must flush before playing).
	 */
	void (*tick)(struct tts *t, bool *stale, bool *backlog);
	void (*stop)(struct tts *t);
};

extern const struct tts_ops tts_cartesia;

#endif
