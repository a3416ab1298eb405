/*
 * stt_dg_wire.h - Deepgram live transcription's wire format, without I/O
 * (protocols.md section 1): the listen URL a config asks for, and what one
 * text message from Deepgram means.
 *
 * Owns: nothing past a call. Pure functions, so the unit tests and the
 * fuzz target (tests/fuzz/fuzz_deepgram.c) run the code the worker runs.
 */
#ifndef VG_STT_DG_WIRE_H
#define VG_STT_DG_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "stt.h"

struct conf;

/*
 * The listen URL: the [stt] settings, and one keyterm (nova-3) or keywords
 * (older models) parameter per comma-separated term, URL-encoded. Sized
 * from the config, whatever its length. Returns a malloc'd string (the
 * caller frees it) or NULL when out of memory.
 */
char *dg_listen_url(const struct conf *c, int rate);

enum dg_kind {
	DG_IGNORED,		/* not JSON, or a type we do not act on */
	DG_SPEECH_STARTED,
	DG_UTTERANCE_END,
	DG_PARTIAL,
	DG_FINAL,
	DG_ERROR,		/* Deepgram says something went wrong: why is filled */
};

/*
 * One text message: calls the matching stt_events hook (on_speech_started,
 * on_partial, on_final, on_utterance_end; never on_error, which is the
 * client's to decide) with text that is never NULL. Returns what it was.
 * For DG_ERROR, why (whylen > 0) gets Deepgram's description, cut to fit.
 */
enum dg_kind dg_message(const char *data, size_t len, const struct stt_events *ev, void *arg,
			char *why, size_t whylen);

#endif
