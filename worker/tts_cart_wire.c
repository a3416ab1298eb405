/*
 * tts_cart_wire.c - Cartesia's messages and audio. See tts_cart_wire.h.
 *
 * A message is a peer's bytes: any field may be missing or of another
 * type. Context ids are read by tts_wire.c, strictly, as ElevenLabs' are.
 * Chunks come many times a second per call, so one in plain form is read
 * in place (chunk_fast); every other message goes through jansson.
 */
#include "tts_cart_wire.h"

#include <errno.h>
#include <string.h>

#include "../common/base64.h"
#include "json_plain.h"
#include "tts_wire.h"

#define CTX_ID_MAX 64		/* "<tag>-<n>": longer is not ours, and jansson says so */

/*
 * A chunk in plain form (json_plain.h): an object of plain strings and
 * scalars whose type, data and context_id are strings, type "chunk"; the
 * last of a key twice counts, as with jansson. 1: read into m, its audio
 * in place; 0: not that form, m untouched.
 */
static int chunk_fast(struct cart_msg *m, const char *data, size_t len, const char *tag)
{
	struct jp_str k, v, type = { 0 }, audio = { 0 }, ctx = { 0 };
	char id[CTX_ID_MAX];
	struct jp s;

	jp_init(&s, data, len);
	if (!jp_eat(&s, '{'))
		return 0;
	if (!jp_eat(&s, '}')) {
		do {
			if (!jp_string(&s, &k) || !jp_eat(&s, ':'))
				return 0;
			bool ours = jp_is(k, "type") || jp_is(k, "data") || jp_is(k, "context_id");
			if (!jp_string(&s, &v)) {
				if (ours || !jp_scalar(&s))
					return 0;
			} else if (jp_is(k, "type")) {
				type = v;
			} else if (jp_is(k, "data")) {
				audio = v;
			} else if (jp_is(k, "context_id")) {
				ctx = v;
			}
		} while (jp_eat(&s, ','));
		if (!jp_eat(&s, '}'))
			return 0;
	}
	if (!jp_done(&s) || !jp_is(type, "chunk") || !audio.p || ctx.n >= sizeof(id))
		return 0;
	memcpy(id, ctx.p ? ctx.p : "", ctx.n);
	id[ctx.n] = '\0';
	m->ctx = tts_ctx_of(tag, ctx.p ? id : NULL);
	m->kind = CART_CHUNK;
	m->audio = audio.p;
	m->audio_len = audio.n;
	return 1;
}

int cart_msg_parse(struct cart_msg *m, const char *data, size_t len, const char *tag)
{
	memset(m, 0, sizeof(*m));
	return chunk_fast(m, data, len, tag) ? 0 : cart_msg_parse_full(m, data, len, tag);
}

int cart_msg_parse_full(struct cart_msg *m, const char *data, size_t len, const char *tag)
{
	json_t *j = tts_msg_object(data, len);

	memset(m, 0, sizeof(*m));
	if (!j)
		return -EBADMSG;
	m->root = j;
	m->ctx = tts_ctx_of(tag, json_string_value(json_object_get(j, "context_id")));
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!type)
		return 0;
	if (!strcmp(type, "chunk")) {
		json_t *d = json_object_get(j, "data");
		if (json_is_string(d)) {
			m->kind = CART_CHUNK;
			m->audio = json_string_value(d);
			m->audio_len = json_string_length(d);
		}
	} else if (!strcmp(type, "done")) {
		m->kind = CART_DONE;
	} else if (!strcmp(type, "timestamps")) {
		m->kind = CART_TIMESTAMPS;
	} else if (!strcmp(type, "error")) {
		const char *e = json_string_value(json_object_get(j, "error"));
		m->kind = CART_ERROR;
		m->error = e ? e : "error";
	}
	return 0;
}

void cart_msg_clear(struct cart_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

size_t cart_msg_words(const struct cart_msg *m, const char **words, double *end, size_t max)
{
	json_t *wt = json_object_get(m->root, "word_timestamps");
	json_t *w = json_object_get(wt, "words"), *e = json_object_get(wt, "end");
	size_t n = json_array_size(w);

	if (m->kind != CART_TIMESTAMPS || !n || json_array_size(e) != n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		json_t *ei = json_array_get(e, i);
		words[i] = json_string_value(json_array_get(w, i));
		if (!words[i] || !json_is_number(ei))
			return 0;
		end[i] = json_number_value(ei);
	}
	return n;
}

long cart_audio_decode(const char *b64, size_t len, uint8_t *out, size_t cap)
{
	if (cap < CART_AUDIO_CAP(len))
		return -1;
	return base64_decode(b64, len, out);
}
