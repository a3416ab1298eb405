/*
 * tts.h - streaming text-to-speech for one call, behind an ops table.
 *
 * Owns: the provider connection that gives the agent its voice. One
 * connection per call; one context per agent reply: begin, text as it comes
 * (token by token), finish; or cancel on barge-in. The provider's decoded
 * audio goes to the call's playout (playout.h) as it arrives, on the
 * worker's single loop (there is no websocket thread);
 * contexts, their order, the flush of a cancelled reply, played samples and
 * the first-audio event are the playout's, not the provider's.
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
struct playout;
struct tts;
struct ws_loop;

struct tts_events {
	void (*on_done)(void *arg, uint32_t ctx);		/* all audio of ctx is in */
	/* Word timings of ctx, seconds from its first sample. */
	void (*on_words)(void *arg, uint32_t ctx, const char *const *words, const double *end,
			 size_t n);
	void (*on_error)(void *arg, const char *why, bool fatal);
};

struct tts_ops {
	const char *name;
	int (*start)(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		     struct playout *po, const char *uuid, const struct tts_events *ev,
		     void *arg);
	/* A new reply; returns its context number (playout_begin's). */
	uint32_t (*begin)(struct tts *t);
	int (*text)(struct tts *t, const char *text, size_t len);
	int (*finish)(struct tts *t);
	/* The current reply: none of it plays from now on (playout_cancel). */
	void (*cancel)(struct tts *t);
	void (*stop)(struct tts *t);
};

extern const struct tts_ops tts_cartesia;
extern const struct tts_ops tts_elevenlabs;	/* tts_elevenlabs.c */
extern const struct tts_ops tts_relay;	/* relay_io.c: Twilio's ConversationRelay speaks */
extern const struct tts_ops tts_espeak;	/* the local voice, when the TTS is down */

#endif
