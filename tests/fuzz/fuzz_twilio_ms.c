/*
 * fuzz_twilio_ms.c - what a Twilio Media Streams call does with one
 * message from the peer: worker/twilio_ms_wire.c, the real code.
 *
 * The first input byte picks the room for the decoded audio (call_twilio
 * gives 4000 bytes; small rooms test the size check); the rest is one
 * text message. A failure says why. A sid kept is letters and digits and
 * fits; a start has both sids; strings end within their buffers; a digit
 * is a DTMF key; a media payload decodes into the room, never past it,
 * to 3/4 of its unpadded length. What we send back with the sid kept
 * parses again: our media message gives the same bytes, clear the same
 * sid. The media fast path reads every message as jansson does
 * (tw_parse_full): the same answer, the same fields, the same audio.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/twilio_ms_wire.h"

#define IN_MAX 4000		/* call_twilio.c's room for one message's mu-law */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool sid_ok(const char *s, bool empty_ok)
{
	size_t n = strnlen(s, TW_SID_LEN);

	if (n == TW_SID_LEN || (!n && !empty_ok))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* Our media and clear messages with the peer's sid, read back. */
static void answer(const struct tw_msg *m, const uint8_t *audio)
{
	size_t cap = TW_MEDIA_CAP(m->audio_len);
	char *out = malloc(cap);
	uint8_t *back = malloc(m->audio_len + 1);
	struct tw_msg r;
	const char *why;

	if (!out || !back)
		abort();
	size_t n = tw_media(out, cap, m->stream_sid, audio, m->audio_len);
	if (!n || strlen(out) != n ||
	    tw_parse(out, n, &r, back, m->audio_len + 1, &why) < 0 || r.ev != TW_MEDIA ||
	    strcmp(r.stream_sid, m->stream_sid) || r.audio_len != m->audio_len ||
	    memcmp(back, audio, m->audio_len))
		abort();
	n = tw_clear(out, cap, m->stream_sid);
	if (!n || tw_parse(out, n, &r, back, 1, &why) < 0 || r.ev != TW_OTHER ||
	    strcmp(r.stream_sid, m->stream_sid))
		abort();
	free(out);
	free(back);
}

static bool vars_same(json_t *a, json_t *b)
{
	return a ? b && json_equal(a, b) : !b;
}

/* tw_parse's answer is tw_parse_full's. */
static void same_as_full(const char *json, size_t len, size_t cap, int rc,
			 const struct tw_msg *m, const uint8_t *audio)
{
	uint8_t *a2 = malloc(cap ? cap : 1);
	const char *why = NULL;
	struct tw_msg f;

	if (!a2)
		abort();
	int rc2 = tw_parse_full(json, len, &f, a2, cap, &why);
	if (rc2 != rc)
		abort();
	if (rc == 0 && (f.ev != m->ev || strcmp(f.stream_sid, m->stream_sid) ||
			strcmp(f.call_sid, m->call_sid) || strcmp(f.did, m->did) ||
			strcmp(f.caller, m->caller) || strcmp(f.encoding, m->encoding) ||
			f.rate != m->rate || f.channels != m->channels || f.digit != m->digit ||
			strcmp(f.mark, m->mark) || f.audio_len != m->audio_len ||
			memcmp(a2, audio, m->audio_len) || !vars_same(f.vars, m->vars)))
		abort();
	json_decref(f.vars);
	free(a2);
}

static size_t unpadded(const char *json, size_t len)
{
	/* The payload as the test sees it: the peer's exact string. */
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *p = json_object_get(json_object_get(j, "media"), "payload");
	const char *s = json_string_value(p);
	size_t n = json_string_length(p);

	while (s && n && s[n - 1] == '=')
		n--;
	json_decref(j);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t rooms[] = { IN_MAX, 0, 1, 2, 3, 160, 161 };
	struct tw_msg m;
	const char *why = NULL;

	if (size < 1)
		return 0;
	size_t cap = rooms[data[0] % (sizeof(rooms) / sizeof(rooms[0]))];
	const char *json = (const char *)data + 1;
	uint8_t *audio = malloc(cap ? cap : 1);
	if (!audio)
		abort();
	int rc = tw_parse(json, size - 1, &m, audio, cap, &why);
	same_as_full(json, size - 1, cap, rc, &m, audio);
	if (rc < 0) {
		if ((rc != -EINVAL && rc != -EMSGSIZE) || !why)
			abort();
		free(audio);
		return 0;
	}
	if (!sid_ok(m.stream_sid, m.ev != TW_START) ||
	    strnlen(m.did, TW_PARAM_LEN) == TW_PARAM_LEN ||
	    strnlen(m.caller, TW_PARAM_LEN) == TW_PARAM_LEN ||
	    strnlen(m.encoding, sizeof(m.encoding)) == sizeof(m.encoding) ||
	    strnlen(m.mark, TW_SID_LEN) == TW_SID_LEN)
		abort();
	if (m.ev == TW_START && !sid_ok(m.call_sid, false))
		abort();
	if (m.ev == TW_DTMF && (!m.digit || !strchr("0123456789*#ABCD", m.digit)))
		abort();
	if (m.ev == TW_MEDIA && (m.audio_len > cap || m.audio_len != unpadded(json, size - 1) * 3 / 4))
		abort();
	if (m.ev != TW_MEDIA && m.audio_len)
		abort();
	if (m.stream_sid[0] && m.ev == TW_MEDIA)
		answer(&m, audio);
	json_decref(m.vars);	/* a start's other customParameters: the caller's */
	free(audio);
	return 0;
}
