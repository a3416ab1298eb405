/*
 * stt.h - streaming speech-to-text for one call, behind an ops table.
 *
 * Owns: the provider connection that hears the caller. Caller audio is
 * read from the call's inbound ring when the socket can take it (the
 * provider is woken with stt_audio()), on the worker's single loop, as is
 * everything else here; what it hears comes back as callbacks:
 * speech started, partial text, final text (with whether the caller has
 * finished the utterance), utterance end. A connection the provider closes
 * is reopened by the client itself; only a lasting failure is an error.
 *
 * The contract of llm.h holds here too: start() returns 0 or -errno, never
 * calls back from inside itself, and leaves nothing allocated on failure;
 * every callback runs on the main loop. on_error(fatal) is the terminal
 * callback: nothing follows it, and stop() must still be called to free.
 */
#ifndef VG_STT_H
#define VG_STT_H

#include <stdbool.h>

struct conf;
struct ring;
struct stt;
struct ws_loop;

struct stt_events {
	void (*on_speech_started)(void *arg);
	void (*on_partial)(void *arg, const char *text);
	/* A final piece; speech_final: the caller has paused, the turn is theirs to end. */
	void (*on_final)(void *arg, const char *text, bool speech_final);
	void (*on_utterance_end)(void *arg);
	/* fatal: no reconnection will follow. */
	void (*on_error)(void *arg, const char *why, bool fatal);
	/*
	 * Where the caller's side speaks the agent's replies itself (a text
	 * transport): the caller talked over the latest one, having heard
	 * only this of it. May be NULL.
	 */
	void (*on_heard)(void *arg, const char *heard);
};

struct stt_ops {
	const char *name;
	int (*start)(struct stt **out, struct ws_loop *loop, const struct conf *c, int rate,
		     struct ring *audio, const char *uuid, const struct stt_events *ev, void *arg);
	/* Send the caller audio in the ring now (the engine decides when). */
	void (*audio)(struct stt *s);
	/* End of call: flush, close, free. NULL is fine. */
	void (*stop)(struct stt *s);
};

extern const struct stt_ops stt_deepgram;
extern const struct stt_ops stt_relay;	/* relay_io.c: Twilio's ConversationRelay hears */

#endif
