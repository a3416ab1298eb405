/*
 * tts_xi_wire.h - ElevenLabs TTS's multi-context websocket, without I/O
 * (protocols.md 4.1, 4.4): the URL and output format for a call, the
 * messages we send, what one message from ElevenLabs means, its audio as
 * 16-bit PCM, and the cutting of a streamed reply into chunks.
 *
 * Owns: one parsed message (struct xi_msg) until xi_msg_clear(); one
 * reply's not yet sent text (struct xi_chunker). Pure functions, so the
 * unit tests run the code the worker runs. Safe on any thread: no state
 * outside what the caller passes.
 */
#ifndef VG_TTS_XI_WIRE_H
#define VG_TTS_XI_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the connection ---- */

struct xi_format {
	char name[16];		/* output_format, e.g. "ulaw_8000" */
	int rate;
	bool ulaw;		/* 8-bit mu-law, else 16-bit little-endian PCM */
};

/*
 * The output format for a call at rate: the configured one when its rate
 * is the call's, else the PCM format at the call's rate (a 16 kHz call
 * with ulaw_8000 configured gets pcm_16000; an 8 kHz call with pcm_16000
 * gets pcm_8000), so the audio never needs resampling. 0, or -EINVAL for
 * a configured name that is not ulaw_8000 / pcm_RATE or a rate ElevenLabs
 * has no format for.
 */
int xi_format_for(const char *configured, int rate, struct xi_format *out);

/* "<base>/v1/text-to-speech/<voice>/multi-stream-input?model_id=..&output_format=..
 * &inactivity_timeout=180". 0, or -ENAMETOOLONG. */
int xi_url(char *out, size_t len, const char *base, const char *voice, const char *model,
	   const struct xi_format *f);

/* ---- what we send (malloc'd JSON text, NULL without memory) ---- */

struct xi_voice {
	double stability, similarity_boost, speed;
	int schedule[4];	/* chunk_length_schedule; schedule[0] 0: none sent */
};

/* A context's first message: a single space and its settings. */
char *xi_msg_init(const char *ctx, const struct xi_voice *v);
/* Text of a context (ends with one space), with flush:true to generate now;
 * text may be empty with flush. */
char *xi_msg_text(const char *ctx, const char *text, size_t len, bool flush);
/* No more input: ElevenLabs finishes what it has, then isFinal. */
char *xi_msg_close(const char *ctx);

/* ---- what ElevenLabs sends ---- */

struct xi_msg {
	json_t *root;		/* owned; the pointers below live as long */
	uint32_t ctx;		/* the reply "<tag>-<n>" names; 0: not one of ours */
	const char *audio;	/* base64 or NULL; audio_len bytes */
	size_t audio_len;
	bool final;		/* isFinal (or is_final) true */
	const char *error;	/* an error message's text, else NULL */
	const char *code;	/* its "error" code (input_timeout_exceeded, ...), or "" */
};

/*
 * Parses one text message; tag is the call's prefix of its context ids
 * (contextId or context_id, both spellings met in the wild). 0, or
 * -EBADMSG for anything but a JSON object (nothing is then held).
 */
int xi_msg_parse(struct xi_msg *m, const char *data, size_t len, const char *tag);
void xi_msg_clear(struct xi_msg *m);	/* a cleared or zeroed m is fine */

/* An error code that asking again cannot cure (a bad key, no quota). */
bool xi_error_permanent(const char *code);

/*
 * Decodes base64 audio into out as 16-bit little-endian PCM: mu-law bytes
 * through a table (ulaw), PCM as it is. out holds at least
 * XI_AUDIO_CAP(len). Returns the bytes written (a PCM chunk may end in
 * half a sample: playout.h keeps it), or -1 for bytes that are not base64.
 */
#define XI_AUDIO_CAP(len) (((len) / 4 * 3 + 3) * 2)
long xi_audio_decode(const char *b64, size_t len, bool ulaw, uint8_t *out, size_t cap);

/* The G.711 mu-law byte u as 16-bit linear. */
int16_t xi_ulaw_linear(uint8_t u);

/* ---- the chunks of one reply ---- */

/*
 * ElevenLabs waits (by its chunk schedule) for 120 characters before it
 * speaks; the seed waited for a full stop. The reply goes out instead as
 * soon as it has a clause or XI_FIRST_WORDS words, then clause by clause,
 * each flushed so ElevenLabs speaks it at once: a slow model never leaves
 * a clause unsaid while the next one is written, and a fast one costs no
 * generation per word. Only a long run without a clause is cut at a space
 * unflushed, left to the schedule.
 */
#define XI_FIRST_WORDS 4
#define XI_CHUNK_MAX 1024	/* text held; a longer run without a clause is cut at a space */

struct xi_chunker {
	char text[XI_CHUNK_MAX];
	size_t len;
	bool started;		/* the reply's first chunk is out */
};

void xi_chunker_reset(struct xi_chunker *c);

/* Appends what fits of text; returns the bytes taken (take chunks, then
 * append the rest). */
size_t xi_chunker_add(struct xi_chunker *c, const char *text, size_t len);

/*
 * The next chunk into out (at least XI_CHUNK_MAX + 2 bytes, NUL-terminated):
 * its length, always ending in exactly one space, or 0 when none is due.
 * end: the reply is complete, everything left goes (0 if only blanks).
 * *flush: ElevenLabs should speak it now.
 */
size_t xi_chunker_take(struct xi_chunker *c, bool end, char *out, bool *flush);

#endif
