/*
 * tts_xi_wire.c - ElevenLabs' messages, audio and reply chunks. See
 * tts_xi_wire.h.
 *
 * Why a table for mu-law: every sample of every chunk goes through it on
 * the websocket thread; 256 constants cost less than the bit arithmetic,
 * and being const they are no process state. Context ids are read by
 * tts_wire.c, as strictly as Cartesia's: an id decides whose audio
 * reaches the caller.
 */
#include "tts_xi_wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base64.h"
#include "../common/ulaw.h"
#include "tts_wire.h"

int16_t xi_ulaw_linear(uint8_t u)
{
	return ulaw_decode(u);
}

/* ---- the connection ---- */

int xi_format_for(const char *configured, int rate, struct xi_format *out)
{
	static const int pcm_rates[] = { 8000, 16000, 22050, 24000, 44100 };
	int want = 0;

	memset(out, 0, sizeof(*out));
	char name[16];

	if (!strcmp(configured, "ulaw_8000"))
		want = 8000;
	else if (!strncmp(configured, "pcm_", 4))
		want = atoi(configured + 4);
	snprintf(name, sizeof(name), "%s_%d", want == 8000 && configured[0] == 'u' ? "ulaw" :
		 "pcm", want);
	if (strcmp(name, configured) || (want != 8000 && want != 16000 && want != 22050 &&
					 want != 24000 && want != 44100))
		return -EINVAL;
	if (want == rate) {
		snprintf(out->name, sizeof(out->name), "%s", configured);
		out->rate = rate;
		out->ulaw = configured[0] == 'u';
		return 0;
	}
	for (size_t i = 0; i < sizeof(pcm_rates) / sizeof(pcm_rates[0]); i++) {
		if (pcm_rates[i] == rate) {
			snprintf(out->name, sizeof(out->name), "pcm_%d", rate);
			out->rate = rate;
			return 0;
		}
	}
	return -EINVAL;
}

