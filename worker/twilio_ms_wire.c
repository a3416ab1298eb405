/*
 * twilio_ms_wire.c - Twilio Media Streams JSON. See twilio_ms_wire.h.
 *
 * Inbound through jansson, but for the message that comes every 20 ms per
 * call: a media message in the form Twilio writes is read in place
 * (media_fast), as jansson's tree for it was a tenth of a Twilio call's
 * CPU. The outbound media message is built by hand around base64_encode(),
 * since its payload is the bulk of what a call sends.
 */
#include "twilio_ms_wire.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../common/base64.h"
#include "json_plain.h"

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* A sid goes back into our messages unescaped: letters and digits only. */
static int copy_sid_n(char *dst, const char *src, size_t n)
{
	if (n == 0 || n >= TW_SID_LEN)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((src[i] >= 'A' && src[i] <= 'Z') || (src[i] >= 'a' && src[i] <= 'z') ||
		      (src[i] >= '0' && src[i] <= '9')))
			return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int copy_sid(char *dst, const char *src)
{
	return copy_sid_n(dst, src, strlen(src));
}

static void copy_param(char *dst, json_t *params, const char *key)
{
	snprintf(dst, TW_PARAM_LEN, "%s", str(params, key));
}

static bool var_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > TW_VAR_NAME_MAX || !strcmp(s, "did") || !strcmp(s, "caller"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/*
 * The other customParameters: an outbound call's variables. What does not
 * look like one (a name outside [A-Za-z0-9_], a value that is not a short
 * string, past TW_VARS_MAX) is left out; NULL when none is left.
 */
static json_t *other_params(json_t *params)
{
	json_t *out = NULL, *v;
	const char *k;
	size_t n = 0;

	json_object_foreach(params, k, v) {
		if (n == TW_VARS_MAX || !var_name_ok(k) || !json_is_string(v) ||
		    json_string_length(v) > TW_VAR_VALUE_MAX)
			continue;
		if (!out && !(out = json_object()))
			return NULL;
		json_object_set(out, k, v);
		n++;
	}
	return out;
}

static int parse_start(json_t *root, struct tw_msg *m, const char **why)
{
	json_t *st = json_object_get(root, "start");
	json_t *fmt = json_object_get(st, "mediaFormat");
	json_t *params = json_object_get(st, "customParameters");

	if (!json_is_object(st) || copy_sid(m->call_sid, str(st, "callSid")) < 0) {
		*why = "start without a valid callSid";
		return -EINVAL;
	}
	if (!m->stream_sid[0] && copy_sid(m->stream_sid, str(st, "streamSid")) < 0) {
		*why = "start without a valid streamSid";
		return -EINVAL;
	}
	copy_param(m->did, params, "did");
	copy_param(m->caller, params, "caller");
	snprintf(m->encoding, sizeof(m->encoding), "%s", str(fmt, "encoding"));
	m->rate = (int)json_integer_value(json_object_get(fmt, "sampleRate"));
	m->channels = (int)json_integer_value(json_object_get(fmt, "channels"));
	m->vars = other_params(params);
	return 0;
}

/* A media payload (len bytes of base64) into audio. */
static int decode_payload(struct tw_msg *m, const char *b64, size_t len, uint8_t *audio,
			  size_t cap, const char **why)
{
	while (len && b64[len - 1] == '=')
		len--;			/* padding decodes to nothing */
	if (len * 3 / 4 > cap) {
		*why = "media payload too large";
		return -EMSGSIZE;
	}
	long n = base64_decode(b64, len, audio);
	if (n < 0) {
		*why = "media payload is not base64";
		return -EINVAL;
	}
	m->audio_len = (size_t)n;
	return 0;
}

static int parse_media(json_t *root, struct tw_msg *m, uint8_t *audio, size_t cap,
		       const char **why)
{
	json_t *media = json_object_get(root, "media");
	json_t *payload = json_object_get(media, "payload");
	const char *b64 = json_string_value(payload);
	const char *track = str(media, "track");

	if (!b64) {
		*why = "media without a payload";
		return -EINVAL;
	}
	if (track[0] && strcmp(track, "inbound")) {
		m->ev = TW_OTHER;	/* only the caller's track is ours */
		return 0;
	}
	return decode_payload(m, b64, json_string_length(payload), audio, cap, why);
}

static int parse_dtmf(json_t *root, struct tw_msg *m, const char **why)
{
	const char *d = str(json_object_get(root, "dtmf"), "digit");

	if (strlen(d) != 1 || !strchr("0123456789*#ABCD", d[0])) {
		*why = "dtmf without a valid digit";
		return -EINVAL;
	}
	m->digit = d[0];
	return 0;
}

static enum tw_event event_kind(const char *e)
{
	static const struct { const char *name; enum tw_event ev; } kinds[] = {
		{ "connected", TW_CONNECTED }, { "start", TW_START }, { "media", TW_MEDIA },
		{ "dtmf", TW_DTMF }, { "mark", TW_MARK }, { "stop", TW_STOP },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(e, kinds[i].name))
			return kinds[i].ev;
	return TW_OTHER;
}

/* ---- the media message in place ---- */

/*
 * The form Twilio writes a media message in: one object of the strings
 * event, sequenceNumber and streamSid and the object media (strings
 * track, chunk, timestamp and payload), each plain (json_plain.h), no key
 * twice, nothing else. What is not in this form goes to jansson.
 */
static const char *const top_keys[] = { "event", "sequenceNumber", "streamSid", "media" };
static const char *const media_keys[] = { "track", "chunk", "timestamp", "payload" };
enum { K_EVENT, K_SEQ, K_SID, K_MEDIA, NKEYS };
enum { M_TRACK, M_CHUNK, M_TS, M_PAYLOAD };

/*
 * The members of an object whose '{' was read, each a plain string under
 * one of keys (NKEYS of them), into vals; the one under keys[nested] an
 * object of the same form, into nvals. false: not that form.
 */
static bool members(struct jp *s, const char *const *keys, int nested,
		    const char *const *nkeys, struct jp_str *vals, struct jp_str *nvals)
{
	unsigned seen = 0;
	struct jp_str k;
	int i;

	if (jp_eat(s, '}'))
		return true;
	do {
		if (!jp_string(s, &k) || !jp_eat(s, ':'))
			return false;
		for (i = 0; i < NKEYS && !jp_is(k, keys[i]); i++)
			;
		if (i == NKEYS || (seen & 1u << i))
			return false;
		seen |= 1u << i;
		if (i == nested ? !jp_eat(s, '{') || !members(s, nkeys, -1, NULL, nvals, NULL) :
				  !jp_string(s, &vals[i]))
			return false;
	} while (jp_eat(s, ','));
	return jp_eat(s, '}');
}

/* 1: json is a media message of the caller's track, read into m (*rc: 0 or
 * -errno, its payload's); 0: not in the form, m untouched. */
static int media_fast(const char *json, size_t len, struct tw_msg *m, uint8_t *audio,
		      size_t cap, const char **why, int *rc)
{
	struct jp_str top[NKEYS] = { { 0 } }, media[NKEYS] = { { 0 } };
	struct jp s;

	jp_init(&s, json, len);
	if (!jp_eat(&s, '{') || !members(&s, top_keys, K_MEDIA, media_keys, top, media) ||
	    !jp_done(&s) || !jp_is(top[K_EVENT], "media") || !media[M_PAYLOAD].p ||
	    (media[M_TRACK].p && !jp_is(media[M_TRACK], "inbound")) || !top[K_SID].p ||
	    copy_sid_n(m->stream_sid, top[K_SID].p, top[K_SID].n) < 0)
		return 0;	/* copy_sid_n wrote nothing */
	m->ev = TW_MEDIA;
	*rc = decode_payload(m, media[M_PAYLOAD].p, media[M_PAYLOAD].n, audio, cap, why);
	return 1;
}

/* ---- any message ---- */

int tw_parse(const char *json, size_t len, struct tw_msg *m, uint8_t *audio, size_t cap,
	     const char **why)
{
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (media_fast(json, len, m, audio, cap, why, &rc))
		return rc;
	return tw_parse_full(json, len, m, audio, cap, why);
}

int tw_parse_full(const char *json, size_t len, struct tw_msg *m, uint8_t *audio, size_t cap,
		  const char **why)
{
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	const char *sid;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(root)) {
		json_decref(root);
		*why = "not a JSON object";
		return -EINVAL;
	}
	m->ev = event_kind(str(root, "event"));
	sid = str(root, "streamSid");
	if (sid[0] && copy_sid(m->stream_sid, sid) < 0) {
		*why = "streamSid is not letters and digits";
		rc = -EINVAL;
	} else if (m->ev == TW_START) {
		rc = parse_start(root, m, why);
	} else if (m->ev == TW_MEDIA) {
		rc = parse_media(root, m, audio, cap, why);
	} else if (m->ev == TW_DTMF) {
		rc = parse_dtmf(root, m, why);
	} else if (m->ev == TW_MARK) {
		snprintf(m->mark, sizeof(m->mark), "%s", str(json_object_get(root, "mark"), "name"));
	}
	json_decref(root);
	if (rc < 0) {
		json_decref(m->vars);
		m->vars = NULL;
	}
	return rc;
}

size_t tw_media(char *out, size_t cap, const char *stream_sid, const uint8_t *ulaw, size_t n)
{
	static const char tail[] = "\"}}";
	int head = snprintf(out, cap, "{\"event\":\"media\",\"streamSid\":\"%s\","
			    "\"media\":{\"payload\":\"", stream_sid);
	size_t b64 = 4 * ((n + 2) / 3);

	if (head < 0 || (size_t)head + b64 + sizeof(tail) > cap)
		return 0;
	base64_encode(ulaw, n, out + head);
	memcpy(out + head + b64, tail, sizeof(tail));
	return (size_t)head + b64 + sizeof(tail) - 1;
}

static size_t fit(int n, size_t cap)
{
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t tw_mark(char *out, size_t cap, const char *stream_sid, const char *name)
{
	return fit(snprintf(out, cap, "{\"event\":\"mark\",\"streamSid\":\"%s\","
			    "\"mark\":{\"name\":\"%s\"}}", stream_sid, name), cap);
}

size_t tw_clear(char *out, size_t cap, const char *stream_sid)
{
	return fit(snprintf(out, cap, "{\"event\":\"clear\",\"streamSid\":\"%s\"}", stream_sid),
		   cap);
}
