/*
 * fuzz_tts_xi.c - what the ElevenLabs TTS client does with one message
 * from the peer and with a reply's text: worker/tts_xi_wire.c, the real
 * code.
 *
 * First byte even: the rest is one multi-stream-input server message. A
 * failed parse holds nothing; an error is never audio nor final and has
 * a code; a context number only from "<tag>-<digits>". Audio is decoded
 * as tts_elevenlabs.c does, into exactly XI_AUDIO_CAP bytes (bit 1 of the
 * first byte: mu-law), and the bytes written must be what the base64
 * length says: 3/4 of its unpadded length, twice that for mu-law, each
 * sample the table's value of the byte decoded.
 *
 * First byte odd: the rest is a reply's text, in pieces whose lengths
 * the input's own bytes give, through the chunker as tts_elevenlabs.c
 * feeds it. Every chunk fits its buffer and ends in exactly one space;
 * no word is lost or reordered; a chunk of valid UTF-8 text always makes
 * a message (a NULL one would end the reply as if memory ran out).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base64.h"
#include "../../worker/tts_xi_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char tag[] = "5e1f0a2b";

static bool has_tag(const char *id)
{
	return id && !strncmp(id, tag, sizeof(tag) - 1) && id[sizeof(tag) - 1] == '-';
}

static void audio(const struct xi_msg *m, bool ulaw)
{
	size_t cap = XI_AUDIO_CAP(m->audio_len), len = m->audio_len;
	uint8_t *out = malloc(cap ? cap : 1), *raw = malloc(len / 4 * 3 + 3);

	if (!out || !raw)
		abort();
	long n = xi_audio_decode(m->audio, m->audio_len, ulaw, out, cap);
	long r = base64_decode(m->audio, m->audio_len, raw);
	while (len && m->audio[len - 1] == '=')
		len--;
	if (n > (long)cap || (n < 0) != (r < 0))
		abort();
	if (n >= 0 && (r != (long)(len * 3 / 4) || n != r * (ulaw ? 2 : 1)))
		abort();
	for (long i = 0; ulaw && i < r; i++) {
		int16_t s = (int16_t)(out[2 * i] | out[2 * i + 1] << 8);
		if (s != xi_ulaw_linear(raw[i]))
			abort();
	}
	if (n >= 0 && !ulaw && memcmp(out, raw, (size_t)n))
		abort();
	free(out);
	free(raw);
}

static void message(const char *data, size_t size, bool ulaw)
{
	struct xi_msg m;

	if (xi_msg_parse(&m, data, size, tag) < 0) {
		if (m.root || m.audio || m.error)
			abort();
		return;
	}
	if (m.audio && (!m.audio_len || strlen(m.audio) != m.audio_len))
		abort();
	if (m.error && (m.audio || m.final || !m.code))
		abort();
	if (m.ctx && !has_tag(json_string_value(json_object_get(m.root, "contextId"))) &&
	    !has_tag(json_string_value(json_object_get(m.root, "context_id"))))
		abort();
	if (m.audio)
		audio(&m, ulaw);
	(void)xi_error_permanent(m.code);
	xi_msg_clear(&m);
}

/* Non-blank bytes of s, in order, appended to words. */
static void words_of(const char *s, size_t n, char *words, size_t *len)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			words[(*len)++] = s[i];
}

static void chunk(const char *out, size_t n, bool utf8, char *words, size_t *len)
{
	if (n < 2 || n > XI_CHUNK_MAX + 1 || out[n] || out[n - 1] != ' ' ||
	    isspace((unsigned char)out[n - 2]) || isspace((unsigned char)out[0]))
		abort();
	words_of(out, n, words, len);
	char *msg = xi_msg_text("5e1f0a2b-1", out, n, false);
	if (utf8 && !msg)
		abort();
	free(msg);
}

static void reply(const char *s, size_t size)
{
	struct xi_chunker c;
	char out[XI_CHUNK_MAX + 2];
	char *in_words = malloc(size + 1), *out_words = malloc(size + 1);
	size_t in_len = 0, out_len = 0, n;
	bool flush;
	/* jansson's own test of the text the LLM client would hand over */
	json_t *valid = json_stringn(s, size);
	bool utf8 = valid && !memchr(s, '\0', size);

	json_decref(valid);
	if (!in_words || !out_words)
		abort();
	words_of(s, size, in_words, &in_len);
	xi_chunker_reset(&c);
	for (size_t at = 0; at < size;) {
		size_t piece = (unsigned char)s[at] % 48 + 1;
		piece = piece < size - at ? piece : size - at;
		const char *p = s + at;
		at += piece;
		while (piece) {
			size_t before = c.len, took = xi_chunker_add(&c, p, piece);
			p += took;
			piece -= took;
			while ((n = xi_chunker_take(&c, false, out, &flush)))
				chunk(out, n, utf8, out_words, &out_len);
			if (!took && c.len == before)
				abort();	/* full and nothing taken: stuck */
		}
	}
	if ((n = xi_chunker_take(&c, true, out, &flush)))
		chunk(out, n, utf8, out_words, &out_len);
	if (c.len || out_len != in_len || memcmp(in_words, out_words, in_len))
		abort();
	free(in_words);
	free(out_words);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		reply((const char *)data + 1, size - 1);
	else
		message((const char *)data + 1, size - 1, data[0] & 2);
	return 0;
}