int xi_url(char *out, size_t len, const char *base, const char *voice, const char *model,
	   const struct xi_format *f)
{
	size_t b = strlen(base);

	while (b && base[b - 1] == '/')
		b--;
	int n = snprintf(out, len, "%.*s/v1/text-to-speech/%s/multi-stream-input?model_id=%s"
			 "&output_format=%s&inactivity_timeout=180", (int)b, base, voice, model,
			 f->name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- what we send ---- */

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;

	json_decref(j);
	return s;
}

char *xi_msg_init(const char *ctx, const struct xi_voice *v)
{
	json_t *j = json_pack("{s:s, s:s, s:{s:f, s:f, s:f}}", "text", " ", "context_id", ctx,
			      "voice_settings", "stability", v->stability, "similarity_boost",
			      v->similarity_boost, "speed", v->speed);

	if (j && v->schedule[0])
		json_object_set_new(j, "generation_config", json_pack("{s:[i, i, i, i]}",
				    "chunk_length_schedule", v->schedule[0], v->schedule[1],
				    v->schedule[2], v->schedule[3]));
	return dump(j);
}

char *xi_msg_text(const char *ctx, const char *text, size_t len, bool flush)
{
	json_t *j = json_pack("{s:s%, s:s}", "text", text, len, "context_id", ctx);

	if (j && flush)
		json_object_set_new(j, "flush", json_true());
	return dump(j);
}

char *xi_msg_close(const char *ctx)
{
	return dump(json_pack("{s:s, s:b}", "context_id", ctx, "close_context", 1));
}

/* ---- what ElevenLabs sends ---- */

int xi_msg_parse(struct xi_msg *m, const char *data, size_t len, const char *tag)
{
	json_t *j = tts_msg_object(data, len);

	memset(m, 0, sizeof(*m));
	if (!j)
		return -EBADMSG;
	m->root = j;
	const char *id = json_string_value(json_object_get(j, "contextId"));
	m->ctx = tts_ctx_of(tag, id ? id : json_string_value(json_object_get(j, "context_id")));
	json_t *a = json_object_get(j, "audio");
	if (json_is_string(a) && json_string_length(a)) {
		m->audio = json_string_value(a);
		m->audio_len = json_string_length(a);
	}
	m->final = json_is_true(json_object_get(j, "isFinal")) ||
		   json_is_true(json_object_get(j, "is_final"));
	const char *e = json_string_value(json_object_get(j, "message"));
	const char *code = json_string_value(json_object_get(j, "error"));
	if (!m->audio && !m->final && (e || code)) {
		m->error = e ? e : code;
		m->code = code ? code : "";
	}
	return 0;
}

bool xi_error_permanent(const char *code)
{
	static const char *const permanent[] = {
		"invalid_api_key", "unauthorized", "quota_exceeded", "payment_required",
		"detected_unusual_activity", "voice_not_found", "model_not_found",
	};

	for (size_t i = 0; code && i < sizeof(permanent) / sizeof(permanent[0]); i++)
		if (!strcmp(code, permanent[i]))
			return true;
	return false;
}

void xi_msg_clear(struct xi_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

long xi_audio_decode(const char *b64, size_t len, bool ulaw, uint8_t *out, size_t cap)
{
	if (cap < XI_AUDIO_CAP(len))
		return -1;
	long n = base64_decode(b64, len, out);
	if (n <= 0 || !ulaw)
		return n;
	/* In place, from the end: sample i lands on bytes 2i and 2i+1, never
	 * on a mu-law byte not yet read. */
	for (long i = n - 1; i >= 0; i--) {
		uint16_t s = (uint16_t)ulaw_decode(out[i]);
		out[2 * i] = (uint8_t)(s & 0xff);
		out[2 * i + 1] = (uint8_t)(s >> 8);
	}
	return n * 2;
}

/* ---- the chunks of one reply ---- */

void xi_chunker_reset(struct xi_chunker *c)
{
	c->len = 0;
	c->started = false;
}

size_t xi_chunker_add(struct xi_chunker *c, const char *text, size_t len)
{
	size_t room = XI_CHUNK_MAX - c->len;
	size_t n = len < room ? len : room;

	memcpy(c->text + c->len, text, n);
	c->len += n;
	return n;
}

/*
 * Where a full run with no space is cut: before a UTF-8 character that is
 * not whole yet, not inside it (either half alone is not text JSON may
 * carry, and a reply in Japanese or Chinese has no spaces to cut at).
 */
static size_t char_end(const struct xi_chunker *c)
{
	size_t i = c->len;

	while (i > 1 && c->len - i < 3 && ((unsigned char)c->text[i - 1] & 0xc0) == 0x80)
		i--;
	unsigned char lead = (unsigned char)c->text[i - 1];
	size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;

	return i > 1 && i - 1 + need > c->len ? i - 1 : c->len;
}

/*
 * Where the chunk due now ends (0: none); *clause: it ends at a clause.
 * The first chunk ends as early as it may (its first clause, or the
 * fourth word), later ones take every whole clause there is.
 */
static size_t cut_at(const struct xi_chunker *c, bool *clause_end)
{
	size_t clause = 0, first = 0, space = 0, words = 0, nth_word = 0;

	for (size_t i = 0; i < c->len; i++) {
		char ch = c->text[i], prev = i ? c->text[i - 1] : ' ';
		if (!isspace((unsigned char)ch))
			continue;
		space = i + 1;
		words += !isspace((unsigned char)prev);
		if (words == XI_FIRST_WORDS && !nth_word)
			nth_word = i + 1;
		if (ch == '\n' || strchr(".!?,;:", prev)) {
			clause = i + 1;
			first = first ? first : i + 1;
		}
	}
	*clause_end = true;
	if (!c->started && (first || nth_word))
		return first && (!nth_word || first <= nth_word) ? first : nth_word;
	if (clause)
		return clause;
	*clause_end = false;
	if (c->len == XI_CHUNK_MAX)	/* a run without a clause: not held for ever */
		return space ? space : char_end(c);
	return 0;
}

size_t xi_chunker_take(struct xi_chunker *c, bool end, char *out, bool *flush)
{
	bool clause = false;
	size_t cut = end ? c->len : cut_at(c, &clause);
	size_t a = 0, b = cut;

	*flush = false;
	out[0] = '\0';
	if (!cut)
		return 0;
	while (a < b && isspace((unsigned char)c->text[a]))
		a++;
	while (b > a && isspace((unsigned char)c->text[b - 1]))
		b--;
	memcpy(out, c->text + a, b - a);
	memmove(c->text, c->text + cut, c->len - cut);
	c->len -= cut;
	if (a == b)
		return 0;	/* only blanks: nothing to say */
	out[b - a] = ' ';
	out[b - a + 1] = '\0';
	*flush = clause || end;
	c->started = true;
	return b - a + 1;
}
