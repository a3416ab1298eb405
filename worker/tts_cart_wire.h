/*
 * tts_cart_wire.h - Cartesia streaming TTS's wire format, without I/O
 * (protocols.md section 3): what one message from Cartesia means, and the
 * bytes of its audio.
 *
 * Owns: one parsed message (struct cart_msg) until cart_msg_clear(). Pure
 * functions, so the unit tests and the fuzz target
 * (tests/fuzz/fuzz_cartesia.c) run the code the worker runs. Safe on any
 * thread: no state outside what the caller passes.
 */
#ifndef VG_TTS_CART_WIRE_H
#define VG_TTS_CART_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CART_WORDS_MAX 512	/* word timings of one message we keep */

enum cart_kind { CART_IGNORED, CART_CHUNK, CART_DONE, CART_TIMESTAMPS, CART_ERROR };

struct cart_msg {
	json_t *root;		/* owned; the pointers below live as long (NULL:
				 * a chunk read in place, as long as its bytes) */
	enum cart_kind kind;
	uint32_t ctx;		/* the reply "<tag>-<n>" names; 0: not one of ours */
	const char *audio;	/* CART_CHUNK: base64, audio_len bytes */
	size_t audio_len;
	const char *error;	/* CART_ERROR: Cartesia's text, never NULL */
};

/*
 * Parses one text message; tag is the call's prefix of its context ids.
 * Returns 0, or -EBADMSG for anything but a JSON object (m->kind is then
 * CART_IGNORED and nothing is held). A chunk without string data, or a
 * type we do not know, is CART_IGNORED.
 */
int cart_msg_parse(struct cart_msg *m, const char *data, size_t len, const char *tag);
/* The same through jansson only: what cart_msg_parse must agree with. */
int cart_msg_parse_full(struct cart_msg *m, const char *data, size_t len, const char *tag);
void cart_msg_clear(struct cart_msg *m);	/* a cleared or zeroed m is fine */

/*
 * The word timings of a CART_TIMESTAMPS message: up to max words and their
 * end times (seconds). Returns n, or 0 when they are missing, do not pair
 * up, are not strings and numbers, or are more than max. Borrowed from m.
 */
size_t cart_msg_words(const struct cart_msg *m, const char **words, double *end, size_t max);

/*
 * Decodes a chunk's base64 audio into out (cap bytes, at least
 * CART_AUDIO_CAP(len)). Returns the bytes written (whole samples or not:
 * playout.h keeps a split sample's byte), or -1 for bytes that are not
 * base64 or a cap too small.
 */
#define CART_AUDIO_CAP(len) ((len) / 4 * 3 + 3)
long cart_audio_decode(const char *b64, size_t len, uint8_t *out, size_t cap);

#endif
